from typing import Any

from django.apps import AppConfig


def _top_up_followups(sender: Any, *, audit: Any, actor: Any = None, **kwargs: Any) -> None:
    from auditcoach.education.services import followups_top_up

    followups_top_up(audit=audit, actor=actor)


class EducationConfig(AppConfig):
    name = "auditcoach.education"
    label = "education"

    def ready(self) -> None:
        from auditcoach.audits.signals import audit_imported

        audit_imported.connect(_top_up_followups, dispatch_uid="education.top_up_followups")
