"""Signing in and out, the two-factor step, your account page, passwords and two-factor.

Sign-in is one step (password) for a user without an authenticator and two for a user with
one: the password is checked behind the throttle, then the user is kept in the session as
*pending* (not signed in) until a code from the app or a recovery code checks, behind the
same throttle. See docs/signin.md.
"""

import time
from base64 import b32encode
from typing import Any, cast
from urllib.parse import quote

import segno
from django.conf import settings
from django.contrib import messages
from django.contrib.auth import login as auth_login
from django.contrib.auth import logout as auth_logout
from django.contrib.auth import update_session_auth_hash
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.db import transaction
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.http.response import HttpResponseBase
from django.shortcuts import redirect, render
from django.urls import reverse, reverse_lazy
from django.utils.decorators import method_decorator
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_POST, require_safe
from django_otp import DEVICE_ID_SESSION_KEY
from django_otp import login as otp_login
from django_otp.models import Device
from django_otp.plugins.otp_static.models import StaticDevice
from django_otp.plugins.otp_totp.models import TOTPDevice

from auditcoach.accounts import selectors, services, throttle
from auditcoach.accounts.forms import (
    REFUSED_MESSAGE,
    PasswordChangeForm,
    PasswordConfirmForm,
    PasswordResetForm,
    SetPasswordForm,
    SignInCodeForm,
    SignInForm,
    TwoFactorConfirmForm,
)
from auditcoach.accounts.models import LoginAttempt, User

PENDING_SESSION_KEY = "signin_pending"
RECOVERY_CODES_SESSION_KEY = "recovery_codes_once"
PENDING_MAX_SECONDS = 5 * 60  # the code must follow the password within five minutes
CODE_TRIES_PER_PASSWORD = 5  # then the password again (which the throttle counts too)


def _safe_next(request: HttpRequest, candidate: str | None, default: str = "") -> str:
    if candidate and url_has_allowed_host_and_scheme(
        candidate, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return candidate
    return default or reverse(settings.LOGIN_REDIRECT_URL)


def _refused(
    request: HttpRequest, template: str, context: dict[str, Any], retry_after: int
) -> HttpResponse:
    response = render(request, template, context, status=429)
    response["Retry-After"] = str(retry_after)
    return response


def _signed_in(
    request: HttpRequest, user: User, *, next_url: str, method: str, backend: str | None = None
) -> HttpResponse:
    """Finish a full sign-in: the session, the log entry and the known-device cookie."""
    throttle.failures_clear(user.get_username())
    if backend is not None:
        auth_login(request, user, backend=backend)
    else:
        auth_login(request, user)
    services.login_record(user=user, request=request, method=method)
    response = HttpResponseRedirect(next_url)
    throttle.known_device_remember(request, response, user.get_username())
    return response


@method_decorator(never_cache, name="dispatch")
class SignInView(auth_views.LoginView):
    """Django's login view with the throttled form; a refused attempt is HTTP 429."""

    template_name = "accounts/login.html"
    authentication_form = SignInForm
    redirect_authenticated_user = True

    def form_valid(self, form: Any) -> HttpResponse:
        assert isinstance(form, SignInForm)
        assert form.decision is not None
        user = form.get_user()
        next_url = self.get_success_url()
        if selectors.two_factor_device(user=user) is not None:
            throttle.attempt_finish(form.decision, LoginAttempt.Outcome.PASSED)
            self.request.session.cycle_key()
            self.request.session[PENDING_SESSION_KEY] = {
                "user": user.pk,
                "backend": user.backend,  # set by authenticate()
                "at": int(time.time()),
                "next": next_url,
                "tries": 0,
            }
            return redirect("accounts:login_code")
        throttle.attempt_finish(form.decision, LoginAttempt.Outcome.SUCCEEDED)
        return _signed_in(self.request, user, next_url=next_url, method="password")

    def form_invalid(self, form: Any) -> HttpResponse:
        response = super().form_invalid(form)
        if isinstance(form, SignInForm) and form.is_rate_limited and form.decision is not None:
            response.status_code = 429
            response["Retry-After"] = str(form.decision.retry_after)
        return response


login_view = SignInView.as_view()


def _pending_user(request: HttpRequest) -> tuple[User | None, dict[str, Any] | None]:
    pending = request.session.get(PENDING_SESSION_KEY)
    if not isinstance(pending, dict):
        return None, None
    if time.time() - float(pending.get("at", 0)) > PENDING_MAX_SECONDS:
        del request.session[PENDING_SESSION_KEY]
        messages.info(request, "That took too long: sign in again.")
        return None, None
    user_id = pending.get("user")
    if not isinstance(user_id, int):
        del request.session[PENDING_SESSION_KEY]
        return None, None
    user = User.objects.filter(pk=user_id, is_active=True).first()
    if user is None:
        del request.session[PENDING_SESSION_KEY]
        return None, None
    return user, pending


def _verify_code(user: User, code: str, *, recovery: bool) -> Device | None:
    """The device that accepts `code` (and spends it: a TOTP step or a recovery code is
    never accepted twice), or None. Locked rows, so two parallel uses of one recovery code
    cannot both pass."""
    model: type[Device] = StaticDevice if recovery else TOTPDevice
    with transaction.atomic():
        for device in model.objects.filter(user=user, confirmed=True).select_for_update():
            if device.verify_token(code):
                return device
    return None


@never_cache
@require_http_methods(["GET", "POST"])
def login_code(request: HttpRequest) -> HttpResponseBase:
    """The second step of signing in (or of reaching an organization that requires it)."""
    step_up = request.user.is_authenticated
    if step_up:
        user = cast(User, request.user)
        if getattr(user, "is_verified", lambda: False)():
            return redirect(_safe_next(request, request.GET.get("next")))
        if selectors.two_factor_device(user=user) is None:
            return redirect("accounts:two_factor_setup")
        pending: dict[str, Any] = {"next": _safe_next(request, request.GET.get("next"))}
    else:
        found, found_pending = _pending_user(request)
        if found is None or found_pending is None:
            return redirect("accounts:login")
        user, pending = found, found_pending

    form = SignInCodeForm(request.POST or None)
    context = {"form": form, "step_up": step_up, "next": pending["next"]}
    if request.method != "POST" or not form.is_valid():
        return render(request, "accounts/login_code.html", context)

    username = user.get_username()
    decision = throttle.sign_in_attempt_begin(
        kind=LoginAttempt.Kind.CODE,
        username=username,
        request=request,
        known_device=throttle.is_known_device(request, username),
    )
    if not decision.allowed:
        services.login_throttled_record(
            username=username,
            reason=decision.reason,
            retry_after=decision.retry_after,
            request=request,
        )
        form.add_error(None, REFUSED_MESSAGE % {"wait": decision.wait_text})
        return _refused(request, "accounts/login_code.html", context, decision.retry_after)

    recovery = form.is_recovery_code
    device = _verify_code(user, form.cleaned_data["code"], recovery=recovery)
    if device is None:
        throttle.attempt_finish(decision, LoginAttempt.Outcome.FAILED)
        services.otp_failure_record(
            user=user, failures=throttle.failures_in_window(username), request=request
        )
        if not step_up:
            pending["tries"] = int(pending.get("tries", 0)) + 1
            if pending["tries"] >= CODE_TRIES_PER_PASSWORD:
                del request.session[PENDING_SESSION_KEY]
                messages.error(request, "Too many wrong codes. Sign in again.")
                return redirect("accounts:login")
            request.session[PENDING_SESSION_KEY] = pending
        form.add_error(
            "code", "That code is not right, or it was used already. Try the newest code."
        )
        return render(request, "accounts/login_code.html", context)

    throttle.attempt_finish(decision, LoginAttempt.Outcome.SUCCEEDED)
    method = "recovery_code" if recovery else "totp"
    if step_up:
        throttle.failures_clear(username)
        otp_login(request, device)
        services.login_record(user=user, request=request, method=method, action="auth.otp_verify")
        response: HttpResponse = HttpResponseRedirect(pending["next"])
        throttle.known_device_remember(request, response, username)
    else:
        del request.session[PENDING_SESSION_KEY]
        response = _signed_in(
            request, user, next_url=pending["next"], method=method, backend=pending["backend"]
        )
        otp_login(request, device)
    if recovery:
        left = selectors.recovery_codes_left(user=user)
        messages.warning(
            request,
            f"You used a recovery code; {left} left. "
            "Make new ones on your account page if you are running short.",
        )
    return response


@require_POST
def logout_view(request: HttpRequest) -> HttpResponseBase:
    user = request.user
    if isinstance(user, User):
        services.logout_record(user=user, request=request)
    auth_logout(request)
    messages.info(request, "You have signed out.")
    return redirect("accounts:login")


# --- Your account ------------------------------------------------------------------------


@never_cache
@require_safe
@login_required
def account(request: HttpRequest) -> HttpResponse:
    user = cast(User, request.user)
    context = {
        "memberships": list(selectors.memberships_for_user(user=user)),
        "device": selectors.two_factor_device(user=user),
        "recovery_left": selectors.recovery_codes_left(user=user),
        "required_by": selectors.two_factor_required_by(user=user),
    }
    return render(request, "accounts/account.html", context)


@method_decorator(never_cache, name="dispatch")
class PasswordChangeView(auth_views.PasswordChangeView):
    """Django's view and form (old password, the validators); the write is a service."""

    form_class = PasswordChangeForm
    template_name = "accounts/password_change.html"
    success_url = reverse_lazy("accounts:password_change_done")

    def form_valid(self, form: Any) -> HttpResponse:
        user = form.user
        services.password_set(
            user=user,
            password=form.cleaned_data["new_password1"],
            action="auth.password_change",
            request=self.request,
        )
        # This session stays signed in (and verified); the user's other sessions end.
        update_session_auth_hash(self.request, user)
        return HttpResponseRedirect(self.get_success_url())


class PasswordChangeDoneView(auth_views.PasswordChangeDoneView):
    template_name = "accounts/password_change_done.html"


# --- Password reset by e-mail ------------------------------------------------------------


class PasswordResetView(auth_views.PasswordResetView):
    """Asks for an address; the same answer whether or not an account has it."""

    form_class = PasswordResetForm
    template_name = "registration/password_reset_form.html"
    success_url = reverse_lazy("accounts:password_reset_done")

    def form_valid(self, form: Any) -> HttpResponse:
        email: str = form.cleaned_data["email"]
        decision = throttle.reset_attempt_begin(email=email, request=self.request)
        if not decision.allowed and decision.reason == "address":
            services.password_reset_request_record(
                email=email, accounts=0, sent=False, request=self.request
            )
            form.add_error(
                None,
                f"Too many reset requests from this network. Wait {decision.wait_text} "
                "and try again.",
            )
            response = self.render_to_response(self.get_context_data(form=form))
            response.status_code = 429
            response["Retry-After"] = str(decision.retry_after)
            return response
        accounts = 0
        if decision.allowed:
            accounts = form.send(request=self.request)
            throttle.attempt_finish(decision, LoginAttempt.Outcome.SENT)
        # Refused for this address (it had its e-mails this hour): the same page as any
        # other request, so nobody learns which addresses have accounts.
        services.password_reset_request_record(
            email=email, accounts=accounts, sent=accounts > 0, request=self.request
        )
        return HttpResponseRedirect(self.get_success_url())


class PasswordResetDoneView(auth_views.PasswordResetDoneView):
    template_name = "registration/password_reset_done.html"
    extra_context = {"reset_minutes": settings.PASSWORD_RESET_TIMEOUT // 60}


class PasswordResetConfirmView(auth_views.PasswordResetConfirmView):
    """The link from the e-mail: works once (the token depends on the password hash) and
    for PASSWORD_RESET_TIMEOUT seconds. Ends on the login page, never signed in: on a
    shared workstation the next person must not find the account open."""

    form_class = SetPasswordForm
    template_name = "registration/password_reset_confirm.html"
    success_url = reverse_lazy("accounts:login")

    def form_valid(self, form: Any) -> HttpResponse:
        user = form.user
        services.password_set(
            user=user,
            password=form.cleaned_data["new_password1"],
            action="auth.password_reset",
            request=self.request,
        )
        auth_logout(self.request)  # whoever was signed in on this browser, and the token
        messages.success(
            self.request, "Your password has been changed. Sign in with your new password."
        )
        return HttpResponseRedirect(self.get_success_url())


# --- Two-factor sign-in ------------------------------------------------------------------


def _key_text(device: TOTPDevice) -> str:
    key = b32encode(device.bin_key).decode().rstrip("=")
    return " ".join(key[i : i + 4] for i in range(0, len(key), 4))


@never_cache
@require_http_methods(["GET", "POST"])
@login_required
def two_factor_setup(request: HttpRequest) -> HttpResponseBase:
    """Enrolment: a QR code and the key as text, then the app's first code to confirm."""
    user = cast(User, request.user)
    next_url = _safe_next(
        request,
        request.POST.get("next") or request.GET.get("next"),
        default=reverse("accounts:account"),
    )
    replace = (request.POST.get("replace") or request.GET.get("replace")) == "1"
    # Moving to a new phone: only from a session that passed a code, and the old
    # authenticator keeps working until the new one is confirmed.
    verified = getattr(user, "is_verified", lambda: False)()
    if selectors.two_factor_device(user=user) is not None and not (replace and verified):
        messages.info(request, "Two-factor sign-in is already on for your account.")
        return redirect("accounts:account")
    device = services.two_factor_setup_begin(user=user, request=request)
    form = TwoFactorConfirmForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        if device.verify_token(form.cleaned_data["code"]):
            codes = services.two_factor_enable(user=user, device=device, request=request)
            otp_login(request, device)
            request.session[RECOVERY_CODES_SESSION_KEY] = {"codes": codes, "next": next_url}
            messages.success(request, "Two-factor sign-in is on.")
            return redirect("accounts:recovery_codes")
        form.add_error(
            "code",
            "That code does not match. Check the phone's clock is set automatically and "
            "enter the newest code.",
        )
    qr = segno.make(device.config_url, error="m")
    context = {
        "form": form,
        "qr_data_uri": qr.svg_data_uri(scale=5, border=2, dark="#111827"),
        "key_text": _key_text(device),
        "next": next_url,
        "replace": replace,
    }
    return render(request, "accounts/two_factor_setup.html", context)


@never_cache
@require_safe
@login_required
def recovery_codes(request: HttpRequest) -> HttpResponseBase:
    """The new recovery codes, shown once (taken out of the session as they are shown)."""
    shown = request.session.pop(RECOVERY_CODES_SESSION_KEY, None)
    if not isinstance(shown, dict) or not shown.get("codes"):
        messages.info(
            request,
            "Recovery codes are shown only once, when they are made. Make new ones if you "
            "need them.",
        )
        return redirect("accounts:account")
    codes: list[str] = shown["codes"]
    user = cast(User, request.user)
    text = (
        f"AuditCoach recovery codes for {user.get_username()}\n"
        "Each code signs you in once when you do not have your authenticator app.\n\n"
        + "\n".join(codes)
        + "\n"
    )
    context = {
        "codes": codes,
        "download_href": "data:text/plain;charset=utf-8," + quote(text),
        "next": shown.get("next") or reverse("accounts:account"),
    }
    return render(request, "accounts/recovery_codes.html", context)


@never_cache
@require_http_methods(["GET", "POST"])
@login_required
def recovery_codes_new(request: HttpRequest) -> HttpResponseBase:
    """New recovery codes, after the password; the old ones stop working."""
    user = cast(User, request.user)
    if selectors.two_factor_device(user=user) is None:
        messages.info(request, "Turn on two-factor sign-in first.")
        return redirect("accounts:account")
    form = PasswordConfirmForm(user, request.POST or None)
    if request.method == "POST" and form.is_valid():
        codes = services.recovery_codes_regenerate(user=user, request=request)
        request.session[RECOVERY_CODES_SESSION_KEY] = {"codes": codes, "next": ""}
        return redirect("accounts:recovery_codes")
    return render(request, "accounts/recovery_codes_new.html", {"form": form})


@never_cache
@require_http_methods(["GET", "POST"])
@login_required
def two_factor_disable(request: HttpRequest) -> HttpResponseBase:
    """Turn two-factor off, after the password; refused while an organization requires it."""
    user = cast(User, request.user)
    if selectors.two_factor_device(user=user) is None:
        messages.info(request, "Two-factor sign-in is not on.")
        return redirect("accounts:account")
    required_by = selectors.two_factor_required_by(user=user)
    form = PasswordConfirmForm(user, request.POST or None)
    context = {"form": form, "required_by": required_by}
    if required_by:
        return render(
            request,
            "accounts/two_factor_disable.html",
            context,
            status=403 if request.method == "POST" else 200,
        )
    if request.method == "POST" and form.is_valid():
        services.two_factor_disable(user=user, request=request)
        request.session.pop(DEVICE_ID_SESSION_KEY, None)
        messages.success(request, "Two-factor sign-in is off. Your recovery codes no longer work.")
        return redirect("accounts:account")
    return render(request, "accounts/two_factor_disable.html", context)
