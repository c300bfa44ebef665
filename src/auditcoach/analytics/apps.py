from django.apps import AppConfig


class AnalyticsConfig(AppConfig):
    name = "auditcoach.analytics"
    verbose_name = "Analytics"
