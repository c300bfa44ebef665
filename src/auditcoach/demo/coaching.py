"""A plausible coaching history for the demo's released audits (DESIGN §7, §8).

`coaching_history()` answers the released findings and gives the coders education through
the real services (`coaching.services`, `education.services`), so every status, event,
comment, notification and audit-log row is exactly what the application itself makes. The
services stamp `timezone.now()`; the history is planned as a list of dated steps, run in
date order, and afterwards every stamp they made is moved to its step's date
(`_Clock.rewrite`): rows are matched to steps by primary key, which grows with each step.

The schedule, for an audit of quarter Q (all times clamped at now):
- created 3 days after Q ends, released 10 days after (finding, encounter, audit);
- coders answer 0–12 days after the release (about one in six after the 7-day SLA);
  disputes are decided 1–5 days later, escalations by the manager a few days after that,
  and the auditor closes 1–10 days after the last answer or decision;
- in the most recent released audit about 15% of the findings stay unanswered, a few
  agreed ones wait to be closed and a couple of disputes wait for the auditor;
- education follows each release for the coders whose habit shows, due four weeks later
  (the round after the third release is a longer module due in mid-October, whose
  completions schedule follow-up reviews from the audit then in review).

Everything is drawn from one `random.Random(seed)` over rows in a stable order.
"""

from __future__ import annotations

import bisect
import random
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from functools import partial
from typing import Final

from django.db import connection, models
from django.db.models import OuterRef, Subquery
from django.db.models.functions import Coalesce
from django.utils import timezone

from auditcoach.accounts.models import (
    Coder,
    Facility,
    Membership,
    Organization,
    Provider,
    ServiceLine,
    User,
)
from auditcoach.auditlog.models import AuditLogEntry
from auditcoach.auditlog.services import backdating_allow
from auditcoach.audits.models import Audit, CodeLine, Encounter, Finding
from auditcoach.audits.services import AuditedLine
from auditcoach.coaching.models import Comment, FindingEvent
from auditcoach.coaching.services import (
    comment_add,
    finding_agree,
    finding_close,
    finding_decide,
    finding_dispute,
    finding_escalate,
)
from auditcoach.demo.generator import CODERS, cycle_dates
from auditcoach.education.models import EducationAssignment, FollowUpReview
from auditcoach.education.services import assignment_complete, assignments_create
from auditcoach.engine.codes import normalize_modifiers
from auditcoach.library.models import RationaleTemplate, Reference
from auditcoach.library.seed import REFERENCES
from auditcoach.notifications.models import Notification

__all__ = ["CycleTimes", "HistorySummary", "coaching_history", "cycle_times"]

S = Finding.Status

CREATED_AFTER_DAYS: Final = 3
"""An audit is set up (imported) this many days after its quarter ends."""
RELEASE_AFTER_DAYS: Final = 10
"""…and released to the coders this many days after the quarter ends."""
UNANSWERED_SHARE: Final = 0.15
"""Share of the most recent released audit's findings nobody has answered yet."""
DISPUTE_SHARE: Final = 0.10
OVERTURN_SHARE: Final = 0.25
EM_GAP_DISPUTE_SHARE: Final = 0.6
"""A finding that lowers or raises an E/M level by two is disputed more often…"""
MODIFY_SHARE: Final = 0.7
"""…and the auditor often meets the coder halfway (the one simple modified decision)."""
COMMENT_SHARE: Final = 0.04
MODULE_DAYS: Final = 28
"""An education assignment is due four weeks after it is assigned…"""
LONG_MODULE_DAYS: Final = 98
"""…except the longer module after the last release, due 14 weeks after that release (mid-
October for the 2026-Q2 audit: after the next audit is set up, so completing it can choose
follow-up encounters from that audit)."""
FOLLOWUP_ENCOUNTERS: Final = 5
STRONG_CODERS: Final = frozenset({"coder.ivy", "coder.jon"})
"""No education for them: their few findings are background slips, not a habit."""
_NO_DISPUTE_KINDS: Final = frozenset({"DRG_CHANGED"})
"""A DRG change follows from the code findings of the encounter; coders dispute those."""


# --------------------------------------------------------------------------- dates


@dataclass(frozen=True, slots=True)
class CycleTimes:
    """When the audit of a quarter was set up and released."""

    created: datetime
    released: datetime


def _moment(day: date, hour: int, minute: int = 0) -> datetime:
    return timezone.make_aware(datetime.combine(day, time(hour, minute)))


def cycle_times(cycle: str, *, now: datetime) -> CycleTimes:
    """Set up 3 days and released 10 days after the quarter `cycle` ends (never after now)."""
    _, end = cycle_dates(cycle)
    created = _moment(end + timedelta(days=CREATED_AFTER_DAYS), 8, 30)
    released = _moment(end + timedelta(days=RELEASE_AFTER_DAYS), 10, 0)
    return CycleTimes(created=min(created, now), released=min(released, now))


def _later(rng: random.Random, after: datetime, days: tuple[int, int]) -> datetime:
    """A working-hours moment `days` (inclusive range) after `after`, strictly after it."""
    day = (after + timedelta(days=rng.randint(*days))).date()
    at = _moment(day, rng.randint(8, 16), rng.randrange(0, 60))
    if at <= after:
        at = after + timedelta(minutes=rng.randint(20, 180))
    return at


# --------------------------------------------------------------------------- the clock


class _Clock:
    """Runs dated steps in date order and moves the services' stamps to those dates.

    After each step it notes the highest primary key of every table the services insert
    into; a row then belongs to the first step whose mark reaches its key.
    """

    TRACKED: Final[tuple[tuple[type[models.Model], tuple[str, ...]], ...]] = (
        (FindingEvent, ("at",)),
        (Comment, ("created_at",)),
        (Notification, ("created_at",)),
        (AuditLogEntry, ("at",)),
        (EducationAssignment, ("assigned_at",)),
        (FollowUpReview, ("created_at", "updated_at")),
    )

    def __init__(self, now: datetime) -> None:
        self.now = now
        self.steps: list[tuple[datetime, int, Callable[[], object]]] = []
        self.models = [model for model, _ in self.TRACKED]
        # One statement for all the marks: it runs after every step.
        quote = connection.ops.quote_name
        self.sql = "SELECT " + ", ".join(
            f"(SELECT MAX({quote(m._meta.pk.attname)}) FROM {quote(m._meta.db_table)})"
            for m in self.models
        )
        self.start = dict(zip(self.models, self._tops(), strict=True))
        self.marks: dict[type[models.Model], list[int]] = {m: [] for m in self.models}
        self.times: list[datetime] = []

    def _tops(self) -> list[int]:
        with connection.cursor() as cursor:
            cursor.execute(self.sql)
            row = cursor.fetchone()
        return [top or 0 for top in row]

    def at(self, when: datetime, action: Callable[[], object]) -> None:
        # Ties keep the order of planning: a finding's steps are planned in order.
        self.steps.append((min(when, self.now), len(self.steps), action))

    def run(self) -> None:
        for when, _, action in sorted(self.steps, key=lambda s: (s[0], s[1])):
            action()
            self.times.append(when)
            for model, top in zip(self.models, self._tops(), strict=True):
                self.marks[model].append(top)

    def rewrite(self) -> None:
        for model, fields in self.TRACKED:
            marks = self.marks[model]
            rows = list(model._default_manager.filter(pk__gt=self.start[model]).only("pk"))
            for row in rows:
                when = self.times[bisect.bisect_left(marks, row.pk)]
                for name in fields:
                    setattr(row, name, when)
            model._default_manager.bulk_update(rows, list(fields), batch_size=500)


# --------------------------------------------------------------------------- wording


_DISPUTES: Final[dict[str, tuple[str, ...]]] = {
    "ADDED": (
        "The provider mentions this only once in the history; it was not treated or "
        "monitored during the stay, so I did not report it.",
        "I read the record as not meeting the criteria for an additional diagnosis: no "
        "treatment, no work-up, no extra monitoring.",
    ),
    "DELETED": (
        "This condition is documented by the attending in the progress notes and it "
        "affected the care given, so I reported it.",
        "The code is supported by the physician's assessment on day 2; please look again.",
    ),
    "REVISED": (
        "The documentation supports the code I assigned; the specificity is in the "
        "discharge summary.",
        "The provider's final diagnostic statement supports my code, not the audited one.",
    ),
    "POA_CHANGED": (
        "The condition was documented in the emergency department before the order to "
        "admit, so it was present on admission.",
    ),
    "MODIFIER_CHANGED": (
        "The procedure was at a separate site and session per the operative note, so the "
        "modifier as I reported it applies.",
    ),
    "UNITS_CHANGED": (
        "The medication administration record shows the dose I billed; the units follow "
        "the HCPCS descriptor.",
    ),
    "RESEQUENCED": (
        "The admission was for the localized infection; sepsis was diagnosed after "
        "admission, so the infection stays principal.",
    ),
    "DISPOSITION_CHANGED": (
        "The discharge order and the case management note say home; the SNF referral was "
        "declined by the patient.",
    ),
}
_EM_DISPUTE: Final = (
    "The medical decision making meets the level I billed: two of the three elements "
    "(problems and risk) are at that level."
)
_UPHELD: Final = (
    "Reviewed again with the full record: the finding stands as released.",
    "Upheld: the documentation does not support the original coding; see the rationale "
    "and reference on the finding.",
)
_OVERTURNED: Final = (
    "Overturned: on re-review the documentation supports the coder's coding. The audited "
    "version is restored.",
    "The coder is right: the note supports the original code. Finding withdrawn.",
)
_MODIFIED: Final = (
    "Modified: the record supports neither coding fully; the audited coding is changed "
    "to the one the documentation supports."
)
_ESCALATIONS: Final = (
    "I still disagree with the decision and would like the coding manager to review it.",
    "Asking the manager to decide: this turns on a payer policy question.",
)
_MANAGER: Final = "Manager decision after review with both sides and the guideline cited."
_QUESTIONS: Final = (
    "Could you point me to where in the record this is documented?",
    "Is this a query opportunity rather than a coding error?",
    "Thanks — does this apply to the observation stays too?",
)
_ANSWERS: Final = (
    "It is in the progress note of day 2 and again in the discharge summary.",
    "A query would have helped here; I have flagged it for CDI as well.",
    "Yes, the same rule applies; the reference on the finding covers it.",
)

# --------------------------------------------------------------------------- education

# The main habit of a coder → (topic code of the library taxonomy or "", resource title,
# library reference keys of `library.seed.REFERENCES`).
_EDUCATION: Final[dict[str, tuple[str, str, tuple[str, ...]]]] = {
    "cc_drop": ("cc-mcc-capture", "Capturing CC/MCC secondary diagnoses",
                ("ocg-additional", "ocg-resp-failure")),
    "misseq": ("sepsis-sequencing", "Sepsis and localized infections: sequencing",
               ("ocg-sepsis-localized", "ocg-principal")),
    "em_over": ("em-leveling", "Office E/M leveling by medical decision making",
                ("org-em-leveling", "cms-em")),
    "em_under": ("em-leveling", "Office E/M leveling: credit the work documented",
                 ("org-em-leveling", "cms-em")),
    "modifier": ("modifier-25-59", "Modifiers 25, 59 and RT/LT",
                 ("ncci-general", "ncci-medicine-em")),
    "units": ("", "Drug units: billing by the HCPCS descriptor", ()),
    "poa": ("poa", "Present-on-admission indicators", ("ocg-poa",)),
    "nonspecific": ("", "Specificity: when an unspecified code is not enough",
                    ("ocg-clinical-criteria",)),
    "unsupported": ("", "Reporting only what the provider documents and the stay supports",
                    ("ocg-additional", "ocg-clinical-criteria")),
    "procedure": ("", "ICD-10-PCS: qualifiers, devices and approach", ()),
    "laterality": ("", "Laterality in ICD-10-CM, ICD-10-PCS and RT/LT", ()),
    "disposition": ("", "Discharge disposition codes and what they pay", ()),
    "omission": ("cc-mcc-capture", "Complete capture of secondary diagnoses",
                 ("ocg-additional",)),
}  # fmt: skip
# A dispute about a finding of this pattern prefix cites these references (when present).
_CITED: Final[dict[str, tuple[str, ...]]] = {
    "RESEQUENCED": ("ocg-sepsis-localized",),
    "POA_CHANGED": ("ocg-poa",),
    "MODIFIER_CHANGED": ("ncci-general",),
    "ADDED:DX": ("ocg-additional",),
    "DELETED:DX": ("ocg-clinical-criteria",),
    "REVISED:LINE:992": ("org-em-leveling",),
}


def _references(organization: Organization) -> dict[str, Reference]:
    """The seeded library's references by their seed key."""
    by_key: dict[tuple[str, str, str, str], Reference] = {
        (r.source, r.section, r.chapter, r.title): r
        for r in Reference.objects.filter(organization=organization)
    }
    out: dict[str, Reference] = {}
    for key, spec in REFERENCES.items():
        ref = by_key.get(
            (
                spec["source"],
                spec.get("section", ""),
                spec.get("chapter", ""),
                spec.get("title", ""),
            )
        )
        if ref is not None:
            out[key] = ref
    return out


# --------------------------------------------------------------------------- the history


@dataclass
class HistorySummary:
    """What `coaching_history` did: outcomes planned and the final counts."""

    statuses: Counter[str] = field(default_factory=Counter)
    """Released findings (active or kept as a record) by final status."""
    outcomes: Counter[str] = field(default_factory=Counter)
    """Steps run, by kind (agree, dispute, upheld, overturned, ..., skipped)."""
    education: Counter[str] = field(default_factory=Counter)
    followups: int = 0
    new_drafts: int = 0
    """Draft findings the decisions' re-derivations left in released audits."""

    def lines(self) -> list[str]:
        def fmt(c: Counter[str]) -> str:
            return ", ".join(f"{k} {n}" for k, n in sorted(c.items()))

        return [
            f"findings by status: {fmt(self.statuses)}",
            f"coaching steps: {fmt(self.outcomes)}",
            f"education: {fmt(self.education)}; {self.followups} follow-up reviews",
        ] + ([f"new draft findings after decisions: {self.new_drafts}"] if self.new_drafts else [])


@dataclass
class _World:
    organization: Organization
    rng: random.Random
    clock: _Clock
    refs: dict[str, Reference]
    manager: User
    educator: User
    fallback_auditor: User
    summary: HistorySummary
    comments: dict[int, Comment] = field(default_factory=dict)
    completed: dict[int, datetime] = field(default_factory=dict)
    """Assignment id → when its coder completed it (the service stamps now)."""


def _current(finding: Finding, statuses: Iterable[str]) -> bool:
    """Whether the finding still arises and is in one of `statuses` (a sibling's overturned
    decision may have made it inactive: then nobody is offered to answer or decide it)."""
    finding.refresh_from_db(fields=["status", "active"])
    return finding.active and finding.status in set(statuses)


def _simple_modification(finding: Finding) -> AuditedLine | None:
    """The E/M level met halfway when the billed and audited levels are two or more apart;
    None otherwise (drug units or codes have no plausible "middle")."""
    o, a = finding.original_code, finding.audited_code
    if not (
        finding.kind == "REVISED"
        and finding.group == "LINE"
        and finding.em_delta is not None
        and abs(finding.em_delta) >= 2
        and len(o) == len(a) == 5
        and o[:4] == a[:4]
        and o[4].isdigit()
        and a[4].isdigit()
    ):
        return None
    row = (
        CodeLine.objects.filter(
            encounter_id=finding.encounter_id,
            version=CodeLine.Version.AUDITED,
            group="LINE",
            code=a,
        )
        .order_by("seq")
        .first()
    )
    if row is None:
        return None
    middle = f"{a[:4]}{(int(o[4]) + int(a[4])) // 2}"
    return AuditedLine(row.system, middle, row.poa, normalize_modifiers(row.modifiers), row.units)


def _cited(world: _World, finding: Finding) -> list[Reference]:
    for prefix, keys in _CITED.items():
        if finding.pattern.startswith(prefix):
            return [world.refs[k] for k in keys if k in world.refs]
    return []


def _plan_finding(
    world: _World,
    finding: Finding,
    *,
    released: datetime,
    recent: bool,
    escalate: str,
    coder: User,
    auditor: User,
) -> None:
    """Plan one released finding's answers, decision, thread and close."""
    rng, clock, summary = world.rng, world.clock, world.summary
    roll = rng.random()
    if recent and roll < UNANSWERED_SHARE:
        summary.outcomes["unanswered"] += 1
        return
    late = rng.random() < 0.16
    answered = _later(rng, released, (8, 12) if late else (0, 6))

    if rng.random() < COMMENT_SHARE:
        asked = _later(rng, released, (0, 1))
        replied = asked + timedelta(hours=rng.randint(2, 30))
        question, reply = rng.choice(_QUESTIONS), rng.choice(_ANSWERS)
        answered = max(answered, replied + timedelta(hours=rng.randint(2, 48)))

        def ask() -> None:
            world.comments[finding.pk] = comment_add(finding=finding, actor=coder, text=question)
            summary.outcomes["comment"] += 1

        def answer() -> None:
            comment_add(
                finding=finding, actor=auditor, text=reply, parent=world.comments[finding.pk]
            )
            summary.outcomes["comment"] += 1

        clock.at(asked, ask)
        clock.at(replied, answer)

    modification = _simple_modification(finding)
    share = EM_GAP_DISPUTE_SHARE if modification is not None else DISPUTE_SHARE
    disputable = finding.kind not in _NO_DISPUTE_KINDS
    if not (disputable and (escalate or rng.random() < share)):

        def agree() -> None:
            if _current(finding, {S.RELEASED}):
                finding_agree(finding=finding, actor=coder)
                summary.outcomes["agree"] += 1
            else:
                summary.outcomes["skipped (no longer current)"] += 1

        clock.at(answered, agree)
        if recent and rng.random() < 0.05:
            summary.outcomes["left to close"] += 1
            return
        _plan_close(world, finding, after=answered, auditor=auditor)
        return

    rationale = (
        _EM_DISPUTE
        if finding.pattern.startswith("REVISED:LINE:992")
        else rng.choice(_DISPUTES.get(finding.kind, _DISPUTES["REVISED"]))
    )
    cites = _cited(world, finding) if rng.random() < 0.6 else []

    def dispute() -> None:
        if _current(finding, {S.RELEASED}):
            finding_dispute(finding=finding, actor=coder, rationale=rationale, references=cites)
            summary.outcomes["dispute"] += 1
        else:
            summary.outcomes["skipped (no longer current)"] += 1

    clock.at(answered, dispute)
    if recent and not escalate and rng.random() < 0.2:
        summary.outcomes["dispute left undecided"] += 1
        return

    decided = _later(rng, answered, (1, 5))
    if escalate:
        # By a coder who still disagrees after an upheld decision, or by the auditor who
        # wants the manager's call instead of deciding.
        decision = S.UPHELD
    elif modification is not None and rng.random() < MODIFY_SHARE:
        decision = S.MODIFIED
    elif rng.random() < OVERTURN_SHARE:
        decision = S.OVERTURNED
    else:
        decision = S.UPHELD

    def decide(by: User, choice: str, text: str) -> Callable[[], None]:
        def step() -> None:
            if not _current(finding, {S.DISPUTED, S.ESCALATED}):
                summary.outcomes["skipped (no longer current)"] += 1
                return
            finding_decide(
                finding=finding,
                actor=by,
                decision=choice,
                rationale=text,
                new_line=modification if choice == S.MODIFIED else None,
            )
            summary.outcomes[choice] += 1

        return step

    last = decided
    if escalate == "auditor":
        clock.at(decided, partial(_escalate, world, finding, auditor, _ESCALATIONS[1]))
    else:
        text = {S.UPHELD: _UPHELD, S.OVERTURNED: _OVERTURNED}.get(decision, (_MODIFIED,))
        clock.at(decided, decide(auditor, decision, rng.choice(text)))
    if escalate == "coder":
        last = _later(rng, decided, (1, 3))
        clock.at(last, partial(_escalate, world, finding, coder, _ESCALATIONS[0]))
    if escalate:
        last = _later(rng, last, (2, 5))
        final = S.OVERTURNED if escalate == "auditor" else S.UPHELD
        clock.at(last, decide(world.manager, final, _MANAGER))
    _plan_close(world, finding, after=last, auditor=auditor)


def _escalate(world: _World, finding: Finding, actor: User, text: str) -> None:
    if _current(finding, {S.DISPUTED, S.UPHELD, S.MODIFIED}):
        finding_escalate(finding=finding, actor=actor, rationale=text)
        world.summary.outcomes["escalate"] += 1
    else:
        world.summary.outcomes["skipped (no longer current)"] += 1


def _plan_close(world: _World, finding: Finding, *, after: datetime, auditor: User) -> None:
    """The auditor closes an agreed or decided finding 1–10 days after the last answer.

    Overturned findings are closed too: `Finding.decision` keeps the reversal on record
    after the close, so the coder still sees it.
    """
    closed = _later(world.rng, after, (1, 10))

    def close() -> None:
        finding.refresh_from_db(fields=["status", "active", "decision"])
        decided_inactive = not finding.active and finding.status == S.OVERTURNED
        if (finding.active or decided_inactive) and finding.status in {
            S.AGREED,
            S.UPHELD,
            S.MODIFIED,
            S.OVERTURNED,
        }:
            finding_close(finding=finding, actor=auditor)
            world.summary.outcomes["close"] += 1
        else:
            world.summary.outcomes["skipped (no longer current)"] += 1

    world.clock.at(closed, close)


def _main_habit(coder_name: str) -> str:
    profile = next(c for c in CODERS if c.name == coder_name)
    return profile.habits[0][0]


def _within(rng: random.Random, start: datetime, end: datetime) -> datetime:
    """A working-hours moment strictly between `start` and `end` (their middle if none)."""
    day = start.date() + timedelta(days=rng.randint(0, max(0, (end - start).days)))
    at = _moment(day, rng.randint(8, 16), rng.randrange(0, 60))
    return at if start < at < end else start + (end - start) / 2


@dataclass
class _Lesson:
    """One planned assignment and, once the step ran, the assignment it made."""

    coder: Coder
    pattern: str
    findings: list[Finding]
    due: date
    followup: bool
    assignment: EducationAssignment | None = None


def _assign(world: _World, lesson: _Lesson) -> None:
    topic, title, ref_keys = _EDUCATION[_main_habit(lesson.coder.name)]
    slug = topic or lesson.pattern.split(":")[0].lower().replace("_", "-")
    (lesson.assignment,) = assignments_create(
        organization=world.organization,
        coders=[lesson.coder],
        resource_title=title,
        resource_url=f"https://learning.demo-health.example/modules/{slug}",
        due_date=lesson.due,
        topic=topic,
        pattern_key=lesson.pattern,
        findings=lesson.findings,
        references=[world.refs[k] for k in ref_keys if k in world.refs],
        followup_encounters=FOLLOWUP_ENCOUNTERS if lesson.followup else 0,
        actor=world.educator,
    )


def _complete(world: _World, lesson: _Lesson, score: int | None, when: datetime) -> None:
    assert lesson.assignment is not None  # assigned at an earlier step
    world.completed[lesson.assignment.pk] = min(when, world.clock.now)
    assignment_complete(
        assignment=lesson.assignment,
        attestation_text="I have completed the module and will apply it to my coding.",
        quiz_score=score,
        actor=lesson.coder.user,
    )


def _plan_education(
    world: _World,
    audits: Sequence[Audit],
    times: dict[int, CycleTimes],
    in_review: Audit | None,
    coders: dict[int, Coder],
) -> None:
    """A round of education after each release for the coders whose main pattern shows.

    The round after the last release is a longer module due mid-October: its two coders with
    the most findings of their pattern have not completed it (overdue now), the others
    complete it once the next audit is set up, so their follow-up reviews can choose
    encounters from it (earlier rounds schedule none: no audit was in review then).
    """
    rng, clock = world.rng, world.clock
    followups_from = times[in_review.pk].created if in_review is not None else None
    for index, audit in enumerate(audits):
        last_round = index == len(audits) - 1 and index > 0
        released = times[audit.pk].released
        counts: dict[int, Counter[str]] = defaultdict(Counter)
        findings: dict[tuple[int, str], list[Finding]] = defaultdict(list)
        rows = (
            Finding.objects.filter(encounter__audit=audit, active=True)
            .exclude(kind__in=_NO_DISPUTE_KINDS)
            .select_related("encounter")
            .order_by("encounter__external_id", "position")
        )
        for f in rows:
            if f.encounter.coder_id is not None:
                counts[f.encounter.coder_id][f.pattern] += 1
                findings[(f.encounter.coder_id, f.pattern)].append(f)
        chosen: list[tuple[Coder, str, int]] = []
        for coder_id, by_pattern in counts.items():
            pattern, n = min(by_pattern.items(), key=lambda kv: (-kv[1], kv[0]))
            coder = coders[coder_id]
            if coder.name not in STRONG_CODERS and coder.user_id and n >= 3:
                chosen.append((coder, pattern, n))
        chosen.sort(key=lambda c: c[0].name)
        open_left: set[str] = set()
        if last_round:
            chosen = sorted(chosen, key=lambda c: (-c[2], c[0].name))[:5]
            open_left = {c.name for c, _, _ in chosen[:2]}
        for coder, pattern, _ in chosen:
            assigned = _later(rng, released, (6, 12))
            due = (
                (released + timedelta(days=LONG_MODULE_DAYS)).date()
                if last_round
                else (assigned + timedelta(days=MODULE_DAYS)).date()
            )
            due_end = _moment(due, 17)
            follow = last_round and followups_from is not None and followups_from < due_end
            lesson = _Lesson(coder, pattern, findings[(coder.pk, pattern)], due, follow)
            clock.at(assigned, partial(_assign, world, lesson))
            if coder.name in open_left:
                continue
            late = rng.random() < (0.25 if last_round else 0.15)
            if late:
                done = _later(rng, due_end, (1, 9))
            else:
                start = assigned + timedelta(days=2)
                if follow and followups_from is not None:
                    start = max(start, followups_from)
                done = _within(rng, start, due_end)
            score = rng.randint(70, 100) if rng.random() < 0.6 else None
            clock.at(done, partial(_complete, world, lesson, score, done))


def coaching_history(
    *, organization: Organization, seed: int, now: datetime | None = None
) -> HistorySummary:
    """Give the organization's released demo audits a coaching history (see the module).

    Call it once, right after the audits are imported, inside the same transaction.
    """
    now = now or timezone.now()
    backdating_allow()  # the clock dates the log entries of the history it makes
    summary = HistorySummary()
    audits = list(Audit.objects.filter(organization=organization).order_by("cycle", "pk"))
    released = [a for a in audits if a.status == Audit.Status.RELEASED]
    in_review = next((a for a in audits if a.status != Audit.Status.RELEASED), None)
    times = {a.pk: cycle_times(a.cycle, now=now) for a in audits}
    users = {u.username: u for u in User.objects.filter(memberships__organization=organization)}
    coders = {
        c.pk: c for c in Coder.objects.filter(organization=organization).select_related("user")
    }
    world = _World(
        organization=organization,
        rng=random.Random(f"coaching-{seed}"),
        clock=_Clock(now),
        refs=_references(organization),
        manager=users["manager"],
        educator=users["educator"],
        fallback_auditor=users["auditor.raj"],
        summary=summary,
    )
    _backdate_setup(organization, audits, times)

    for index, audit in enumerate(released):
        recent = index == len(released) - 1
        findings = list(
            Finding.objects.filter(encounter__audit=audit, active=True, status=S.RELEASED)
            .select_related("encounter", "encounter__auditor", "encounter__organization")
            .order_by("encounter__external_id", "position")
        )
        # Two escalations in the older audits: one by a coder after an upheld decision,
        # one by an auditor who wants the manager's call.
        escalations = {} if recent else _escalation_picks(world.rng, findings, index)
        for finding in findings:
            coder = coders[finding.encounter.coder_id].user if finding.encounter.coder_id else None
            if coder is None:
                continue
            _plan_finding(
                world,
                finding,
                released=times[audit.pk].released,
                recent=recent,
                escalate=escalations.get(finding.pk, ""),
                coder=coder,
                auditor=finding.encounter.auditor or world.fallback_auditor,
            )
    _plan_education(world, released, times, in_review, coders)
    before_drafts = set(
        Finding.objects.filter(encounter__audit__in=released, status=S.DRAFT).values_list(
            "pk", flat=True
        )
    )
    world.clock.run()
    world.clock.rewrite()
    done = list(EducationAssignment.objects.filter(pk__in=world.completed))
    for assignment in done:
        assignment.completed_at = world.completed[assignment.pk]
    EducationAssignment.objects.bulk_update(done, ["completed_at"])
    _stamp_findings(released, times)
    summary.new_drafts = (
        Finding.objects.filter(encounter__audit__in=released, status=S.DRAFT)
        .exclude(pk__in=before_drafts)
        .count()
    )
    summary.statuses = Counter(
        Finding.objects.filter(encounter__audit__in=released)
        .exclude(status=S.DRAFT)
        .values_list("status", flat=True)
    )
    for a in EducationAssignment.objects.filter(organization=organization):
        if a.status == EducationAssignment.Status.ASSIGNED:
            summary.education["open, overdue" if a.is_overdue(now.date()) else "open"] += 1
        else:
            summary.education["on time" if a.completed_on_time else "late"] += 1
    summary.followups = FollowUpReview.objects.filter(organization=organization).count()
    return summary


def _escalation_picks(rng: random.Random, findings: list[Finding], index: int) -> dict[int, str]:
    candidates = [f for f in findings if f.kind not in _NO_DISPUTE_KINDS]
    if index > 1 or len(candidates) < 2:
        return {}
    a, b = rng.sample(candidates, 2)
    return {a.pk: "coder"} if index == 0 else {b.pk: "auditor"}


def _stamp_findings(audits: Sequence[Audit], times: dict[int, CycleTimes]) -> None:
    """Release times on audits, encounters and findings; `updated_at` at the last event."""
    for audit in audits:
        t = times[audit.pk]
        Audit.objects.filter(pk=audit.pk).update(released_at=t.released)
        last_event = (
            FindingEvent.objects.filter(finding=OuterRef("pk")).order_by("-at").values("at")[:1]
        )
        Finding.objects.filter(encounter__audit=audit).update(
            released_at=t.released,
            created_at=t.created,
            updated_at=Coalesce(Subquery(last_event), models.Value(t.released)),
        )
        last_decision = (
            FindingEvent.objects.filter(
                finding__encounter=OuterRef("pk"), kind=FindingEvent.Kind.DECIDE
            )
            .order_by("-at")
            .values("at")[:1]
        )
        Encounter.objects.filter(audit=audit).update(
            released_at=t.released,
            updated_at=Coalesce(Subquery(last_decision), models.Value(t.released)),
        )


def _backdate_setup(
    organization: Organization, audits: Sequence[Audit], times: dict[int, CycleTimes]
) -> None:
    """The organization, its people and library were set up before the first audit, and each
    audit was imported on its set-up day (its in-review encounters too)."""
    if not audits:
        return
    setup = min(t.created for t in times.values()) - timedelta(days=14)
    Organization.objects.filter(pk=organization.pk).update(created_at=setup)
    Membership.objects.filter(organization=organization).update(created_at=setup)
    User.objects.filter(memberships__organization=organization).update(date_joined=setup)
    for roster in (Coder, Facility, Provider, ServiceLine):
        roster.objects.filter(organization=organization).update(created_at=setup)
    Reference.objects.filter(organization=organization).update(created_at=setup, updated_at=setup)
    RationaleTemplate.objects.filter(organization=organization).update(
        created_at=setup, updated_at=setup
    )
    AuditLogEntry.objects.filter(organization=organization).update(at=setup)
    for audit in audits:
        created = times[audit.pk].created
        Audit.objects.filter(pk=audit.pk).update(created_at=created)
        AuditLogEntry.objects.filter(
            organization=organization, action="audit.import", object_id=str(audit.public_id)
        ).update(at=created)
        if audit.status != Audit.Status.RELEASED:
            Finding.objects.filter(encounter__audit=audit).update(
                created_at=created, updated_at=created
            )
            Encounter.objects.filter(audit=audit).update(updated_at=created)
