from django.apps import AppConfig


class CoachingConfig(AppConfig):
    name = "auditcoach.coaching"
    label = "coaching"
