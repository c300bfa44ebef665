from django.apps import AppConfig


class OverreadsConfig(AppConfig):
    name = "auditcoach.overreads"
    label = "overreads"
