"""Template helpers of the analytics pages."""

from typing import Any

from django import template

register = template.Library()


@register.filter
def label(code: str, labels: dict[str, str] | None) -> Any:
    """A taxonomy code as its label (`{{ t.topic|label:topic_labels }}`); the code itself
    when the organization has no label for it."""
    if not labels:
        return code
    return labels.get(code, code)
