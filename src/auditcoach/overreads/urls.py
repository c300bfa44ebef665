"""Routes of the overread screens, under `o/<org_slug>/overreads/`."""

from django.urls import path

from auditcoach.overreads import views

app_name = "overreads"

urlpatterns = [
    path("", views.queue, name="queue"),
    path("plans/", views.plan_list, name="plans"),
    path("plans/new/", views.plan_create, name="plan_create"),
    path("plans/<uuid:plan_id>/apply/", views.plan_apply, name="plan_apply"),
    path("consistency/", views.consistency_view, name="consistency"),
    path("calibration/", views.calibration_list, name="calibration"),
    path("calibration/new/", views.calibration_create, name="calibration_create"),
    path("calibration/<uuid:set_id>/", views.calibration_detail, name="calibration_detail"),
    path("<uuid:overread_id>/", views.review, name="review"),
    path("<uuid:overread_id>/lines/add/", views.line_add, name="line_add"),
    path("<uuid:overread_id>/lines/<str:group>/<int:seq>/", views.line_change, name="line_change"),
    path(
        "<uuid:overread_id>/lines/<str:group>/<int:seq>/remove/",
        views.line_remove,
        name="line_remove",
    ),
    path("<uuid:overread_id>/lines/<str:group>/<int:seq>/top/", views.line_top, name="line_top"),
    path("<uuid:overread_id>/done/", views.complete, name="complete"),
]
