"""Writes of the organization settings screen (managers): one service, one log entry."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.db import transaction
from django.http import HttpRequest

from auditcoach.accounts.models import Organization, User
from auditcoach.auditlog import services as auditlog
from auditcoach.audits import score_settings


@transaction.atomic
def organization_settings_update(
    *,
    organization: Organization,
    name: str,
    response_sla_days: int,
    scoring: dict[str, Any],
    default_base_rate: Decimal | None,
    require_manager_two_factor: bool,
    actor: User,
    request: HttpRequest | None = None,
) -> dict[str, list[Any]]:
    """Save the organization's settings; returns (and logs) what changed, old → new.

    `scoring` holds the editable score settings (headline, groups, weights). Audits keep
    the copy they were created with (`Audit.scoring_settings`): nothing here touches them.
    Saving without a change writes and logs nothing.
    """
    if not 1 <= response_sla_days <= 365:
        raise ValueError("the response SLA is 1 to 365 days")
    if default_base_rate is not None and not (
        default_base_rate.is_finite() and Decimal("0") < default_base_rate < Decimal("1e10")
    ):
        raise ValueError("the default base rate is a positive amount under $10,000,000,000")
    name = name.strip()
    if not name or len(name) > 200:
        raise ValueError("the organization needs a name of at most 200 characters")
    org = Organization.objects.select_for_update().get(pk=organization.pk)
    new_scoring = score_settings.clean(scoring)
    old_scoring = score_settings.clean(org.score_settings)
    rate = None if default_base_rate is None else default_base_rate.quantize(Decimal("0.01"))
    wanted: dict[str, Any] = {
        "name": name,
        "response_sla_days": response_sla_days,
        "default_base_rate": rate,
        "require_manager_two_factor": require_manager_two_factor,
    }
    changes: dict[str, list[Any]] = {}
    for field, value in wanted.items():
        old = getattr(org, field)
        if old != value:
            changes[field] = [_text(old), _text(value)]
            setattr(org, field, value)
    defaults = score_settings.merged({}, default_base_rate=None)
    for key in score_settings.EDITABLE:
        old = old_scoring.get(key, defaults[key])
        new = new_scoring.get(key, defaults[key])
        if old != new:
            if key == "weights":
                for kind in new:
                    if old.get(kind) != new[kind]:
                        changes[f"weights.{kind}"] = [old.get(kind), new[kind]]
            else:
                changes[f"score_settings.{key}"] = [old, new]
    if not changes:
        return changes
    org.score_settings = new_scoring
    org.save(update_fields=[*wanted, "score_settings"])
    auditlog.log_write(
        organization=org,
        actor=actor,
        action="organization.settings_update",
        obj_type="organization",
        obj_id=org.public_id,
        changes=changes,
        request=request,
    )
    organization.refresh_from_db()
    return changes


def _text(value: Any) -> Any:
    return str(value) if isinstance(value, Decimal) else value
