from django.urls import path

from auditcoach.accounts import views, views_people, views_signin

app_name = "accounts"

urlpatterns = [
    path("", views_signin.account, name="account"),
    path("login/", views_signin.login_view, name="login"),
    path("login/code/", views_signin.login_code, name="login_code"),
    path("logout/", views_signin.logout_view, name="logout"),
    path("password/", views_signin.PasswordChangeView.as_view(), name="password_change"),
    path(
        "password/done/",
        views_signin.PasswordChangeDoneView.as_view(),
        name="password_change_done",
    ),
    path("password/reset/", views_signin.PasswordResetView.as_view(), name="password_reset"),
    path(
        "password/reset/sent/",
        views_signin.PasswordResetDoneView.as_view(),
        name="password_reset_done",
    ),
    path(
        "password/reset/<uidb64>/<token>/",
        views_signin.PasswordResetConfirmView.as_view(),
        name="password_reset_confirm",
    ),
    path("two-factor/", views_signin.two_factor_setup, name="two_factor_setup"),
    path("two-factor/recovery-codes/", views_signin.recovery_codes, name="recovery_codes"),
    path(
        "two-factor/recovery-codes/new/",
        views_signin.recovery_codes_new,
        name="recovery_codes_new",
    ),
    path("two-factor/remove/", views_signin.two_factor_disable, name="two_factor_disable"),
    path("switch/", views.switch, name="switch"),
    # Invitations (docs/people.md): outside any organization, the token is the credential.
    path("invitations/<str:token>/", views_people.invitation_accept, name="invitation"),
]
