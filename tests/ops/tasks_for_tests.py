"""Tasks for the task-log tests (Django's tasks must live at a module's top level)."""

from django.tasks import task


@task
def succeed(number: int) -> int:
    return number * 2


@task
def fail(patient_name: str) -> None:
    raise ValueError(f"cannot handle {patient_name}")
