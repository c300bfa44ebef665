from django.apps import AppConfig


class EducationConfig(AppConfig):
    name = "auditcoach.education"
    label = "education"
