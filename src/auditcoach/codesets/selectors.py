"""Reads of the organization's own coding knowledge (licensed CPT file, facility base rates).

Every read starts from the organization.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from django.db.models import Count, IntegerField, Max, OuterRef, Q, QuerySet, Subquery
from django.http import Http404

from auditcoach.accounts.models import Facility, Organization
from auditcoach.audits.models import Encounter
from auditcoach.codesets import search as code_sets
from auditcoach.codesets.models import CptCode
from auditcoach.engine.codes import display_code, normalize_code

_WORD = re.compile(r"[^\W_]+")
MIN_QUERY = 2  # one character matches too much to help
SYSTEM_LABELS = {"ICD10CM": "ICD-10-CM", "ICD10PCS": "ICD-10-PCS", "CPT": "CPT", "HCPCS": "HCPCS"}


@dataclass(frozen=True, slots=True)
class CptSummary:
    count: int
    uploaded_at: datetime | None


def cpt_summary(*, organization: Organization) -> CptSummary:
    """How many licensed CPT codes the organization has loaded, and when (one query)."""
    row = CptCode.objects.filter(organization=organization).aggregate(
        n=Count("pk"), last=Max("uploaded_at")
    )
    return CptSummary(count=int(row["n"] or 0), uploaded_at=row["last"])


def cpt_descriptions(*, organization: Organization, codes: Iterable[str]) -> dict[str, str]:
    """The organization's licensed descriptor of each of `codes` that it has (one query)."""
    wanted = {c for c in codes if c}
    if not wanted:
        return {}
    return dict(
        CptCode.objects.filter(organization=organization, code__in=wanted).values_list(
            "code", "description"
        )
    )


def cpt_search(*, organization: Organization, query: str, limit: int = 20) -> list[CptCode]:
    """The organization's CPT codes whose code starts with `query` (dots and spaces ignored)
    or whose descriptor has a word starting with each word of it (as the shipped search
    does); code matches first, then by code."""
    text = query.strip()
    if not text or limit <= 0:
        return []
    base = CptCode.objects.filter(organization=organization)
    prefix = normalize_code(text)
    by_code = list(base.filter(code__startswith=prefix).order_by("code")[:limit]) if prefix else []
    words = _WORD.findall(text)
    by_words: list[CptCode] = []
    if words and len(by_code) < limit:
        condition = Q()
        for word in words:  # a word of the descriptor starts with each word typed
            condition &= (
                Q(description__istartswith=word)
                | Q(description__icontains=f" {word}")
                | Q(description__icontains=f"({word}")
                | Q(description__icontains=f"-{word}")
            )
        by_words = list(
            base.filter(condition)
            .exclude(code__in=[c.code for c in by_code])
            .order_by("code")[: limit - len(by_code)]
        )
    return by_code + by_words


@dataclass(frozen=True, slots=True)
class CodeHit:
    """One result of the code search, whatever its source (shipped sets or the CPT file)."""

    system: str
    code: str  # normalized
    display: str  # as screens show it (ICD-10-CM with its dot)
    description: str
    billable: bool = True
    header: bool = False

    @property
    def system_label(self) -> str:
        return SYSTEM_LABELS.get(self.system, self.system)

    def as_json(self) -> dict[str, object]:
        return {
            "system": self.system,
            "code": self.code,
            "display": self.display,
            "description": self.description,
            "billable": self.billable,
            "header": self.header,
        }


def code_search(
    *, organization: Organization, query: str, systems: Sequence[str], limit: int = 20
) -> list[CodeHit]:
    """Codes for the as-you-type search: the shipped sets (`codesets.search`) and, when CPT
    is asked for, the organization's licensed CPT file. A query that starts with a digit
    lists CPT first (it looks like a CPT code), else the shipped sets first."""
    text = " ".join(query.split())
    if len(text) < MIN_QUERY or limit <= 0:
        return []
    shipped = tuple(s for s in systems if s != "CPT")
    hits: list[CodeHit] = []
    if shipped:
        for info in code_sets.search(text, systems=shipped, limit=limit):
            hits.append(
                CodeHit(
                    system=info.system,
                    code=info.code,
                    display=info.display or display_code(info.system, info.code),
                    description=info.description or "",
                    billable=bool(info.billable),
                    header=bool(info.header),
                )
            )
    if "CPT" in systems:
        cpt = [
            CodeHit(system="CPT", code=row.code, display=row.code, description=row.description)
            for row in cpt_search(organization=organization, query=text, limit=limit)
        ]
        hits = cpt + hits if text[0].isdigit() else hits + cpt
    return hits[:limit]


def facility_list(*, organization: Organization) -> QuerySet[Facility]:
    """The organization's facilities by name, with how many inpatient encounters each has
    (those are the ones whose money the base rate sets)."""
    return (
        Facility.objects.filter(organization=organization)
        .annotate(inpatient_encounters=_inpatient_count())
        .order_by("name")
    )


def _inpatient_count() -> Subquery:
    # Encounter.facility has no reverse relation (related_name="+"): count in a subquery.
    counts = (
        Encounter.objects.filter(facility=OuterRef("pk"), setting="inpatient")
        .order_by()
        .values("facility")
        .annotate(n=Count("pk"))
        .values("n")
    )
    return Subquery(counts, output_field=IntegerField())


def facility_get(*, organization: Organization, public_id: uuid.UUID | str) -> Facility:
    try:
        return Facility.objects.get(organization=organization, public_id=public_id)
    except (Facility.DoesNotExist, ValueError, TypeError) as exc:
        raise Http404("No such facility") from exc
