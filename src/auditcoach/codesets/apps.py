from django.apps import AppConfig


class CodesetsConfig(AppConfig):
    name = "auditcoach.codesets"
    label = "codesets"
