"""Exports of the coaching lists: ageing and disputes, as the screens list them."""

from typing import Any

import pytest
from django.urls import reverse
from django.utils import timezone

from auditcoach.accounts.models import User
from auditcoach.audits.models import Audit
from auditcoach.coaching import views as coaching_views
from auditcoach.lib.exports import mask_account
from tests.conftest import AssertTenancy, ClientFor
from tests.exports.conftest import ScreenRows, as_cells, read_csv, read_xlsx

pytestmark = pytest.mark.django_db

FINDING_HEADERS = [
    "Kind",
    "Group",
    "Original code",
    "Audited code",
    "Original value",
    "Audited value",
    "Status",
]


def url(name: str) -> str:
    return reverse(f"coaching:{name}", kwargs={"org_slug": "north-health"})


def codes(f: Any) -> list[Any]:
    """The finding's part of a row, as coaching/_codes.html shows it."""
    return [
        f.kind,
        "" if f.group == "-" else f.group,
        f.original_text,
        f.audited_text,
        f.original_value,
        f.audited_value,
        f.get_status_display(),
    ]


def wall(at: Any) -> Any:
    """A datetime as the export writes it: wall time of the installation, to the second."""
    return timezone.localtime(at).replace(tzinfo=None, microsecond=0)


def ageing_row(row: dict[str, Any], *, accounts: bool) -> list[Any]:
    f = row["finding"]
    coder = f.encounter.coder
    return [
        f.encounter.external_id if accounts else mask_account(f.encounter.external_id),
        coder.label if coder else "",
        *codes(f),
        row["waiting"],
        wall(f.released_at),
        row["age_days"],
        "Overdue" if row["overdue"] else "",
    ]


@pytest.mark.parametrize("params", [{}, {"waiting": "coder"}, {"waiting": "auditor"}])
def test_ageing_xlsx_equals_every_page(
    client_for: ClientFor,
    auditor: User,
    released: Audit,
    screen_rows: ScreenRows,
    monkeypatch: pytest.MonkeyPatch,
    params: dict[str, str],
) -> None:
    monkeypatch.setattr(coaching_views, "AGEING_PER_PAGE", 3)
    client = client_for(auditor)
    shown = screen_rows(client, url("ageing"), **params)
    assert shown
    sheet = read_xlsx(client.get(url("ageing"), {**params, "export": "xlsx"}))
    assert sheet[0] == [
        "Encounter",
        "Coder",
        *FINDING_HEADERS,
        "Waiting for",
        "Released",
        "Age (days)",
        "Overdue",
    ]
    assert sheet[1:] == [[as_cells(v) for v in ageing_row(row, accounts=False)] for row in shown]
    if not params:
        assert len(shown) > 3


def test_ageing_csv_with_account_numbers(
    client_for: ClientFor, manager: User, released: Audit, screen_rows: ScreenRows
) -> None:
    client = client_for(manager)
    shown = screen_rows(client, url("ageing"))
    rows = read_csv(client.get(url("ageing"), {"export": "csv", "accounts": "1"}))
    assert [r[0] for r in rows[1:]] == [row["finding"].encounter.external_id for row in shown]
    assert [r[10] for r in rows[1:]] == [
        f"{timezone.localtime(row['finding'].released_at):%Y-%m-%d %H:%M}" for row in shown
    ]
    assert [r[11] for r in rows[1:]] == [str(row["age_days"]) for row in shown]


def dispute_row(row: dict[str, Any]) -> list[Any]:
    f, event = row["finding"], row["event"]
    refs = (event.data or {}).get("references", []) if event else []
    return [
        mask_account(f.encounter.external_id),
        f.encounter.coder.label if f.encounter.coder else "",
        f.encounter.audit.name,
        *codes(f),
        f.rationale,
        event.get_kind_display() if event else "",
        event.actor_name if event else "",
        wall(event.at) if event else "",
        event.text if event else "",
        "; ".join(r["citation"] for r in refs),
    ]


def test_disputes_xlsx_and_csv_equal_the_screen(
    client_for: ClientFor, auditor: User, released: Audit, screen_rows: ScreenRows
) -> None:
    client = client_for(auditor)
    shown = screen_rows(client, url("disputes"))
    assert len(shown) == 1
    sheet = read_xlsx(client.get(url("disputes"), {"export": "xlsx"}))
    assert sheet[0][:3] == ["Encounter", "Coder", "Audit"]
    assert sheet[1:] == [[as_cells(v) for v in dispute_row(row)] for row in shown]
    # The coder's text looks like a formula: a plain string in XLSX, apostrophe in CSV.
    said = shown[0]["event"].text
    assert said.startswith("=")
    assert sheet[1][14] == said
    rows = read_csv(client.get(url("disputes"), {"export": "csv"}))
    assert rows[1][14] == "'" + said


@pytest.mark.parametrize("name", ["ageing", "disputes"])
def test_coaching_export_checklist(
    assert_tenancy: AssertTenancy,
    released: Audit,
    manager: User,
    auditor: User,
    coder_user: User,
    educator: User,
    viewer: User,
    name: str,
) -> None:
    for fmt in ("csv", "xlsx"):
        assert_tenancy(
            f"{url(name)}?export={fmt}",
            allowed=[manager, auditor],
            forbidden=[coder_user, educator, viewer],
        )
        assert_tenancy(f"{url(name)}?export={fmt}&accounts=1", allowed=[manager, auditor])
