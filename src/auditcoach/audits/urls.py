"""Routes of the audits screens, under `o/<org_slug>/` (see the project URLconf)."""

from django.urls import path

from auditcoach.audits import views

app_name = "audits"

urlpatterns = [
    path("", views.index, name="index"),
    path("audits/import/", views.audit_import_view, name="import"),
    path("audits/import/<uuid:job_id>/", views.import_job_view, name="import_job"),
    path(
        "audits/import/<uuid:job_id>/confirm/", views.import_job_confirm_view, name="import_confirm"
    ),
    path("audits/import/<uuid:job_id>/cancel/", views.import_job_cancel_view, name="import_cancel"),
    path("audits/import/<uuid:job_id>/mapping/", views.import_mapping_view, name="import_mapping"),
    path("audits/mappings/", views.mapping_list_view, name="mappings"),
    path("audits/mappings/<uuid:mapping_id>/", views.mapping_edit_view, name="mapping_edit"),
    path(
        "audits/mappings/<uuid:mapping_id>/rename/",
        views.mapping_rename_view,
        name="mapping_rename",
    ),
    path(
        "audits/mappings/<uuid:mapping_id>/delete/",
        views.mapping_delete_view,
        name="mapping_delete",
    ),
    path("audits/<uuid:audit_id>/", views.audit_detail, name="detail"),
    path("audits/<uuid:audit_id>/delete/", views.audit_delete_view, name="delete"),
    path("audits/<uuid:audit_id>/archive/", views.audit_archive_view, name="archive"),
    path("audits/<uuid:audit_id>/unarchive/", views.audit_unarchive_view, name="unarchive"),
    path("audits/<uuid:audit_id>/encounters/", views.encounter_list_view, name="encounters"),
    path("encounters/<uuid:encounter_id>/", views.encounter_workspace, name="encounter"),
    path("encounters/<uuid:encounter_id>/lines/add/", views.line_add, name="line_add"),
    path(
        "encounters/<uuid:encounter_id>/lines/<str:group>/<int:seq>/",
        views.line_change,
        name="line_change",
    ),
    path(
        "encounters/<uuid:encounter_id>/lines/<str:group>/<int:seq>/remove/",
        views.line_remove,
        name="line_remove",
    ),
    path(
        "encounters/<uuid:encounter_id>/lines/<str:group>/<int:seq>/move/",
        views.line_move,
        name="line_move",
    ),
    path(
        "encounters/<uuid:encounter_id>/disposition/",
        views.disposition_set,
        name="disposition_set",
    ),
    path(
        "encounters/<uuid:encounter_id>/review-status/",
        views.review_status_set,
        name="review_status",
    ),
    path(
        "encounters/<uuid:encounter_id>/mark-reviewed/",
        views.mark_reviewed,
        name="mark_reviewed",
    ),
    path("findings/<uuid:finding_id>/notes/", views.finding_notes, name="finding_notes"),
    path("findings/<uuid:finding_id>/em-level/", views.finding_em_level, name="finding_em_level"),
    path("em-level/preview/", views.em_level_preview, name="em_level_preview"),
]
