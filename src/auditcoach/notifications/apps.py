from django.apps import AppConfig


class NotificationsConfig(AppConfig):
    name = "auditcoach.notifications"
    label = "notifications"
