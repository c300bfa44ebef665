"""Fill `Finding.decision` for findings decided before the field existed: from the status
when it is still a decision, else from the finding's last decide event."""

from typing import Any

from django.db import migrations
from django.db.models import OuterRef, Subquery, Value
from django.db.models.functions import Coalesce

DECISIONS = ("upheld", "overturned", "modified")


def backfill(apps: Any, schema_editor: Any) -> None:
    Finding = apps.get_model("audits", "Finding")
    FindingEvent = apps.get_model("coaching", "FindingEvent")
    for decision in DECISIONS:
        Finding.objects.filter(status=decision, decision="").update(decision=decision)
    last = FindingEvent.objects.filter(
        finding=OuterRef("pk"), kind="decide", to_status__in=DECISIONS
    ).order_by("-at", "-pk")
    Finding.objects.filter(status="closed", decision="").update(
        decision=Coalesce(Subquery(last.values("to_status")[:1]), Value(""))
    )


class Migration(migrations.Migration):
    dependencies = [
        ("audits", "0007_finding_decision"),
        ("coaching", "0001_coaching_loop"),
    ]

    operations = [migrations.RunPython(backfill, migrations.RunPython.noop)]
