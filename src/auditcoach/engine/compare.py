"""Comparing the original and the audited codes of an encounter (DESIGN §5, exactly).

Each group (DX, PX, LINE) is compared on its own: exact matches, then revisions by
longest common prefix, then deletions and additions. The principal diagnosis, the DRG
and the discharge disposition are encounter-level checks on top. Findings come out in a
stable order: per group (DX, PX, LINE) the exact-match findings, revisions, deletions and
additions, then RESEQUENCED, DISPOSITION_CHANGED and DRG_CHANGED.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from auditcoach.engine.codes import em_family, em_level, format_modifiers
from auditcoach.engine.model import (
    ADDED,
    DELETED,
    DISPOSITION_CHANGED,
    DRG_CHANGED,
    GROUPS,
    MODIFIER_CHANGED,
    POA_CHANGED,
    RESEQUENCED,
    REVISED,
    UNITS_CHANGED,
    CodeChecker,
    CodeLine,
    DrgClaim,
    Encounter,
    EncounterResult,
    Finding,
    Grouper,
    GroupTally,
    Pricing,
)

# An audited POA of these values is checked; blank and 1 (exempt) never give a finding.
POA_CHECKED = frozenset({"Y", "N", "U", "W"})
MIN_PREFIX = 3
CENT = Decimal("0.01")


@dataclass(frozen=True, slots=True)
class GroupComparison:
    """The pairing of one group: findings, tally, and which lines were paired how."""

    findings: tuple[Finding, ...]
    tally: GroupTally
    poa_checked: int
    poa_changed: int


def common_prefix_length(a: str, b: str) -> int:
    n = 0
    for x, y in zip(a, b, strict=False):
        if x != y:
            break
        n += 1
    return n


def _em_delta(original: str, audited: str) -> int | None:
    """DESIGN §5.7: audited level − billed level for two E/M codes of the same family."""
    family = em_family(original)
    if family is None or family != em_family(audited):
        return None
    return em_level(audited) - em_level(original)


def compare_group(
    group: str,
    original: list[CodeLine],
    audited: list[CodeLine],
    *,
    inpatient: bool,
    audited_principal_seq: int | None = None,
) -> GroupComparison:
    """Steps 1 to 3 of DESIGN §5 for one group of one encounter.

    `original` and `audited` are the group's lines in seq order. `audited_principal_seq`
    (DX only) marks the findings whose audited line is the audited principal line.
    """
    findings: list[Finding] = []
    poa_checked = poa_changed = 0
    line_errors = 0

    def is_principal(line: CodeLine | None) -> bool:
        return line is not None and group == "DX" and line.seq == audited_principal_seq

    # Step 1: exact matches; repeats of a code pair in seq order.
    unpaired_audited: dict[str, list[CodeLine]] = {}
    for line in audited:
        unpaired_audited.setdefault(line.code, []).append(line)
    rest_original: list[CodeLine] = []
    matched_audited: set[int] = set()
    matched = 0
    for o in original:
        candidates = unpaired_audited.get(o.code)
        if not candidates:
            rest_original.append(o)
            continue
        a = candidates.pop(0)
        matched_audited.add(a.seq)
        matched += 1
        if group == "DX" and inpatient and a.poa in POA_CHECKED:
            poa_checked += 1
            if o.poa != a.poa:
                poa_changed += 1
                findings.append(
                    Finding(
                        POA_CHANGED,
                        group,
                        o.code,
                        a.code,
                        principal=is_principal(a),
                        original_value=o.poa,
                        audited_value=a.poa,
                        original_seq=o.seq,
                        audited_seq=a.seq,
                    )
                )
        if group == "LINE":
            pair_has_error = False
            if o.modifiers != a.modifiers:
                pair_has_error = True
                findings.append(
                    Finding(
                        MODIFIER_CHANGED,
                        group,
                        o.code,
                        a.code,
                        original_value=format_modifiers(o.modifiers),
                        audited_value=format_modifiers(a.modifiers),
                        original_seq=o.seq,
                        audited_seq=a.seq,
                    )
                )
            if o.units != a.units:
                pair_has_error = True
                findings.append(
                    Finding(
                        UNITS_CHANGED,
                        group,
                        o.code,
                        a.code,
                        original_value=str(o.units),
                        audited_value=str(a.units),
                        original_seq=o.seq,
                        audited_seq=a.seq,
                    )
                )
            line_errors += pair_has_error  # a pair with both errors counts once
    rest_audited = [a for a in audited if a.seq not in matched_audited]

    # Step 2: revisions by longest common prefix (>= 3), ties by original then audited seq.
    # Pair scores never change as pairs are taken, so one sorted pass is the same as
    # repeatedly taking the best remaining pair.
    candidates_lcp: list[tuple[int, int, int, CodeLine, CodeLine]] = []
    for o in rest_original:
        for a in rest_audited:
            n = common_prefix_length(o.code, a.code)
            if n >= MIN_PREFIX:
                candidates_lcp.append((-n, o.seq, a.seq, o, a))
    candidates_lcp.sort(key=lambda c: (c[0], c[1], c[2]))
    revised_original: set[int] = set()
    revised_audited: set[int] = set()
    revised = 0
    for _, o_seq, a_seq, o, a in candidates_lcp:
        if o_seq in revised_original or a_seq in revised_audited:
            continue
        revised_original.add(o_seq)
        revised_audited.add(a_seq)
        revised += 1
        findings.append(
            Finding(
                REVISED,
                group,
                o.code,
                a.code,
                principal=is_principal(a),
                em_delta=_em_delta(o.code, a.code) if group == "LINE" else None,
                original_seq=o.seq,
                audited_seq=a.seq,
            )
        )

    # Step 3: what is left over was deleted (unsupported) or added (missed).
    deleted = 0
    for o in rest_original:
        if o.seq not in revised_original:
            deleted += 1
            findings.append(Finding(DELETED, group, o.code, None, original_seq=o.seq))
    added = 0
    for a in rest_audited:
        if a.seq not in revised_audited:
            added += 1
            findings.append(
                Finding(ADDED, group, None, a.code, principal=is_principal(a), audited_seq=a.seq)
            )

    tally = GroupTally(
        audited=len(audited),
        original=len(original),
        matched=matched,
        revised=revised,
        added=added,
        deleted=deleted,
        line_errors=line_errors,
    )
    return GroupComparison(tuple(findings), tally, poa_checked, poa_changed)


def _by_group(lines: tuple[CodeLine, ...]) -> dict[str, list[CodeLine]]:
    out: dict[str, list[CodeLine]] = {g: [] for g in GROUPS}
    for line in lines:
        out[line.group].append(line)
    for group_lines in out.values():
        group_lines.sort(key=lambda line: line.seq)
    return out


def _em_multiset(lines: list[CodeLine]) -> Counter[str]:
    return Counter(line.code for line in lines if em_family(line.code) is not None)


def drg_claim(encounter: Encounter, version: str) -> DrgClaim:
    """The grouper input for one version: DX in seq order (principal first), PX in seq order."""
    lines = _by_group(encounter.original if version == "original" else encounter.audited)
    disposition = (
        encounter.discharge_disposition
        if version == "original"
        else encounter.effective_audited_disposition
    )
    return DrgClaim(
        discharge_date=encounter.discharge_date,
        age=encounter.age,
        sex=encounter.sex,
        disposition=disposition,
        diagnoses=tuple((line.code, line.poa) for line in lines["DX"]),
        procedures=tuple(line.code for line in lines["PX"]),
    )


def _round_cents(amount: Decimal) -> Decimal:
    return amount.quantize(CENT, rounding=ROUND_HALF_UP)


def compare_encounter(
    encounter: Encounter,
    *,
    grouper: Grouper | None = None,
    pricing: Pricing | None = None,
    base_rate: Decimal | None = None,
    checker: CodeChecker | None = None,
) -> EncounterResult:
    """All of DESIGN §5 for one encounter, plus the per-encounter inputs of §6.

    Without a grouper, DRGs stay null (and DRG accuracy does not count the encounter).
    `base_rate` (dollars) overrides the pricing's default base rate of the fiscal year.
    A `checker` adds what the code sets say about each code (as `code_issues`, and as
    warnings ahead of the DRG and money ones).
    """
    inpatient = encounter.setting == "inpatient"
    original = _by_group(encounter.original)
    audited = _by_group(encounter.audited)
    code_issues = checker.check(encounter) if checker is not None else ()
    warnings: list[str] = [str(issue) for issue in code_issues]

    original_principal = original["DX"][0] if original["DX"] else None
    audited_principal = audited["DX"][0] if audited["DX"] else None

    findings: list[Finding] = []
    tallies: dict[str, GroupTally] = {}
    poa_checked = poa_changed = 0
    for group in GROUPS:
        comparison = compare_group(
            group,
            original[group],
            audited[group],
            inpatient=inpatient,
            audited_principal_seq=audited_principal.seq if audited_principal else None,
        )
        findings.extend(comparison.findings)
        tallies[group] = comparison.tally
        poa_checked += comparison.poa_checked
        poa_changed += comparison.poa_changed

    # Step 4: the coder had the audited principal, but not as principal.
    original_principal_code = original_principal.code if original_principal else None
    audited_principal_code = audited_principal.code if audited_principal else None
    if (
        audited_principal is not None
        and original_principal_code != audited_principal_code
        and any(line.code == audited_principal_code for line in original["DX"])
    ):
        findings.append(
            Finding(
                RESEQUENCED,
                "DX",
                original_principal_code,
                audited_principal_code,
                principal=True,
                original_seq=original_principal.seq if original_principal else None,
                audited_seq=audited_principal.seq,
            )
        )

    # Step 6 (inpatient only): discharge disposition.
    audited_disposition = encounter.effective_audited_disposition
    if (
        inpatient
        and encounter.discharge_disposition
        and audited_disposition
        and audited_disposition != encounter.discharge_disposition
    ):
        findings.append(
            Finding(
                DISPOSITION_CHANGED,
                "-",
                encounter.discharge_disposition,
                audited_disposition,
            )
        )

    # Step 5 (inpatient only): DRG, relative weights and money.
    original_drg = audited_drg = None
    original_grouping = audited_grouping = None
    rw_delta = financial_impact = None
    if inpatient and grouper is not None:
        original_grouping = grouper.group(drg_claim(encounter, "original"))
        audited_grouping = grouper.group(drg_claim(encounter, "audited"))
        if original_grouping is None or audited_grouping is None:
            warnings.append(
                f"no MS-DRG grouper version covers the discharge date "
                f"{encounter.discharge_date.isoformat()}; DRGs not compared"
            )
        else:
            audited_drg = audited_grouping.drg
            original_drg = original_grouping.drg
            if encounter.billed_drg:
                original_drg = encounter.billed_drg
                if encounter.billed_drg != original_grouping.drg:
                    warnings.append(
                        f"billed DRG {encounter.billed_drg} differs from the grouping of "
                        f"the original codes ({original_grouping.drg})"
                    )
    # Not yet reviewed (DESIGN §9): the audited version is the coder's coding, an exact copy,
    # so nothing is found and there is no money at stake (nor a warning about it) until the
    # auditor marks it reviewed; the DRGs are still grouped and shown. (A billed DRG that
    # differs from the grouping is found then, as DRG_CHANGED.)
    if original_drg is not None and audited_drg is not None and encounter.reviewed:
        original_rw = audited_rw = None
        if pricing is not None:
            original_rw = pricing.weight(original_drg, encounter.discharge_date)
            audited_rw = pricing.weight(audited_drg, encounter.discharge_date)
            for drg, rw in ((original_drg, original_rw), (audited_drg, audited_rw)):
                if rw is None:
                    warnings.append(
                        f"no relative weight for DRG {drg} on "
                        f"{encounter.discharge_date.isoformat()}; financial impact unknown"
                    )
        if original_rw is not None and audited_rw is not None:
            rw_delta = audited_rw - original_rw
            rate = base_rate
            if rate is None and pricing is not None:
                rate = pricing.default_base_rate(encounter.discharge_date)
            if rate is None:
                warnings.append(
                    "no base rate for this facility and fiscal year; set one to see the "
                    "dollar impact"
                )
            else:
                financial_impact = _round_cents(rw_delta * rate)
        if original_drg != audited_drg:
            findings.append(
                Finding(
                    DRG_CHANGED,
                    "-",
                    original_drg,
                    audited_drg,
                    original_rw=original_rw,
                    audited_rw=audited_rw,
                )
            )

    em_original = _em_multiset(original["LINE"])
    em_audited = _em_multiset(audited["LINE"])
    return EncounterResult(
        encounter_id=encounter.encounter_id,
        setting=encounter.setting,
        findings=tuple(findings),
        tallies=tallies,
        pdx_counted=inpatient and audited_principal is not None,
        pdx_same=inpatient
        and audited_principal is not None
        and original_principal_code == audited_principal_code,
        poa_checked=poa_checked,
        poa_changed=poa_changed,
        drg_counted=original_drg is not None and audited_drg is not None,
        original_drg=original_drg,
        audited_drg=audited_drg,
        original_grouping=original_grouping,
        audited_grouping=audited_grouping,
        rw_delta=rw_delta,
        financial_impact=financial_impact,
        em_counted=bool(em_audited),
        em_same=bool(em_audited) and em_original == em_audited,
        code_issues=code_issues,
        warnings=tuple(warnings),
        reviewed=encounter.reviewed,
    )
