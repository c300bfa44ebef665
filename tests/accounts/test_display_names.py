"""People are shown by their display names on every screen, never by a login."""

from datetime import date
from html.parser import HTMLParser
from pathlib import Path

import pytest
from django.core.management import call_command

from auditcoach.accounts.models import Auditor, Coder, Organization, User
from auditcoach.audits.models import Encounter, Finding
from auditcoach.audits.services import audit_import
from auditcoach.education.services import assignments_create
from auditcoach.engine.workbook import read_workbook
from tests.conftest import ClientFor

pytestmark = pytest.mark.django_db

WORKED = Path(__file__).parent.parent / "fixtures" / "worked"


class _Text(HTMLParser):
    """The text a person reads: element text and <option> labels, no attributes, no URLs."""

    def __init__(self) -> None:
        super().__init__()
        self.parts: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("script", "style"):
            self._skip += 1

    def handle_endtag(self, tag: str) -> None:
        if tag in ("script", "style"):
            self._skip -= 1

    def handle_data(self, data: str) -> None:
        if not self._skip:
            self.parts.append(data)


def visible(html: bytes) -> str:
    parser = _Text()
    parser.feed(html.decode())
    return " ".join(" ".join(parser.parts).split())


@pytest.fixture
def world(org: Organization, manager: User) -> dict[str, str]:
    audit = audit_import(
        organization=org, workbook=read_workbook(WORKED), name="Worked", released=True
    )
    Coder.objects.filter(organization=org, name="coder.ana").update(display_name="Ana Alvarez")
    Coder.objects.filter(organization=org, name="coder.ben").update(display_name="Ben Brennan")
    Auditor.objects.filter(organization=org, name="auditor.raj").update(display_name="Raj Mehta")
    Auditor.objects.filter(organization=org, name="auditor.kim").update(display_name="Kim Larsen")
    ana = Coder.objects.get(organization=org, name="coder.ana")
    assignments_create(
        organization=org, coders=[ana], resource_title="Heart failure specificity",
        pattern_key="REVISED:DX:I50", due_date=date(2026, 9, 1),
    )  # fmt: skip
    encounter = Encounter.objects.get(audit=audit, external_id="HF-1")
    finding = Finding.objects.filter(encounter=encounter).first()
    assert finding is not None
    base = f"/o/{org.slug}"
    return {
        "summary": f"{base}/audits/{audit.public_id}/",
        "encounters": f"{base}/audits/{audit.public_id}/encounters/",
        "workspace": f"{base}/encounters/{encounter.public_id}/",
        "finding": f"{base}/coaching/findings/{finding.public_id}/",
        "dashboard": f"{base}/analytics/",
        "coders": f"{base}/analytics/coders/",
        "scorecard": f"{base}/analytics/coders/{ana.public_id}/",
        "drill": f"{base}/analytics/findings/",
        "ageing": f"{base}/coaching/ageing/",
        "education": f"{base}/education/",
        "assign": f"{base}/education/assign/",
    }


def test_screens_show_display_names_not_logins(
    world: dict[str, str], manager: User, client_for: ClientFor
) -> None:
    client = client_for(manager)
    for name, url in world.items():
        response = client.get(url)
        assert response.status_code == 200, name
        text = visible(response.content)
        for login in ("coder.ana", "coder.ben", "auditor.raj", "auditor.kim"):
            assert login not in text, (name, login)
    assert "Ana Alvarez" in visible(client.get(world["summary"]).content)  # scores by coder
    assert "Ana Alvarez" in visible(client.get(world["scorecard"]).content)
    assert "Raj Mehta" in visible(client.get(world["workspace"]).content)
    assert "Raj Mehta" in visible(client.get(world["finding"]).content)
    dashboard = client.get(world["dashboard"])
    coder_choices = dashboard.context["form"].fields["coder"].choices
    assert ("coder.ana", "Ana Alvarez") in coder_choices  # value: roster name; text: label


def test_metrics_json_keeps_roster_names(
    world: dict[str, str], org: Organization, capsys: pytest.CaptureFixture[str]
) -> None:
    capsys.readouterr()
    call_command("metrics", "--org", org.slug, "--json")
    out = capsys.readouterr().out
    assert '"coder.ana"' in out
    assert "Ana Alvarez" not in out
