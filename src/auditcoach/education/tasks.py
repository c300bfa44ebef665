"""Background work of the education area. Tasks take ids, never objects."""

from django.tasks import task

from auditcoach.education import services


@task()
def education_overdue_remind() -> int:
    """Remind coders of overdue education (once a day each); schedule daily."""
    return services.education_overdue_remind()
