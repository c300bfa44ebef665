"""The roster screen: rename, merge, retire; and merging's acceptance test."""

import json
from dataclasses import asdict
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command
from django.utils import timezone

from auditcoach.accounts.models import (
    Auditor,
    Coder,
    Facility,
    Organization,
    Payer,
    Provider,
    RosterEntry,
    ServiceLine,
    User,
)
from auditcoach.accounts.services_rosters import (
    KINDS,
    RosterError,
    references,
    roster_entry_merge,
    roster_entry_update,
)
from auditcoach.analytics import dashboard
from auditcoach.analytics.forms import FilterForm
from auditcoach.analytics.models import DashboardView
from auditcoach.analytics.selectors import MetricFilters, cycle_report
from auditcoach.auditlog.models import AuditLogEntry
from auditcoach.audits.models import Encounter
from auditcoach.audits.services import audit_import
from auditcoach.education.forms import AssignForm
from auditcoach.education.models import EducationAssignment, FollowUpReview
from auditcoach.education.services import assignments_create
from auditcoach.engine.workbook import read_workbook
from tests.accounts import rosterworld
from tests.conftest import AssertTenancy, ClientFor
from tests.factories import OrganizationFactory

pytestmark = pytest.mark.django_db


def import_rows(org: Organization, folder: Path, rows: list[rosterworld.Row], name: str) -> None:
    audit_import(
        organization=org,
        workbook=read_workbook(rosterworld.write(folder, rows)),
        name=name,
        released=True,
    )


def entry_url(org: Organization, kind: str, entry: RosterEntry, action: str) -> str:
    return f"/o/{org.slug}/settings/rosters/{kind}/{entry.public_id}/{action}/"


def metrics(capsys: pytest.CaptureFixture[str], slug: str) -> Any:
    capsys.readouterr()
    call_command("metrics", "--org", slug, "--json")
    return json.loads(capsys.readouterr().out)


def dashboard_numbers(org: Organization, filters: MetricFilters) -> str:
    """Every widget of the dashboard as data, with the organization's slug taken out."""
    ctx = dashboard.Context(organization=org, filters=filters, now=timezone.now())
    widgets = [asdict(w) for w in dashboard.build(dashboard.DEFAULT_WIDGETS, ctx)]
    return json.dumps(widgets, default=str, sort_keys=True).replace(org.slug, "ORG")


# --------------------------------------------------------------------------- acceptance


def test_merging_two_spellings_gives_the_numbers_of_one_coder(
    org: Organization, manager: User, client_for: ClientFor, tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    for i, rows in enumerate(rosterworld.HISTORY):
        import_rows(org, tmp_path / f"x{i}", rows, f"Cycle {i + 1}")
    alice = Coder.objects.get(organization=org, name="Alice Lee")
    a_lee = Coder.objects.get(organization=org, name="A. Lee")

    confirm = client_for(manager).get(
        entry_url(org, "coders", alice, "merge"), {"into": str(a_lee.public_id)}
    )
    assert confirm.status_code == 200
    assert ("encounters (and their findings, overreads and disputes)", 3) in confirm.context[
        "moves"
    ]
    assert Coder.objects.filter(pk=alice.pk).exists()  # the confirmation step changed nothing
    done = client_for(manager).post(
        entry_url(org, "coders", alice, "merge"), {"into": str(a_lee.public_id), "confirm": "1"}
    )
    assert done.status_code == 302
    assert not Coder.objects.filter(pk=alice.pk).exists()

    clean = OrganizationFactory(slug="clean-health", name="Clean Health")
    for i, rows in enumerate(rosterworld.HISTORY):
        import_rows(
            clean, tmp_path / f"y{i}", rosterworld.same_person(rows, "Alice Lee", "A. Lee"), f"C{i}"
        )

    assert metrics(capsys, org.slug) == metrics(capsys, clean.slug)
    for filters in (
        MetricFilters(),
        MetricFilters(coder="A. Lee"),
        MetricFilters(cycle_from="2026-Q2"),
    ):
        assert cycle_report(organization=org, filters=filters) == cycle_report(
            organization=clean, filters=filters
        )
        assert dashboard_numbers(org, filters) == dashboard_numbers(clean, filters)
    # The merge made repeats that two spellings hid: the test is not vacuous.
    lee = next(c for c in metrics(capsys, org.slug)["coders"] if c["coder"] == "A. Lee")
    assert sum(c["repeat_findings"] for c in lee["cycles"]) >= 2


# --------------------------------------------------------------------------- merge per kind


@pytest.mark.parametrize(
    ("kind", "merged_name", "survivor_name"),
    [
        ("facilities", "North Campus", "North"),
        ("service-lines", "Cardio", "Cardiology"),
        ("providers", "Lee, MD", "Dr Lee"),
        ("coders", "A. Lee", "Alice Lee"),
        ("auditors", "R. Patel", "Raj Patel"),
        ("payers", "MEDICARE", "Medicare"),
    ],
)
def test_merge_moves_every_reference(
    org: Organization, manager: User, client_for: ClientFor, tmp_path: Path,
    kind: str, merged_name: str, survivor_name: str,
) -> None:  # fmt: skip
    import_rows(org, tmp_path / "w", rosterworld.TWINS, "Twins")
    roster = KINDS[kind]
    model = roster.model
    merged = model._default_manager.get(organization=org, name=merged_name)
    survivor = model._default_manager.get(organization=org, name=survivor_name)
    view = DashboardView.objects.create(
        organization=org, owner=manager, name="Mine", widgets=["accuracy"],
        filters={roster.filter_key: merged_name, "setting": "outpatient"},
    )  # fmt: skip
    other_view = DashboardView.objects.create(
        organization=org, owner=manager, name="Theirs", widgets=["accuracy"],
        filters={roster.filter_key: survivor_name},
    )  # fmt: skip
    if kind == "coders":
        assignments_create(
            organization=org, coders=[merged], resource_title="POA refresher", pattern_key="ADDED:DX:E87",
            due_date=date(2026, 9, 1), followup_encounters=2,
        )  # fmt: skip
        FollowUpReview.objects.create(organization=org, coder=merged, n_encounters=3)
    if kind == "auditors":
        raj = User.objects.create(username="raj", first_name="Raj", last_name="Patel")
        survivor.user = raj  # type: ignore[attr-defined]
        survivor.save(update_fields=["user"])

    client_for(manager).post(
        entry_url(org, kind, merged, "merge"), {"into": str(survivor.public_id), "confirm": "1"}
    )

    assert not model._default_manager.filter(pk=merged.pk).exists()
    encounters = Encounter.objects.filter(organization=org)
    if roster.encounter_fk:
        assert not encounters.filter(**{f"{roster.encounter_fk}__name": merged_name}).exists()
        assert encounters.filter(**{roster.encounter_fk: survivor}).count() == 3
    else:
        assert roster.text_column
        assert not encounters.filter(**{roster.text_column: merged_name}).exists()
        assert encounters.filter(**{roster.text_column: survivor_name}).count() == 3
    if kind == "auditors":
        assert set(encounters.values_list("auditor__username", flat=True)) == {"raj"}
    if kind == "coders":
        assert EducationAssignment.objects.get().coder == survivor
        assert FollowUpReview.objects.filter(coder=survivor).count() >= 1
        assert not FollowUpReview.objects.exclude(coder=survivor).exists()
    view.refresh_from_db()
    other_view.refresh_from_db()
    assert view.filters == {roster.filter_key: survivor_name, "setting": "outpatient"}
    assert other_view.filters == {roster.filter_key: survivor_name}
    entry = AuditLogEntry.objects.get(action=f"{roster.obj_type}.merge")
    assert entry.changes["merged"] == merged_name
    assert entry.changes["survivor"] == survivor_name
    assert entry.changes["moved"]["analytics.dashboardview.filters"] == 1
    moved_encounters = entry.changes["moved"].get(
        f"audits.encounter.{roster.encounter_fk or roster.text_column}"
    )
    assert moved_encounters == 1
    assert entry.actor == manager
    assert entry.ip == "127.0.0.1"


def test_every_reference_to_a_roster_is_a_foreign_key_the_merge_follows() -> None:
    # A new model pointing at a roster is found by `references`; a many-to-many one is not
    # supported and would fail here rather than be forgotten by merges.
    for kind in KINDS.values():
        rels = {
            f"{r.related_model._meta.label_lower}.{r.field.name}" for r in references(kind.model)
        }  # type: ignore[union-attr]
        if kind.model is Coder:
            assert {
                "audits.encounter.coder",
                "education.educationassignment.coder",
                "education.followupreview.coder",
                "accounts.invitation.coder",
            } <= rels
        if kind.model is Facility:
            assert "audits.encounter.facility" in rels


def test_a_coders_login_moves_to_a_survivor_without_one(
    org: Organization, coder: Coder, manager: User, coder_user: User
) -> None:
    other = Coder.objects.create(organization=org, name="C. Coder")
    roster_entry_merge(merged=coder, survivor=other, actor=manager)
    other.refresh_from_db()
    assert other.user == coder_user
    assert AuditLogEntry.objects.get(action="coder.merge").changes["login_moved"] is True


def test_merge_into_itself_or_across_organizations_is_refused(
    org: Organization, other_org: Organization, manager: User, client_for: ClientFor
) -> None:
    mine = Payer.objects.create(organization=org, name="Medicare")
    theirs = Payer.objects.create(organization=other_org, name="Aetna")
    with pytest.raises(RosterError, match="itself"):
        roster_entry_merge(merged=mine, survivor=mine, actor=manager)
    with pytest.raises(RosterError, match="another organization"):
        roster_entry_merge(merged=mine, survivor=theirs, actor=manager)
    with pytest.raises(RosterError, match="same roster"):
        roster_entry_merge(
            merged=mine, survivor=Facility.objects.create(organization=org, name="X"), actor=manager
        )  # type: ignore[arg-type]
    # Through the screen, another organization's entry is simply not a choice.
    response = client_for(manager).post(
        entry_url(org, "payers", mine, "merge"), {"into": str(theirs.public_id), "confirm": "1"}
    )
    assert response.status_code == 200
    assert "into" in response.context["form"].errors
    assert Payer.objects.filter(pk=mine.pk).exists()
    assert Payer.objects.filter(pk=theirs.pk).exists()
    assert not AuditLogEntry.objects.filter(action="payer.merge").exists()


# --------------------------------------------------------------------------- rename


def test_rename_rewrites_the_names_kept_as_text(
    org: Organization, manager: User, client_for: ClientFor, tmp_path: Path
) -> None:
    import_rows(org, tmp_path / "w", rosterworld.TWINS, "Twins")
    payer = Payer.objects.get(organization=org, name="MEDICARE")
    view = DashboardView.objects.create(
        organization=org, owner=manager, name="V", widgets=[], filters={"payer": "MEDICARE"}
    )
    response = client_for(manager).post(
        entry_url(org, "payers", payer, "edit"), {"name": "Medicare Advantage"}
    )
    assert response.status_code == 302
    assert Encounter.objects.get(external_id="T2").payer == "Medicare Advantage"
    view.refresh_from_db()
    assert view.filters == {"payer": "Medicare Advantage"}
    entry = AuditLogEntry.objects.get(action="payer.update")
    assert entry.changes["name"] == ["MEDICARE", "Medicare Advantage"]
    assert entry.changes["encounters_rewritten"] == 1


def test_rename_clash_is_a_clear_error(
    org: Organization, manager: User, client_for: ClientFor
) -> None:
    Coder.objects.create(organization=org, name="Alice Lee")
    other = Coder.objects.create(organization=org, name="A. Lee")
    response = client_for(manager).post(
        entry_url(org, "coders", other, "edit"), {"name": "Alice Lee", "display_name": ""}
    )
    assert response.status_code == 200
    assert "already called “Alice Lee”" in response.context["form"].errors["name"][0]
    assert "merge" in response.context["form"].errors["name"][0]
    other.refresh_from_db()
    assert other.name == "A. Lee"
    with pytest.raises(RosterError):
        roster_entry_update(entry=other, name="Alice Lee", actor=manager)


@pytest.mark.parametrize(
    ("kind", "name"),
    [
        ("payers", "p" * 101),
        ("auditors", "a" * 151),
        ("coders", "c" * 201),
        ("facilities", " "),
        ("coders", "bad\x00name"),
    ],
)
def test_names_past_the_columns_limits_are_refused(
    org: Organization, manager: User, client_for: ClientFor, kind: str, name: str
) -> None:
    entry = KINDS[kind].model._default_manager.create(organization=org, name="Before")
    response = client_for(manager).post(entry_url(org, kind, entry, "edit"), {"name": name})
    assert response.status_code == 200
    assert response.context["form"].errors
    entry.refresh_from_db()
    assert entry.name == "Before"


def test_display_names_are_what_people_read(
    org: Organization, manager: User, coder: Coder, client_for: ClientFor
) -> None:
    # Linked to Casey Coder's login and without a display name: the login's full name.
    coder.name = "coder.casey"
    coder.save(update_fields=["name"])
    assert coder.label == "Casey Coder"
    unlinked = Coder.objects.create(organization=org, name="coder.ana")
    assert unlinked.label == "coder.ana"
    response = client_for(manager).post(
        entry_url(org, "coders", unlinked, "edit"),
        {"name": "coder.ana", "display_name": "Ana Alvarez"},
    )
    assert response.status_code == 302
    unlinked.refresh_from_db()
    assert unlinked.label == "Ana Alvarez"
    assert AuditLogEntry.objects.get(action="coder.update").changes == {
        "display_name": ["", "Ana Alvarez"]
    }
    page = client_for(manager).get(f"/o/{org.slug}/settings/rosters/coders/")
    html = page.content.decode()
    assert "Ana Alvarez" in html
    assert "Casey Coder" in html


# --------------------------------------------------------------------------- retire


def test_retired_entries_leave_pickers_and_filters_but_keep_history(
    org: Organization, manager: User, educator: User, client_for: ClientFor, tmp_path: Path
) -> None:
    import_rows(org, tmp_path / "w", rosterworld.TWINS, "Twins")
    before = cycle_report(organization=org, filters=MetricFilters())
    for kind, name in (
        ("facilities", "North Campus"),
        ("coders", "A. Lee"),
        ("payers", "MEDICARE"),
        ("auditors", "R. Patel"),
    ):
        entry = KINDS[kind].model._default_manager.get(organization=org, name=name)
        assert client_for(manager).post(entry_url(org, kind, entry, "retire")).status_code == 302
    assert AuditLogEntry.objects.filter(action__endswith=".retire").count() == 4

    form = FilterForm(organization=org)
    offered = {
        name: [v for v, _ in form.fields[name].choices]
        for name in ("facility", "coder", "payer", "auditor")
    }  # type: ignore[attr-defined]
    assert "North Campus" not in offered["facility"]
    assert "North" in offered["facility"]
    assert "A. Lee" not in offered["coder"]
    assert "Alice Lee" in offered["coder"]
    assert "MEDICARE" not in offered["payer"]
    assert "Medicare" in offered["payer"]
    assert "R. Patel" not in offered["auditor"]
    assert "Raj Patel" in offered["auditor"]
    assign = AssignForm(organization=org)
    assert [c.name for c in assign.fields["coders"].queryset] == ["Alice Lee"]  # type: ignore[attr-defined]
    page = client_for(educator).get(f"/o/{org.slug}/education/assign/")
    assert b"A. Lee" not in page.content

    # History: the same numbers, the encounter still shows its coder, and a bookmarked
    # filter on the retired coder still works (offered as the current choice).
    assert cycle_report(organization=org, filters=MetricFilters()) == before
    assert Encounter.objects.get(external_id="T2").coder.name == "A. Lee"  # type: ignore[union-attr]
    bookmarked = FilterForm({"coder": "A. Lee"}, organization=org)
    assert bookmarked.metric_filters().coder == "A. Lee"
    assert ("A. Lee", "A. Lee (retired)") in bookmarked.fields["coder"].choices  # type: ignore[attr-defined]

    a_lee = Coder.objects.get(organization=org, name="A. Lee")
    assert client_for(manager).post(entry_url(org, "coders", a_lee, "restore")).status_code == 302
    assert "A. Lee" in [v for v, _ in FilterForm(organization=org).fields["coder"].choices]  # type: ignore[attr-defined]


# --------------------------------------------------------------------------- screens


def test_roster_screens_list_entries_with_their_use(
    org: Organization, manager: User, client_for: ClientFor, tmp_path: Path
) -> None:
    import_rows(org, tmp_path / "w", rosterworld.TWINS, "Twins")
    for kind in KINDS:
        page = client_for(manager).get(f"/o/{org.slug}/settings/rosters/{kind}/")
        assert page.status_code == 200
        assert page.context["entries"]
    page = client_for(manager).get(f"/o/{org.slug}/settings/rosters/payers/")
    counts = {e.name: e.encounters for e in page.context["entries"]}
    assert counts == {"Medicare": 2, "MEDICARE": 1}
    page = client_for(manager).get(f"/o/{org.slug}/settings/rosters/")
    assert page.context["kind"].slug == "facilities"
    assert client_for(manager).get(f"/o/{org.slug}/settings/rosters/nope/").status_code == 404


def test_roster_views_tenancy(
    org: Organization, manager: User, auditor: User, coder_user: User, educator: User,
    viewer: User, assert_tenancy: AssertTenancy,
) -> None:  # fmt: skip
    forbidden = [auditor, coder_user, educator, viewer]
    base = f"/o/{org.slug}/settings/rosters"
    assert_tenancy(f"{base}/", allowed=[manager], forbidden=forbidden)
    assert_tenancy(f"{base}/coders/", allowed=[manager], forbidden=forbidden)
    payer = Payer.objects.create(organization=org, name="Medicare")
    other = Payer.objects.create(organization=org, name="Aetna")
    assert_tenancy(
        entry_url(org, "payers", payer, "edit"),
        allowed=[manager],
        forbidden=forbidden,
        wrong_method="put",
    )
    assert_tenancy(
        entry_url(org, "payers", payer, "edit"), allowed=[manager], forbidden=forbidden,
        method="post", wrong_method="delete", data={"name": "Medicare"},
    )  # fmt: skip
    assert_tenancy(
        entry_url(org, "payers", payer, "merge"),
        allowed=[manager],
        forbidden=forbidden,
        wrong_method="put",
    )
    for action in ("retire", "restore"):
        assert_tenancy(
            entry_url(org, "payers", payer, action), allowed=[manager], forbidden=forbidden,
            method="post", wrong_method="get",
        )  # fmt: skip
    assert_tenancy(
        entry_url(org, "payers", other, "merge"), allowed=[manager], forbidden=forbidden,
        method="post", wrong_method="put", data={"into": str(payer.public_id), "confirm": "1"},
    )  # fmt: skip
    assert not Payer.objects.filter(pk=other.pk).exists()


def test_another_organizations_entry_is_a_404(
    org: Organization, other_org: Organization, manager: User, client_for: ClientFor
) -> None:
    theirs = Provider.objects.create(organization=other_org, name="Dr Far")
    for action in ("edit", "merge"):
        assert (
            client_for(manager).get(entry_url(org, "providers", theirs, action)).status_code == 404
        )
    assert (
        client_for(manager).post(entry_url(org, "providers", theirs, "retire")).status_code == 404
    )
    # The kind in the URL must match the entry's roster.
    mine = ServiceLine.objects.create(organization=org, name="Cardiology")
    assert client_for(manager).get(entry_url(org, "providers", mine, "edit")).status_code == 404
    assert Auditor.objects.count() == 0


def test_the_roster_page_query_count_does_not_grow_with_the_roster(
    org: Organization, manager: User, client_for: ClientFor
) -> None:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    client = client_for(manager)
    url = f"/o/{org.slug}/settings/rosters/coders/"
    Coder.objects.create(organization=org, name="One", user=manager)
    client.get(url)  # the first request after signing in also touches the session
    with CaptureQueriesContext(connection) as small:
        assert client.get(url).status_code == 200
    for i in range(20):
        user = User.objects.create(username=f"c{i}", first_name="C", last_name=str(i))
        Coder.objects.create(organization=org, name=f"Coder {i}", user=user)
    with CaptureQueriesContext(connection) as large:
        assert client.get(url).status_code == 200
    assert len(large.captured_queries) == len(small.captured_queries), [
        q["sql"][:90] for q in large.captured_queries
    ]
