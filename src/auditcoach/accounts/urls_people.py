"""The organization's people: members, invitations and their links to the roster."""

from django.urls import URLPattern, path

from auditcoach.accounts import views_people as views

app_name = "people"

urlpatterns: list[URLPattern] = [
    path("", views.members, name="members"),
    path("invite/", views.invite, name="invite"),
    path(
        "invitations/<uuid:invitation_id>/revoke/",
        views.invitation_revoke,
        name="invitation_revoke",
    ),
    path("members/<str:username>/role/", views.member_role, name="role"),
    path("members/<str:username>/deactivate/", views.member_deactivate, name="deactivate"),
    path("members/<str:username>/reactivate/", views.member_reactivate, name="reactivate"),
    path("members/<str:username>/link/", views.member_link, name="link"),
    path("members/<str:username>/unlink/", views.member_unlink, name="unlink"),
]
