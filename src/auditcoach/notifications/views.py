"""A person's own notifications and e-mail preferences (outside any organization's URLs).

Every query is narrowed to `recipient=request.user`, so another person's notification is
a 404 whatever its id.
"""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import HttpResponse
from django.http.response import HttpResponseBase
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_http_methods, require_POST, require_safe

from auditcoach.accounts.permissions import AuthedRequest
from auditcoach.notifications import selectors, services
from auditcoach.notifications.forms import PreferencesForm
from auditcoach.notifications.models import Notification


@login_required
@require_safe
def notification_list(request: AuthedRequest) -> HttpResponse:
    unread_only = request.GET.get("unread") == "1"
    qs = selectors.notifications_for(user=request.user, unread_only=unread_only)
    page = Paginator(qs, 50).get_page(request.GET.get("page"))
    return render(
        request,
        "notifications/list.html",
        {"page": page, "unread_only": unread_only},
    )


@login_required
@require_POST
def notification_open(request: AuthedRequest, notification_id: int) -> HttpResponseBase:
    """Mark read and go to the notification's page (or back to the list)."""
    notification = get_object_or_404(Notification, pk=notification_id, recipient=request.user)
    if notification.read_at is None:
        notification.read_at = timezone.now()
        notification.save(update_fields=["read_at"])
    target = notification.url
    if (
        request.POST.get("stay")
        or not target
        or not url_has_allowed_host_and_scheme(
            target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
        )
    ):
        return redirect("notifications:index")
    return redirect(target)


@login_required
@require_POST
def notification_read_all(request: AuthedRequest) -> HttpResponseBase:
    count = services.mark_all_read(user=request.user)
    messages.success(request, f"{count} notification{'s' if count != 1 else ''} marked read.")
    return redirect("notifications:index")


@login_required
@require_http_methods(["GET", "POST"])
def preferences(request: AuthedRequest) -> HttpResponseBase:
    current = {kind: on for kind, _label, on in selectors.email_preferences(user=request.user)}
    if request.method == "POST":
        form = PreferencesForm(request.POST, current=current)
        if form.is_valid():
            services.preferences_save(user=request.user, email_kinds=form.email_kinds())
            messages.success(request, "E-mail preferences saved.")
            return redirect("notifications:preferences")
    else:
        form = PreferencesForm(current=current)
    return render(request, "notifications/preferences.html", {"form": form})
