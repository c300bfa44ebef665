"""Payer and auditor roster entries for the names the organization's encounters carry."""

from typing import Any

from django.db import migrations


def backfill(apps: Any, schema_editor: Any) -> None:
    Encounter = apps.get_model("audits", "Encounter")
    Payer = apps.get_model("accounts", "Payer")
    Auditor = apps.get_model("accounts", "Auditor")
    Membership = apps.get_model("accounts", "Membership")
    for model, column in ((Payer, "payer"), (Auditor, "auditor_name")):
        pairs = (
            Encounter.objects.exclude(**{column: ""})
            .values_list("organization_id", column)
            .distinct()
            .order_by()
        )
        existing = set(model.objects.values_list("organization_id", "name"))
        model.objects.bulk_create(
            [
                model(organization_id=org, name=name)
                for org, name in pairs
                if (org, name) not in existing
            ],
            batch_size=1000,
        )
    # An auditor entry whose name is a member's username is that member's.
    for entry in Auditor.objects.filter(user__isnull=True):
        member = (
            Membership.objects.filter(
                organization_id=entry.organization_id, user__username=entry.name
            )
            .values_list("user_id", flat=True)
            .first()
        )
        if (
            member is not None
            and not Auditor.objects.filter(
                organization_id=entry.organization_id, user_id=member
            ).exists()
        ):
            entry.user_id = member
            entry.save(update_fields=["user"])


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0002_people_settings_rosters"),
        ("audits", "0008_audit_archived_at"),
    ]

    operations = [migrations.RunPython(backfill, migrations.RunPython.noop)]
