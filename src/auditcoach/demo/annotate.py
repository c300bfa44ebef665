"""The auditor's annotations on the demo's findings: error category, root cause and
coaching topic, as an auditor would set them while reviewing (DESIGN §7).

Rules by the finding's kind, group and code family, applied as a handful of bulk updates
(no per-row work). A share of the added and deleted diagnoses is put down to provider
documentation (a query was needed), so the documentation-patterns report has a story by
provider; which ones is decided by the finding's primary key, so it is deterministic.
"""

from __future__ import annotations

from typing import Final

from django.db.models import Q, QuerySet
from django.db.models.functions import Mod

from auditcoach.accounts.models import Organization
from auditcoach.audits.models import Finding, RootCause

R = RootCause

SEPSIS: Final = ("A40", "A41", "R65")
CC_MCC_FAMILIES: Final = ("E87", "J96", "N17", "N18", "I50", "E43", "D62", "G93", "R65", "G81")

# (filter, error category, root cause, topic): the first rule that matches wins.
RULES: Final[list[tuple[Q, str, str, str]]] = [
    (
        Q(kind="RESEQUENCED") & Q(audited_code__regex=r"^(A40|A41|R65)"),
        "Sequencing",
        R.GUIDELINE_MISAPPLIED,
        "sepsis-sequencing",
    ),
    (
        Q(kind="RESEQUENCED"),
        "Principal diagnosis selection",
        R.GUIDELINE_MISAPPLIED,
        "principal-diagnosis",
    ),
    (Q(kind="POA_CHANGED"), "POA assignment", R.DOCUMENTATION, "poa"),
    (
        Q(kind="ADDED", group="DX")
        & Q(audited_code__regex=r"^(" + "|".join(CC_MCC_FAMILIES) + ")"),
        "Missed CC/MCC",
        R.KNOWLEDGE_GAP,
        "cc-mcc-capture",
    ),
    (Q(kind="ADDED", group="DX"), "Missed secondary diagnosis", R.KNOWLEDGE_GAP, ""),
    (Q(kind="DELETED", group="DX"), "Unsupported diagnosis", R.DOCUMENTATION, ""),
    (Q(kind="REVISED", group="DX"), "Specificity", R.KNOWLEDGE_GAP, ""),
    (
        Q(kind="REVISED", group="LINE") & Q(original_code__startswith="992"),
        "E/M level",
        R.GUIDELINE_MISAPPLIED,
        "em-leveling",
    ),
    (Q(kind="MODIFIER_CHANGED"), "Modifier", R.KNOWLEDGE_GAP, "modifier-25-59"),
    (Q(kind="UNITS_CHANGED"), "Units", R.CLERICAL, ""),
    (Q(kind="DISPOSITION_CHANGED"), "Discharge disposition", R.DOCUMENTATION, ""),
    (Q(group="PX"), "Procedure coding", R.KNOWLEDGE_GAP, ""),
    (Q(group="LINE"), "Procedure coding", R.KNOWLEDGE_GAP, ""),
]


def annotate_findings(*, organization: Organization) -> int:
    """Set category, root cause and topic on the organization's unannotated findings;
    return how many were annotated. DRG changes follow from the coding and stay bare."""
    todo: QuerySet[Finding] = Finding.objects.filter(organization=organization, root_cause="")
    todo = todo.exclude(kind="DRG_CHANGED")
    done = 0
    for q, category, cause, topic in RULES:
        done += todo.filter(q).update(error_category=category, root_cause=cause, topic=topic)
    # About one in four added diagnoses needed a query: the provider's documentation.
    todo_added = Finding.objects.filter(
        organization=organization, kind="ADDED", group="DX", root_cause=R.KNOWLEDGE_GAP
    )
    todo_added.alias(bucket=Mod("id", 4)).filter(bucket=0).update(
        root_cause=R.DOCUMENTATION, error_category="Query opportunity"
    )
    return done
