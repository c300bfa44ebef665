"""Routes of the coaching screens, under `o/<org_slug>/coaching/`."""

from django.urls import path

from auditcoach.coaching import views

app_name = "coaching"

urlpatterns = [
    path("feedback/", views.feedback, name="feedback"),
    path("disputes/", views.disputes, name="disputes"),
    path("ageing/", views.ageing, name="ageing"),
    path("ageing/close/", views.ageing_close, name="ageing_close"),
    path("audits/<uuid:audit_id>/release/", views.audit_release, name="release"),
    path("findings/<uuid:finding_id>/", views.finding_detail, name="finding"),
    path("findings/<uuid:finding_id>/agree/", views.finding_agree, name="agree"),
    path("findings/<uuid:finding_id>/dispute/", views.finding_dispute, name="dispute"),
    path("findings/<uuid:finding_id>/decide/", views.finding_decide, name="decide"),
    path("findings/<uuid:finding_id>/escalate/", views.finding_escalate, name="escalate"),
    path("findings/<uuid:finding_id>/close/", views.finding_close, name="close"),
    path("findings/<uuid:finding_id>/comments/", views.comment_add, name="comment"),
    path("findings/<uuid:finding_id>/attachments/", views.attachment_add, name="attach"),
    path("attachments/<uuid:attachment_id>/", views.attachment_download, name="attachment"),
]
