"""The top bar's bell: the unread count (counted only when a page shows it) and its link."""

from typing import Any

from django.http import HttpRequest
from django.urls import NoReverseMatch, reverse

from auditcoach.notifications.selectors import unread_count


def notifications(request: HttpRequest) -> dict[str, Any]:
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    try:
        url = reverse("notifications:index")
    except NoReverseMatch:  # a stand-in URLconf (some tests) without the notification pages
        return {}
    return {"notifications_url": url, "notifications_unread": lambda: unread_count(user=user)}
