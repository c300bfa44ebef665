"""The columns of the analytics exports (docs/exports.md): the drill-down findings and
encounters, the coders list (scorecards), a coder's top patterns and topics, and the
documentation report. Rows come from the screens' own builders; these say how each reads.

Sparklines and charts are not exported: the numbers they draw are columns (per-cycle
counts, the trend in words)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

from auditcoach.analytics.documentation import DocumentationReport
from auditcoach.analytics.scorecard import CoderSummary, PatternRow, Scorecard, Trend
from auditcoach.audits.models import Encounter, Finding
from auditcoach.coaching.exports import finding_columns
from auditcoach.engine.stats import Proportion
from auditcoach.lib.exports import Column, Kind


def trend_text(t: Trend) -> str:
    return f"{t.word} (significant)" if t.significant else t.word


def _label(coder: object) -> str:
    return getattr(coder, "label", "") if coder is not None else ""


def _name(obj: object) -> str:
    return getattr(obj, "name", "") if obj is not None else ""


def proportion_columns[R](header: str, get: Callable[[R], Proportion]) -> list[Column[R]]:
    """A share as three columns: the percent, then its successes and n (the screen's
    "value (k of n)")."""
    return [
        Column(header, lambda r: get(r).value, Kind.PERCENT),
        Column(f"{header}: of", lambda r: get(r).successes, Kind.INTEGER),
        Column(f"{header}: n", lambda r: get(r).n, Kind.INTEGER),
    ]


FINDING_COLUMNS: Final[list[Column[Finding]]] = [
    Column("Cycle", lambda f: f.encounter.cycle),
    Column("Encounter", lambda f: f.encounter.external_id, account=True),
    Column("Coder", lambda f: _label(f.encounter.coder)),
    Column("Provider", lambda f: _name(f.encounter.provider)),
    *finding_columns(lambda f: f),
    Column("Pattern", lambda f: f.pattern),
    Column("Topic", lambda f: f.topic),
    Column("Root cause", lambda f: f.get_root_cause_display() if f.root_cause else ""),
]

ENCOUNTER_COLUMNS: Final[list[Column[Encounter]]] = [
    Column("Cycle", lambda e: e.cycle),
    Column("Encounter", lambda e: e.external_id, account=True),
    Column("Setting", lambda e: e.get_setting_display()),
    Column("Coder", lambda e: _label(e.coder)),
    Column("Provider", lambda e: _name(e.provider)),
    Column("Facility", lambda e: _name(e.facility)),
    Column("Findings", lambda e: e.finding_count, Kind.INTEGER),
]


def _accuracy(s: CoderSummary) -> Proportion:
    return s.accuracy


def _latest_accuracy(s: CoderSummary) -> Proportion:
    return s.latest_accuracy


CODER_COLUMNS: Final[list[Column[CoderSummary]]] = [
    Column("Coder", lambda s: s.coder.label),
    Column("Encounters", lambda s: s.encounters, Kind.INTEGER),
    *proportion_columns("Code accuracy", _accuracy),
    Column("Latest cycle", lambda s: s.latest_cycle),
    *proportion_columns("Its accuracy", _latest_accuracy),
    Column("Its repeats", lambda s: s.latest_repeats, Kind.INTEGER),
    Column("Its findings", lambda s: s.latest_findings, Kind.INTEGER),
    Column("Signals", lambda s: s.signals, Kind.INTEGER),
    Column("Open education", lambda s: s.open_education, Kind.INTEGER),
    Column("Overdue education", lambda s: s.overdue_education, Kind.INTEGER),
]


@dataclass(frozen=True, slots=True)
class PatternLine:
    """One line of a scorecard's pattern or topic table, with which table it is from."""

    what: str  # "Pattern" or "Topic"
    label: str  # the key, a topic by its label as the screen shows it
    row: PatternRow


def pattern_lines(card: Scorecard, topic_labels: dict[str, str]) -> list[PatternLine]:
    return [PatternLine("Pattern", p.key, p) for p in card.patterns] + [
        PatternLine("Topic", topic_labels.get(t.key, t.key), t) for t in card.topics
    ]


def _pattern_count(i: int) -> Callable[[PatternLine], int]:
    return lambda line: line.row.counts[i]


def _doc_count(i: int) -> Callable[[DocLine], int]:
    return lambda line: line.counts[i]


def pattern_columns(card: Scorecard) -> list[Column[PatternLine]]:
    """The scorecard's top patterns and topics: a count column per cycle, as on screen."""
    per_cycle = [
        Column(c.cycle, _pattern_count(i), Kind.INTEGER) for i, c in enumerate(card.cycles)
    ]
    return [
        Column("Pattern or topic", lambda line: line.what),
        Column("Key", lambda line: line.label),
        *per_cycle,
        Column("Total", lambda line: line.row.total, Kind.INTEGER),
        Column(
            "Latest incidence",
            lambda line: line.row.incidence[-1].value if line.row.incidence else None,
            Kind.PERCENT,
        ),
        Column("Trend", lambda line: trend_text(line.row.trend)),
    ]


@dataclass(frozen=True, slots=True)
class DocLine:
    """One line of the documentation report's provider or topic table."""

    what: str  # "Provider" or "Topic"
    name: str
    findings: int
    share: Proportion  # of the provider's findings; a topic's share of the slice's
    affected: int | None  # encounters affected (providers only)
    counts: list[int]
    trend: Trend


def doc_lines(report: DocumentationReport, topic_labels: dict[str, str]) -> list[DocLine]:
    providers = [
        DocLine(
            "Provider",
            p.provider or "(no provider)",
            p.findings,
            p.share,
            p.affected,
            p.counts,
            p.trend,
        )
        for p in report.providers
    ]
    topics = [
        DocLine(
            "Topic",
            topic_labels.get(t.topic, t.topic) if t.topic else "(no topic)",
            t.findings,
            t.share,
            None,
            t.counts,
            t.trend,
        )
        for t in report.topics
    ]
    return providers + topics


def doc_columns(report: DocumentationReport) -> list[Column[DocLine]]:
    per_cycle = [Column(c.cycle, _doc_count(i), Kind.INTEGER) for i, c in enumerate(report.cycles)]
    return [
        Column("Provider or topic", lambda line: line.what),
        Column("Name", lambda line: line.name),
        Column("Findings", lambda line: line.findings, Kind.INTEGER),
        Column("Share", lambda line: line.share.value, Kind.PERCENT),
        Column("Encounters affected", lambda line: line.affected, Kind.INTEGER),
        *per_cycle,
        Column("Trend", lambda line: trend_text(line.trend)),
    ]
