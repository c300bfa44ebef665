from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "auditcoach.accounts"
    label = "accounts"
