"""Routes of the education screens, under `o/<org_slug>/education/`."""

from django.urls import path

from auditcoach.education import views

app_name = "education"

urlpatterns = [
    path("", views.assignment_list, name="index"),
    path("assign/", views.assign, name="assign"),
    path("followups/", views.followup_list, name="followups"),
    path("followups/<uuid:followup_id>/", views.followup_detail, name="followup"),
    path("followups/<uuid:followup_id>/select/", views.followup_reselect, name="followup_select"),
    path("<uuid:assignment_id>/", views.assignment_detail, name="detail"),
    path("<uuid:assignment_id>/complete/", views.assignment_complete, name="complete"),
    path("<uuid:assignment_id>/file/", views.assignment_file, name="file"),
    path("<uuid:assignment_id>/followup/", views.followup_schedule, name="followup_schedule"),
]
