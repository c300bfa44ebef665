from django.apps import AppConfig


class AuditlogConfig(AppConfig):
    name = "auditcoach.auditlog"
    label = "auditlog"
