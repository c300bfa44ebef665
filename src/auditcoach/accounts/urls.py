from django.urls import path

from auditcoach.accounts import views

app_name = "accounts"

urlpatterns = [
    path("login/", views.login_view, name="login"),
    path("logout/", views.logout_view, name="logout"),
    path("switch/", views.switch, name="switch"),
]

# Invitations (docs/people.md): outside any organization, the token is the credential.
# Imported here so that this block merges cleanly beside the sign-in routes above.
from auditcoach.accounts import views_people  # noqa: E402

urlpatterns += [
    path("invitations/<str:token>/", views_people.invitation_accept, name="invitation"),
]
