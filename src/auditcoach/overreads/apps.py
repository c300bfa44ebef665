from typing import Any

from django.apps import AppConfig


def _open_blind_review(user: Any, encounter: Any) -> str:
    """The address of `user`'s open blind review of `encounter`, or ""."""
    from django.urls import reverse

    from auditcoach.overreads.models import Overread

    overread = (
        Overread.objects.filter(
            organization_id=encounter.organization_id,
            encounter=encounter,
            reviewer_id=getattr(user, "pk", None),
            status=Overread.Status.ASSIGNED,
        )
        .only("public_id")
        .first()
    )
    if overread is None:
        return ""
    return reverse(
        "overreads:review",
        kwargs={"org_slug": encounter.organization.slug, "overread_id": overread.public_id},
    )


class OverreadsConfig(AppConfig):
    name = "auditcoach.overreads"
    label = "overreads"

    def ready(self) -> None:
        from auditcoach.audits.blinding import register

        register(_open_blind_review)
