"""Routes of a person's notifications, under `notifications/` (not organization-scoped)."""

from django.urls import path

from auditcoach.notifications import views

app_name = "notifications"

urlpatterns = [
    path("", views.notification_list, name="index"),
    path("read-all/", views.notification_read_all, name="read_all"),
    path("preferences/", views.preferences, name="preferences"),
    path("<int:notification_id>/open/", views.notification_open, name="open"),
]
