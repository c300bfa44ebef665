from django.apps import AppConfig


class AuditsConfig(AppConfig):
    name = "auditcoach.audits"
    label = "audits"
