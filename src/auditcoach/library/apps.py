from django.apps import AppConfig


class LibraryConfig(AppConfig):
    name = "auditcoach.library"
    label = "library"
    verbose_name = "Reference library"
