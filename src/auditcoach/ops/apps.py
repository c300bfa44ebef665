from django.apps import AppConfig


class OpsConfig(AppConfig):
    name = "auditcoach.ops"
    verbose_name = "Operations"
