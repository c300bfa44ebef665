"""Documentation patterns for a CDI team: the counted findings whose root cause is
DOCUMENTATION (provider documentation, or a query was needed), by provider and by topic,
with their trend by cycle.

Four grouped SQL queries per report, whatever the volume; Python arranges the small rows.
The rules (incidence, trend, what a row links to) are in docs/analytics.md,
"Documentation patterns".
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import Final

from django.db.models import Count, Q

from auditcoach.accounts.models import Organization
from auditcoach.analytics import selectors
from auditcoach.analytics.scorecard import EVERYTHING, Trend, trend
from auditcoach.analytics.selectors import Drill, MetricFilters
from auditcoach.audits.models import RootCause
from auditcoach.engine.stats import Proportion

DOCUMENTATION: Final = RootCause.DOCUMENTATION.value
MATRIX_PROVIDERS: Final = 12
MATRIX_TOPICS: Final = 8


@dataclass(frozen=True, slots=True)
class CycleDoc:
    """One cycle of the slice: documentation findings, and the encounters with ≥ 1 of
    them out of the encounters audited."""

    cycle: str
    findings: int
    incidence: Proportion


@dataclass(frozen=True, slots=True)
class ProviderDoc:
    """A provider (None: encounters without one): documentation findings, their share of
    the provider's counted findings, encounters affected / audited, the trend by cycle."""

    provider: str | None
    findings: int
    all_findings: int
    encounters: int  # encounters audited for the provider in the slice
    affected: int  # of which with ≥ 1 documentation finding
    counts: list[int]  # documentation findings per cycle (the report's cycles)
    incidence: list[Proportion]  # per cycle: affected / audited
    trend: Trend

    @property
    def share(self) -> Proportion:
        return Proportion(self.findings, self.all_findings)

    @property
    def rate(self) -> Proportion:
        return Proportion(self.affected, self.encounters)


@dataclass(frozen=True, slots=True)
class TopicDoc:
    """A topic ("" for findings without one): documentation findings, their share of all
    documentation findings, encounters affected, the trend by cycle (incidence over all
    encounters audited in each cycle)."""

    topic: str
    findings: int
    share: Proportion
    counts: list[int]
    incidence: list[Proportion]
    trend: Trend


@dataclass(frozen=True, slots=True)
class DocumentationReport:
    filters: MetricFilters
    cycles: list[CycleDoc]
    total: int  # documentation findings in the slice
    all_findings: int  # counted findings in the slice
    encounters: int
    providers: list[ProviderDoc]  # most documentation findings first
    topics: list[TopicDoc]
    matrix_topics: list[str]  # columns of the provider × topic table
    matrix: list[tuple[str | None, list[int]]]  # (provider, counts per matrix topic)

    @property
    def share(self) -> Proportion:
        return Proportion(self.total, self.all_findings)

    @property
    def trend(self) -> Trend:
        return trend([c.incidence for c in self.cycles])


def documentation_report(
    *, organization: Organization, filters: MetricFilters = EVERYTHING
) -> DocumentationReport:
    """The CDI report of the slice `filters` (the analytics filter bar)."""
    doc = Q(root_cause=DOCUMENTATION)
    encounter_rows = (
        selectors.released_encounters(organization=organization, filters=filters)
        .values("provider__name", "cycle")
        .annotate(n=Count("pk"))
        .order_by()
    )
    findings = selectors.drill_findings(organization=organization, filters=filters, drill=Drill())
    provider_rows = (
        findings.values("encounter__provider__name", "encounter__cycle")
        .annotate(
            n=Count("pk"),
            doc=Count("pk", filter=doc),
            hit=Count("encounter", distinct=True, filter=doc),
        )
        .order_by()
    )
    topic_rows = (
        findings.filter(doc)
        .values("topic", "encounter__cycle")
        .annotate(n=Count("pk"), hit=Count("encounter", distinct=True))
        .order_by()
    )
    pair_rows = (
        findings.filter(doc)
        .values("encounter__provider__name", "topic")
        .annotate(n=Count("pk"))
        .order_by()
    )

    audited: dict[str | None, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for r in encounter_rows:
        audited[r["provider__name"]][r["cycle"]] += r["n"]
    labels = sorted({c for by in audited.values() for c in by})
    cycle_audited = {c: sum(by.get(c, 0) for by in audited.values()) for c in labels}

    found: dict[str | None, dict[str, tuple[int, int, int]]] = defaultdict(dict)
    for pr in provider_rows:
        found[pr["encounter__provider__name"]][pr["encounter__cycle"]] = (
            pr["n"],
            pr["doc"],
            pr["hit"],
        )

    providers = []
    for name, by_cycle in found.items():
        doc_total = sum(d for _, d, _ in by_cycle.values())
        if not doc_total:
            continue
        incidence = [
            Proportion(by_cycle.get(c, (0, 0, 0))[2], audited[name].get(c, 0)) for c in labels
        ]
        providers.append(
            ProviderDoc(
                provider=name,
                findings=doc_total,
                all_findings=sum(n for n, _, _ in by_cycle.values()),
                encounters=sum(audited[name].values()),
                affected=sum(h for _, _, h in by_cycle.values()),
                counts=[by_cycle.get(c, (0, 0, 0))[1] for c in labels],
                incidence=incidence,
                trend=trend(incidence),
            )
        )
    providers.sort(key=lambda p: (-p.findings, p.provider is None, p.provider or ""))

    by_topic: dict[str, dict[str, tuple[int, int]]] = defaultdict(dict)
    for tr in topic_rows:
        by_topic[tr["topic"]][tr["encounter__cycle"]] = (tr["n"], tr["hit"])
    total = sum(p.findings for p in providers)
    topics = []
    for topic, tc in by_topic.items():
        incidence = [Proportion(tc.get(c, (0, 0))[1], cycle_audited[c]) for c in labels]
        n = sum(k for k, _ in tc.values())
        topics.append(
            TopicDoc(
                topic=topic,
                findings=n,
                share=Proportion(n, total),
                counts=[tc.get(c, (0, 0))[0] for c in labels],
                incidence=incidence,
                trend=trend(incidence),
            )
        )
    topics.sort(key=lambda t: (-t.findings, t.topic == "", t.topic))

    cycles = [
        CycleDoc(
            cycle=c,
            findings=sum(by.get(c, (0, 0, 0))[1] for by in found.values()),
            incidence=Proportion(
                sum(by.get(c, (0, 0, 0))[2] for by in found.values()), cycle_audited[c]
            ),
        )
        for c in labels
    ]
    pairs: dict[tuple[str | None, str], int] = {
        (r["encounter__provider__name"], r["topic"]): r["n"] for r in pair_rows
    }
    matrix_topics = [t.topic for t in topics[:MATRIX_TOPICS]]
    matrix = [
        (p.provider, [pairs.get((p.provider, t), 0) for t in matrix_topics])
        for p in providers[:MATRIX_PROVIDERS]
    ]
    return DocumentationReport(
        filters=filters,
        cycles=cycles,
        total=total,
        all_findings=sum(n for by in found.values() for n, _, _ in by.values()),
        encounters=sum(cycle_audited.values()),
        providers=providers,
        topics=topics,
        matrix_topics=matrix_topics,
        matrix=matrix,
    )
