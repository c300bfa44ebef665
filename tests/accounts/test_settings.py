"""The organization settings screen: validation, logging, and audits keeping their copy."""

from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from auditcoach.accounts.models import Facility, Organization, User
from auditcoach.auditlog.models import AuditLogEntry
from auditcoach.audits.models import Audit, Encounter
from auditcoach.audits.services import (
    audit_import,
    encounter_recompute,
    organization_scoring_settings,
)
from auditcoach.engine.workbook import read_workbook
from tests.accounts.test_two_factor import enrol
from tests.conftest import AssertTenancy, ClientFor

pytestmark = pytest.mark.django_db

WORKED = Path(__file__).parent.parent / "fixtures" / "worked"


def url(org: Organization) -> str:
    return f"/o/{org.slug}/settings/"


def valid(**overrides: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "name": "North Health",
        "response_sla_days": "7",
        "headline": "dx_code_accuracy",
        "groups": ["DX", "PX", "LINE"],
        "default_base_rate": "",
        **{
            f"weight_{k}": "1"
            for k in (
                "added", "deleted", "revised", "resequenced", "poa_changed",
                "modifier_changed", "units_changed", "drg_changed", "disposition_changed",
            )
        },
    }  # fmt: skip
    data.update(overrides)
    return data


def test_settings_tenancy(
    org: Organization,
    manager: User,
    auditor: User,
    coder_user: User,
    educator: User,
    viewer: User,
    assert_tenancy: AssertTenancy,
) -> None:
    assert_tenancy(
        url(org),
        allowed=[manager],
        forbidden=[auditor, coder_user, educator, viewer],
        wrong_method="put",
    )
    assert_tenancy(
        url(org),
        allowed=[manager],
        forbidden=[auditor, coder_user, educator, viewer],
        method="post",
        wrong_method="delete",
        data=valid(),
    )


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("default_base_rate", "1e400"),
        ("default_base_rate", "NaN"),
        ("default_base_rate", "-5"),
        ("default_base_rate", "1e12"),
        ("default_base_rate", "Infinity"),
        ("default_base_rate", "0"),
        ("default_base_rate", "12.345"),
        ("response_sla_days", "0"),
        ("response_sla_days", "366"),
        ("response_sla_days", "9" * 40),
        ("name", ""),
        ("name", "x" * 201),
        ("headline", "made_up"),
        ("groups", []),
        ("groups", ["XX"]),
        ("weight_added", "-1"),
        ("weight_added", "11"),
        ("weight_added", "NaN"),
        ("weight_drg_changed", "1e400"),
    ],
)
def test_bad_values_are_form_errors_and_nothing_changes(
    org: Organization, manager: User, client_for: ClientFor, field: str, value: Any
) -> None:
    before = AuditLogEntry.objects.count()
    response = client_for(manager).post(url(org), valid(**{field: value}))
    assert response.status_code == 200
    assert field in response.context["form"].errors
    assert b"Nothing was saved" in response.content
    org.refresh_from_db()
    assert org.default_base_rate is None
    assert org.response_sla_days == 7
    assert org.score_settings == {}
    assert AuditLogEntry.objects.count() == before


def test_saving_logs_old_and_new_with_the_address(
    org: Organization, manager: User, client_for: ClientFor
) -> None:
    response = client_for(manager).post(
        url(org),
        valid(
            name="North Health System",
            response_sla_days="10",
            headline="pooled_code_accuracy",
            groups=["DX", "PX"],
            default_base_rate="6123.45",
            require_manager_two_factor="on",
            weight_drg_changed="3",
            weight_added="1.5",
        ),
        REMOTE_ADDR="10.1.2.3",
    )
    assert response.status_code == 302
    org.refresh_from_db()
    assert org.name == "North Health System"
    assert org.response_sla_days == 10
    assert org.default_base_rate == Decimal("6123.45")
    assert org.require_manager_two_factor is True
    assert org.score_settings["headline"] == "pooled_code_accuracy"
    assert org.score_settings["groups"] == ["DX", "PX"]
    assert org.score_settings["weights"]["DRG_CHANGED"] == "3"
    assert org.score_settings["weights"]["ADDED"] == "1.5"
    entry = AuditLogEntry.objects.get(action="organization.settings_update")
    assert entry.ip == "10.1.2.3"
    assert entry.actor == manager
    assert entry.changes["response_sla_days"] == [7, 10]
    assert entry.changes["default_base_rate"] == [None, "6123.45"]
    assert entry.changes["score_settings.headline"] == ["dx_code_accuracy", "pooled_code_accuracy"]
    assert entry.changes["score_settings.groups"] == [["DX", "PX", "LINE"], ["DX", "PX"]]
    assert entry.changes["weights.DRG_CHANGED"] == ["1", "3"]
    assert entry.changes["require_manager_two_factor"] == [False, True]
    assert "weights.REVISED" not in entry.changes

    # Two-factor is now required of managers: this one sets it up (the middleware sends
    # them to enrolment first), then the form shows what was saved, and saving it again
    # changes and logs nothing.
    client = client_for(manager)
    assert client.get(url(org)).status_code == 302
    enrol(client, manager)
    page = client.get(url(org))
    form = page.context["form"]
    assert form.initial["weight_drg_changed"] == "3"
    again = client.post(
        url(org),
        valid(
            name="North Health System",
            response_sla_days="10",
            headline="pooled_code_accuracy",
            groups=["DX", "PX"],
            default_base_rate="6123.45",
            require_manager_two_factor="on",
            weight_drg_changed="3",
            weight_added="1.50",
        ),
    )
    assert again.status_code == 302
    assert AuditLogEntry.objects.filter(action="organization.settings_update").count() == 1


def test_new_audits_copy_the_settings_and_old_ones_keep_theirs(
    org: Organization, manager: User, client_for: ClientFor
) -> None:
    old = audit_import(organization=org, workbook=read_workbook(WORKED), name="Before")
    assert old.scoring_settings == {
        "headline": "dx_code_accuracy",
        "groups": ["DX", "PX", "LINE"],
        "pooled": True,
        "interval": "wilson-95",
        "weights": dict.fromkeys(old.scoring_settings["weights"], "1"),
        "default_base_rate": None,
    }
    stored_before = dict(old.scoring_settings)
    impacts_before = dict(Encounter.objects.filter(audit=old).values_list("pk", "financial_impact"))
    client_for(manager).post(
        url(org),
        valid(
            headline="record_accuracy",
            groups=["DX"],
            weight_added="2",
            default_base_rate="9000.00",
        ),
    )
    old.refresh_from_db()
    assert old.scoring_settings == stored_before
    # Re-deriving an old audit's encounter uses the rate stored with that audit (none).
    for encounter in Encounter.objects.filter(audit=old).select_related("facility", "audit"):
        encounter_recompute(encounter=encounter)
    after = dict(Encounter.objects.filter(audit=old).values_list("pk", "financial_impact"))
    assert after == impacts_before

    org.refresh_from_db()
    new = audit_import(organization=org, workbook=read_workbook(WORKED), name="After")
    assert new.scoring_settings["headline"] == "record_accuracy"
    assert new.scoring_settings["groups"] == ["DX"]
    assert new.scoring_settings["weights"]["ADDED"] == "2"
    assert new.scoring_settings["default_base_rate"] == "9000.00"
    assert organization_scoring_settings(org) == new.scoring_settings


def test_the_default_base_rate_prices_inpatient_encounters_without_a_facility_rate(
    org: Organization,
) -> None:
    baseline = audit_import(organization=org, workbook=read_workbook(WORKED), name="National")
    org.default_base_rate = Decimal("10000.00")
    org.save(update_fields=["default_base_rate"])
    priced = audit_import(organization=org, workbook=read_workbook(WORKED), name="Org rate")
    for base, mine in zip(
        Encounter.objects.filter(audit=baseline).order_by("external_id"),
        Encounter.objects.filter(audit=priced).order_by("external_id"),
        strict=True,
    ):
        if mine.rw_delta is None:
            assert mine.financial_impact is None or mine.financial_impact == base.financial_impact
            continue
        expected = (mine.rw_delta * Decimal("10000.00")).quantize(Decimal("0.01"))
        assert abs(mine.financial_impact - expected) <= Decimal("0.01")
    # A facility's own rate still wins over the organization default.
    north = Facility.objects.get(organization=org, name="North")
    north.base_rate = Decimal("5000.00")
    north.save(update_fields=["base_rate"])
    enc = Encounter.objects.select_related("facility", "audit").get(
        audit=priced, external_id="HF-1"
    )
    encounter_recompute(encounter=enc)
    enc.refresh_from_db()
    assert enc.rw_delta is not None
    assert enc.financial_impact == (enc.rw_delta * Decimal("5000")).quantize(Decimal("0.01"))


def test_summary_shows_the_audits_own_headline_and_weighted_score(
    org: Organization, manager: User, client_for: ClientFor
) -> None:
    plain = audit_import(organization=org, workbook=read_workbook(WORKED), name="Plain")
    page = client_for(manager).get(f"/o/{org.slug}/audits/{plain.public_id}/")
    assert page.context["headline_label"] == "DX code accuracy"
    assert page.context["weighted"] is None
    assert b"weighted-errors" not in page.content

    org.score_settings = {
        "headline": "record_accuracy",
        "weights": {"ADDED": "2", "DRG_CHANGED": "3"},
    }
    org.save(update_fields=["score_settings"])
    weighted = audit_import(organization=org, workbook=read_workbook(WORKED), name="Weighted")
    page = client_for(manager).get(f"/o/{org.slug}/audits/{weighted.public_id}/")
    scores = page.context["scores"]
    assert page.context["headline_label"] == "Record accuracy"
    # The headline takes record accuracy's card rather than repeating it.
    assert 'class="stat-label">Record accuracy<' not in page.content.decode()
    assert 'class="stat-label">DRG accuracy<' in page.content.decode()
    cell = page.context["headline"]
    assert cell.prop == scores.record_accuracy
    assert f"n {cell.counts} · 95% CI {cell.interval}" in page.content.decode()
    assert page.context["weighted"] is not None
    assert b"weighted-errors" in page.content
    assert b"ADDED 2, DRG_CHANGED 3 (every other kind 1)" in page.content
    # The plain audit still shows what it was created with.
    page = client_for(manager).get(f"/o/{org.slug}/audits/{plain.public_id}/")
    assert page.context["headline_label"] == "DX code accuracy"
    assert Audit.objects.get(pk=plain.pk).scoring_settings["headline"] == "dx_code_accuracy"


def test_legacy_code_accuracy_headline_reads_as_dx(
    org: Organization, manager: User, client_for: ClientFor
) -> None:
    audit = audit_import(organization=org, workbook=read_workbook(WORKED), name="Legacy")
    audit.scoring_settings = {
        "headline": "code_accuracy",
        "groups": ["DX", "PX", "LINE"],
        "pooled": True,
        "interval": "wilson-95",
    }
    audit.save(update_fields=["scoring_settings"])
    page = client_for(manager).get(f"/o/{org.slug}/audits/{audit.public_id}/")
    assert page.context["headline_label"] == "DX code accuracy"
    assert page.context["headline"].prop == page.context["scores"].code_accuracy["DX"]
