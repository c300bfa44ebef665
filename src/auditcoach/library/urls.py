"""Routes of the library, under `o/<org_slug>/library/` (see the project URLconf)."""

from django.urls import path

from auditcoach.library import views

app_name = "library"

urlpatterns = [
    path("", views.reference_list, name="references"),
    path("references/add/", views.reference_create, name="reference_create"),
    path("references/<uuid:reference_id>/", views.reference_detail, name="reference"),
    path("references/<uuid:reference_id>/edit/", views.reference_edit, name="reference_edit"),
    path(
        "references/<uuid:reference_id>/supersede/",
        views.reference_supersede,
        name="reference_supersede",
    ),
    path("templates/", views.template_list, name="templates"),
    path("templates/add/", views.template_create, name="template_create"),
    path("templates/<uuid:template_id>/", views.template_edit, name="template_edit"),
    path("taxonomies/", views.taxonomy, name="taxonomy"),
    path("taxonomies/add/", views.taxonomy_term_create, name="term_create"),
    path("taxonomies/<uuid:term_id>/", views.taxonomy_term_update, name="term_update"),
    path(
        "findings/<uuid:finding_id>/template/",
        views.finding_template_apply,
        name="finding_template_apply",
    ),
    path("findings/<uuid:finding_id>/topic/", views.finding_topic_set, name="finding_topic"),
    path(
        "findings/<uuid:finding_id>/references/<uuid:reference_id>/remove/",
        views.finding_reference_remove,
        name="finding_reference_remove",
    ),
]
