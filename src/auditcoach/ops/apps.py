from django.apps import AppConfig


class OpsConfig(AppConfig):
    name = "auditcoach.ops"
    verbose_name = "Operations"
    label = "ops"

    def ready(self) -> None:
        from django.contrib.auth.signals import user_logged_in
        from django.tasks.signals import task_finished

        from auditcoach.ops import checks, logs, sessions

        checks.register()
        task_finished.connect(logs.task_finished_log, dispatch_uid="ops.task_finished_log")
        user_logged_in.connect(sessions.activity_stamp_on_login, dispatch_uid="ops.activity_stamp")
