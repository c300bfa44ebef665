"""X12 837I (005010X223A2) and 837P (005010X222A1) claims into §9 tables (DESIGN §14).

Two passes over one file, both required to pass:
1. `pyx12` validates the whole file against its implementation-guide maps (segments,
   loops, element types, code values, SE/GE/IEA counts and control numbers). Its findings
   become problems at their segment and line. One of them is overruled: POA "1" (CMS's
   "exempt from POA reporting", which §9 accepts) where pyx12's map lists only Y/N/U/W.
2. A segment reader of our own walks the same segments once more, checks the envelopes
   itself (so a count or control-number mismatch is named by its element: SE01, GE02,
   IEA01, ...) and takes the fields of §14 out of each claim. pyx12 is not used to extract:
   its loop walker is the slow part and the reader only reads what pyx12 has vouched for.

The rows then go through `engine.workbook.read_tables` like any workbook. Every problem is
reported with the file's name as `sheet`, the line of the segment as `row`, the segment and
element as `column` (e.g. "CLM01", "DTP03", "HI02-9") and the segment's position in the file
in the message; nothing is returned when anything is wrong. docs/intake.md has the mapping.
"""

from __future__ import annotations

import gc
import io
import json
import logging
import re
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any, Final

from auditcoach.engine.workbook import Workbook
from auditcoach.intake.common import (
    Collector,
    IntakeLimits,
    Tables,
    Where,
    line_system,
    read_capped,
    single,
)

__all__ = ["VERSIONS", "read_x12", "read_x12_text"]

VERSIONS: Final = {"005010X223A2": "I", "005010X222A1": "P"}
"""The implementation guides read: GS08 / ST03 → institutional (I) or professional (P)."""

_ISA_LEN: Final = 106
_SEG_ID: Final = re.compile(r"[A-Z][A-Z0-9]{1,2}")
_WHOLE: Final = re.compile(r"([0-9]+)(?:\.0*)?")
_ICD9: Final = {"BK", "BF", "BN", "BR", "BQ", "BJ", "PR"}
_ENVELOPE_CHECKED: Final = re.compile(r"count|control|does not match|trailer", re.IGNORECASE)

_log = logging.getLogger("pyx12")
_log.addHandler(logging.NullHandler())
_log.propagate = False  # pyx12 logs every finding; they are problems here instead


@dataclass(slots=True)
class _Seg:
    pos: int  # 1-based position in the file (ISA = 1), as pyx12 counts
    line: int  # the line the segment starts on
    elements: list[str]

    @property
    def id(self) -> str:
        return self.elements[0]

    def get(self, i: int) -> str:
        return self.elements[i].strip() if i < len(self.elements) else ""

    def place(self) -> str:
        return f"segment {self.pos} ({self.id})"


@dataclass(slots=True)
class _Claim:
    seg: _Seg
    kind: str  # I or P
    billing: tuple[str, _Seg] | None
    payer: tuple[str, _Seg] | None
    dmg: _Seg | None
    clm05: str = ""
    statement: _Seg | None = None  # DTP*434
    disposition: _Seg | None = None  # CL1
    attending: _Seg | None = None  # NM1*71
    rendering: _Seg | None = None  # NM1*82 (claim level)
    his: list[_Seg] = field(default_factory=list)
    services: list[_Seg] = field(default_factory=list)  # SV1 / SV2 in LX order
    service_dates: list[_Seg] = field(default_factory=list)  # DTP*472
    in_lines: bool = False
    in_cob: bool = False


def read_x12(path: Path, *, limits: IntakeLimits | None = None) -> Workbook:
    """Reads and validates the 837 at `path`; raises WorkbookError listing every problem."""
    limits = limits or IntakeLimits()
    label = Path(path).name or str(path)
    data = read_capped(Path(path), label, limits.max_bytes)
    return read_x12_text(data, label=label, limits=limits)


def read_x12_text(data: bytes, *, label: str, limits: IntakeLimits | None = None) -> Workbook:
    # Millions of small long-lived objects: the cyclic collector would only re-walk them.
    enabled = gc.isenabled()
    gc.disable()
    try:
        return _read_x12_text(data, label=label, limits=limits)
    finally:
        if enabled:
            gc.enable()


def _read_x12_text(data: bytes, *, label: str, limits: IntakeLimits | None = None) -> Workbook:
    limits = limits or IntakeLimits()
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise single(
            label, f"is not text: byte {exc.start + 1} is not ASCII or UTF-8; is this an X12 file?"
        ) from None
    problems = Collector(label)
    segs, fatal = _segments(text, problems, limits)
    if fatal:
        raise problems.error()
    kinds = _envelopes(segs, problems)
    if not kinds and not problems.total:
        problems.add(None, None, "holds no transaction set (ST ... SE): there are no claims")
    tables = Tables(label)
    claims = _claims(segs, kinds, problems, tables)
    if claims == 0 and not problems.total:
        problems.add(None, "CLM", "has no claim: there is no CLM segment in any transaction set")
    if kinds and all(kinds.values()):
        _validate(text, segs, problems)
    if problems.total:
        raise problems.error()
    return tables.validate(limits.workbook)


# --------------------------------------------------------------------------- segments


def _segments(text: str, problems: Collector, limits: IntakeLimits) -> tuple[list[_Seg], bool]:
    """The segments of the file with their positions and lines; True when the file cannot
    be read any further (not X12, a damaged ISA, a segment past the caps)."""
    stripped = text.lstrip("\ufeff \t\r\n")
    line = 1 + text[: len(text) - len(stripped)].count("\n")
    if not stripped.startswith("ISA"):
        problems.add(1, None, "is not an X12 file: it does not start with an ISA segment")
        return [], True
    if len(stripped) < _ISA_LEN:
        problems.add(
            line,
            "ISA",
            f"the ISA segment is cut short ({len(stripped)} of {_ISA_LEN} characters): the file is truncated",
        )
        return [], True
    ele, comp, term = stripped[3], stripped[104], stripped[105]
    seps = {ele, comp, term}
    if len(seps) != 3 or any(c.isalnum() or c == " " for c in seps):
        problems.add(
            line,
            "ISA16",
            "the ISA segment is damaged: its element separator (4th character), component "
            "separator (105th) and segment terminator (106th) must be three different "
            f"symbols, got {ele!r}, {comp!r} and {term!r}",
        )
        return [], True
    pieces = stripped.split(term)
    tail = pieces.pop()
    segs: list[_Seg] = []
    fatal = False
    max_seg, max_ele = limits.max_segment_chars, limits.max_element_chars
    pos = 0
    for piece in pieces:
        body = piece.strip()
        lead = piece[: len(piece) - len(piece.lstrip())]
        seg_line = line + lead.count("\n")
        line += piece.count("\n") + (term == "\n")  # a line break may be the terminator
        if not body:
            continue  # a stray terminator, or a blank line between segments
        pos += 1
        if pos > limits.max_segments:
            problems.add(
                seg_line, None, f"more than {limits.max_segments:,} segments: the rest was not read"
            )
            return segs, True
        if len(body) > max_seg:
            problems.add(
                seg_line,
                body[:3].rstrip(ele),
                f"segment {pos} is {len(body):,} characters long; at most {max_seg:,} are read",
            )
            fatal = True
            continue
        elements = body.split(ele)
        seg = _Seg(pos, seg_line, elements)
        sid = elements[0]
        if not _SEG_ID.fullmatch(sid):
            problems.add(
                seg_line, None, f"segment {pos}: {_shown(sid)} is not a segment identifier"
            )
            fatal = True
            continue
        for i, value in enumerate(elements[1:], start=1):
            if len(value) > max_ele and sid != "ISA":
                problems.add(
                    seg_line,
                    f"{sid}{i:02d}",
                    f"{seg.place()}: the element is {len(value):,} characters long; at most {max_ele} are read",
                )
                fatal = True
        segs.append(seg)
    if tail.strip():
        problems.add(
            line,
            tail.strip()[:3].rstrip(ele) or None,
            f"the file ends inside a segment ({_shown(tail.strip())} has no segment terminator "
            f"{term!r}): it is truncated",
        )
        fatal = fatal or not segs
    return segs, fatal


# --------------------------------------------------------------------------- envelopes


def _envelopes(segs: list[_Seg], problems: Collector) -> dict[int, str | None]:
    """Checks ISA/IEA, GS/GE and ST/SE: pairing, counts and control numbers, GS01/ST01 and
    the version. Returns each transaction set's ST position → its kind (I, P), or None
    when its version is not one AuditCoach reads."""
    add = problems.add
    kinds: dict[int, str | None] = {}
    isa: _Seg | None = None
    gs: _Seg | None = None
    st: _Seg | None = None
    gs_count = st_count = seg_count = 0
    for seg in segs:
        sid = seg.id
        if st is not None:
            seg_count += 1
        if sid == "ISA":
            if isa is not None:
                add(
                    seg.line,
                    "IEA",
                    f"{seg.place()}: a new interchange begins before the IEA of the one at segment {isa.pos}",
                )
            if len(seg.elements) != 17:
                add(
                    seg.line,
                    "ISA",
                    f"{seg.place()}: the ISA must have 16 elements, it has {len(seg.elements) - 1}",
                )
            elif seg.get(12) != "00501":
                add(
                    seg.line,
                    "ISA12",
                    f"{seg.place()}: interchange version {_shown(seg.get(12))}; only 00501 (X12 005010) is read",
                )
            isa, gs, st, gs_count = seg, None, None, 0
        elif sid == "GS":
            if isa is None:
                add(
                    seg.line,
                    "GS",
                    f"{seg.place()}: a functional group outside an interchange (no ISA before it)",
                )
            if gs is not None:
                add(
                    seg.line,
                    "GE",
                    f"{seg.place()}: a new functional group begins before the GE of the one at segment {gs.pos}",
                )
            gs_count += 1
            gs, st, st_count = seg, None, 0
            if seg.get(1) != "HC":
                add(
                    seg.line,
                    "GS01",
                    f"{seg.place()}: functional group {_shown(seg.get(1))}; claims are HC",
                )
            if seg.get(8) not in VERSIONS:
                add(
                    seg.line,
                    "GS08",
                    f"{seg.place()}: version {_shown(seg.get(8))} is not read; AuditCoach reads 005010X223A2 (837I) and 005010X222A1 (837P)",
                )
        elif sid == "ST":
            if gs is None:
                add(
                    seg.line,
                    "ST",
                    f"{seg.place()}: a transaction set outside a functional group (no GS before it)",
                )
            if st is not None:
                add(
                    seg.line,
                    "SE",
                    f"{seg.place()}: a new transaction set begins before the SE of the one at segment {st.pos}",
                )
            st_count += 1
            st, seg_count = seg, 1
            version = seg.get(3) or (gs.get(8) if gs is not None else "")
            kind = VERSIONS.get(version)
            if seg.get(1) != "837":
                add(
                    seg.line,
                    "ST01",
                    f"{seg.place()}: transaction set {_shown(seg.get(1))}; claims are 837",
                )
                kind = None
            elif kind is None:
                add(
                    seg.line,
                    "ST03",
                    f"{seg.place()}: version {_shown(version)} is not read; AuditCoach reads 005010X223A2 (837I) and 005010X222A1 (837P)",
                )
            elif gs is not None and seg.get(3) and gs.get(8) != seg.get(3):
                add(
                    seg.line,
                    "ST03",
                    f"{seg.place()}: version {seg.get(3)} differs from the functional group's {_shown(gs.get(8))}",
                )
                kind = None
            kinds[seg.pos] = kind
        elif sid == "SE":
            if st is None:
                add(seg.line, "SE", f"{seg.place()}: an SE without its ST")
                continue
            _count(seg, 1, seg_count, "segments in the transaction set (ST to SE)", problems)
            if seg.get(2) != st.get(2):
                add(
                    seg.line,
                    "SE02",
                    f"{seg.place()}: control number {_shown(seg.get(2))} differs from ST02 {_shown(st.get(2))} at segment {st.pos}",
                )
            st = None
        elif sid == "GE":
            if st is not None:
                add(
                    seg.line,
                    "SE",
                    f"{seg.place()}: the transaction set at segment {st.pos} has no SE",
                )
                st = None
            if gs is None:
                add(seg.line, "GE", f"{seg.place()}: a GE without its GS")
                continue
            _count(seg, 1, st_count, "transaction sets in the functional group", problems)
            if seg.get(2) != gs.get(6):
                add(
                    seg.line,
                    "GE02",
                    f"{seg.place()}: control number {_shown(seg.get(2))} differs from GS06 {_shown(gs.get(6))} at segment {gs.pos}",
                )
            gs = None
        elif sid == "IEA":
            if gs is not None:
                add(
                    seg.line,
                    "GE",
                    f"{seg.place()}: the functional group at segment {gs.pos} has no GE",
                )
                gs = None
            if isa is None:
                add(seg.line, "IEA", f"{seg.place()}: an IEA without its ISA")
                continue
            _count(seg, 1, gs_count, "functional groups in the interchange", problems)
            if seg.get(2) != isa.get(13):
                add(
                    seg.line,
                    "IEA02",
                    f"{seg.place()}: control number {_shown(seg.get(2))} differs from ISA13 {_shown(isa.get(13))} at segment {isa.pos}",
                )
            isa = None
        elif st is None:
            add(seg.line, sid, f"{seg.place()}: outside a transaction set (ST ... SE)")
    last = segs[-1] if segs else None
    line = last.line if last is not None else None
    for open_seg, trailer in ((st, "SE"), (gs, "GE"), (isa, "IEA")):
        if open_seg is not None:
            add(
                line,
                trailer,
                f"the file ends before the {trailer} of the {open_seg.id} at segment {open_seg.pos}: it is truncated",
            )
    return kinds


def _count(seg: _Seg, i: int, actual: int, what: str, problems: Collector) -> None:
    raw = seg.get(i)
    if not (raw.isascii() and raw.isdigit()) or int(raw) != actual:
        problems.add(
            seg.line,
            f"{seg.id}{i:02d}",
            f"{seg.place()}: says {_shown(raw)} {what}; there are {actual}",
        )


# --------------------------------------------------------------------------- claims


def _claims(
    segs: list[_Seg], kinds: dict[int, str | None], problems: Collector, tables: Tables
) -> int:
    """Reads the claims of every readable transaction set into `tables`; returns how many."""
    kind: str | None = None
    level = ""
    billing: tuple[str, _Seg] | None = None
    payer: tuple[str, _Seg] | None = None
    sub_dmg: _Seg | None = None
    pat_dmg: _Seg | None = None
    claim: _Claim | None = None
    count = 0
    comp = ":"
    for seg in segs:
        sid = seg.id
        if sid == "ISA":
            comp = seg.elements[16][:1] if len(seg.elements) > 16 else ":"
            continue
        if sid == "ST":
            kind = kinds.get(seg.pos)
            billing = payer = sub_dmg = pat_dmg = None
            level = ""
            continue
        if kind is None:
            continue
        if sid in ("HL", "SE", "CLM") and claim is not None:
            _finish(claim, comp, problems, tables)
            claim = None
        if sid == "SE":
            kind = None
            continue
        if sid == "HL":
            level = seg.get(3)
            if level == "20":
                billing = payer = sub_dmg = pat_dmg = None
            elif level == "22":
                payer = sub_dmg = pat_dmg = None
            elif level == "23":
                pat_dmg = None
            continue
        if sid == "CLM":
            count += 1
            dmg = pat_dmg if pat_dmg is not None else sub_dmg
            claim = _Claim(seg, kind, billing, payer, dmg, clm05=seg.get(5).split(comp)[0].strip())
            continue
        if claim is None:
            if sid == "NM1":
                who = seg.get(1)
                if who == "85":
                    billing = (_name(seg), seg)
                elif who == "PR":
                    payer = (_name(seg), seg)
            elif sid == "DMG":
                if level == "23":
                    pat_dmg = seg
                else:
                    sub_dmg = seg
            continue
        # inside a claim (2300 and below)
        if sid == "LX":
            claim.in_lines = True
        elif sid == "SBR":
            claim.in_cob = True  # 2320: other payers; their names are not this claim's
        elif claim.in_lines:
            if sid in ("SV1", "SV2"):
                claim.services.append(seg)
            elif sid == "DTP" and seg.get(1) == "472":
                claim.service_dates.append(seg)
        elif claim.in_cob:
            continue
        elif sid == "DTP" and seg.get(1) == "434":
            claim.statement = seg
        elif sid == "CL1":
            claim.disposition = seg
        elif sid == "HI":
            claim.his.append(seg)
        elif sid == "NM1":
            who = seg.get(1)
            if who == "71" and claim.attending is None:
                claim.attending = seg
            elif who == "82" and claim.rendering is None:
                claim.rendering = seg
    if claim is not None:
        _finish(claim, comp, problems, tables)
    return count


def _name(seg: _Seg) -> str:
    """NM1: `NM103, NM104` for a person (NM102 = 1), NM103 for an organization."""
    last, first = seg.get(3), seg.get(4)
    if seg.get(2) == "1" and first:
        return f"{last}, {first}"
    return last


def _date(raw: str) -> date | None:
    if len(raw) != 8 or not (raw.isascii() and raw.isdigit()):
        return None
    try:
        return date(int(raw[:4]), int(raw[4:6]), int(raw[6:]))
    except ValueError:
        return None


def _period_end(seg: _Seg, problems: Collector) -> date | None:
    """The date of a DTP (D8), or the end of its range (RD8); a problem if unreadable."""
    qualifier, value = seg.get(2), seg.get(3)
    if qualifier == "D8":
        parts = [value]
    elif qualifier == "RD8":
        parts = value.split("-")
        if len(parts) != 2:
            problems.add(
                seg.line,
                "DTP03",
                f"{seg.place()}: {_shown(value)} is not a date range CCYYMMDD-CCYYMMDD",
            )
            return None
    else:
        problems.add(
            seg.line, "DTP02", f"{seg.place()}: date format {_shown(qualifier)}; D8 or RD8 expected"
        )
        return None
    dates = [_date(part) for part in parts]
    if any(d is None for d in dates):
        problems.add(
            seg.line,
            "DTP03",
            f"{seg.place()}: {_shown(value)} is not a date written CCYYMMDD"
            + ("-CCYYMMDD" if qualifier == "RD8" else ""),
        )
        return None
    start, end = dates[0], dates[-1]
    assert start is not None
    assert end is not None
    if end < start:
        problems.add(seg.line, "DTP03", f"{seg.place()}: the range {value} ends before it starts")
        return None
    return end


def _age(dmg: _Seg, discharge: date, problems: Collector) -> str:
    if dmg.get(1) != "D8" or not dmg.get(2):
        if dmg.get(2):
            problems.add(
                dmg.line, "DMG01", f"{dmg.place()}: date format {_shown(dmg.get(1))}; D8 expected"
            )
        return ""
    born = _date(dmg.get(2))
    if born is None:
        problems.add(
            dmg.line, "DMG02", f"{dmg.place()}: {_shown(dmg.get(2))} is not a date written CCYYMMDD"
        )
        return ""
    if born > discharge:
        problems.add(
            dmg.line,
            "DMG02",
            f"{dmg.place()}: the birth date {born.isoformat()} is after the discharge date {discharge.isoformat()}",
        )
        return ""
    years = discharge.year - born.year - ((discharge.month, discharge.day) < (born.month, born.day))
    return str(years)


def _finish(claim: _Claim, comp: str, problems: Collector, tables: Tables) -> None:
    """Writes one claim's encounter row and code rows (original lines) into `tables`."""
    clm = claim.seg
    eid = clm.get(1)
    row = clm.pos
    first = tables.ids.get(eid)
    if first is not None and eid:
        problems.add(
            clm.line, "CLM01", f"{clm.place()}: claim id {_shown(eid)} repeats the claim of {first}"
        )
        return
    tables.ids[eid] = f"{clm.place()} on line {clm.line}"
    institutional = claim.kind == "I"
    where: dict[str, Where] = {
        "": (clm.line, "CLM", f"{clm.place()} claim {_shown(eid)}"),
        "encounter_id": (clm.line, "CLM01", clm.place()),
        "setting": (clm.line, "CLM05-1", clm.place()),
    }
    values: dict[str, str] = {"encounter_id": eid}
    if institutional:
        values["setting"] = "inpatient" if claim.clm05 == "11" else "outpatient"
    else:
        values["setting"] = "profee"

    discharge: date | None = None
    if institutional:
        if claim.statement is None:
            problems.add(
                clm.line,
                "DTP*434",
                f"{clm.place()}: claim {_shown(eid)} has no statement period (DTP*434)",
            )
        else:
            discharge = _period_end(claim.statement, problems)
            where["discharge_date"] = (claim.statement.line, "DTP03", claim.statement.place())
    else:
        ends = [_period_end(seg, problems) for seg in claim.service_dates]
        known = [d for d in ends if d is not None]
        if not claim.service_dates:
            problems.add(
                clm.line,
                "DTP*472",
                f"{clm.place()}: claim {_shown(eid)} has no service date (DTP*472) on any service line",
            )
        elif len(known) == len(ends):
            discharge = max(known)
            latest = claim.service_dates[ends.index(discharge)]
            where["discharge_date"] = (latest.line, "DTP03", latest.place())
    values["discharge_date"] = discharge.isoformat() if discharge is not None else ""
    if discharge is None:
        where["discharge_date"] = (clm.line, "CLM", clm.place())

    dmg = claim.dmg
    if dmg is not None:
        if discharge is not None:
            values["age"] = _age(dmg, discharge, problems)
        values["sex"] = dmg.get(3)
        where["age"] = (dmg.line, "DMG02", dmg.place())
        where["sex"] = (dmg.line, "DMG03", dmg.place())
    if institutional and claim.disposition is not None:
        values["discharge_disposition"] = claim.disposition.get(3)
        where["discharge_disposition"] = (
            claim.disposition.line,
            "CL103",
            claim.disposition.place(),
        )
    if claim.payer is not None:
        values["payer"] = claim.payer[0]
        where["payer"] = (claim.payer[1].line, "NM103", claim.payer[1].place())
    if claim.billing is not None:
        values["facility"] = claim.billing[0]
        where["facility"] = (claim.billing[1].line, "NM103", claim.billing[1].place())
    provider = claim.attending if institutional else claim.rendering
    if provider is not None:
        values["provider"] = _name(provider)
        where["provider"] = (provider.line, "NM103", provider.place())
    elif not institutional and claim.billing is not None:
        values["provider"] = claim.billing[0]
        where["provider"] = where["facility"]

    principal: list[tuple[_Seg, int, list[str]]] = []
    others: list[tuple[_Seg, int, list[str]]] = []
    external: list[tuple[_Seg, int, list[str]]] = []
    pcs_first: list[tuple[_Seg, int, list[str]]] = []
    pcs_other: list[tuple[_Seg, int, list[str]]] = []
    for seg in claim.his:
        for i, composite in enumerate(seg.elements[1:], start=1):
            parts = composite.split(comp)
            qualifier = parts[0].strip()
            item = (seg, i, parts)
            if qualifier == "ABK":
                if principal:
                    problems.add(
                        seg.line,
                        f"HI{i:02d}-1",
                        f"{seg.place()}: a second principal diagnosis (ABK); a claim has one",
                    )
                principal.append(item)
            elif qualifier == "ABF":
                others.append(item)
            elif qualifier == "ABN":
                external.append(item)
            elif qualifier == "BBR":
                pcs_first.append(item)
            elif qualifier == "BBQ":
                pcs_other.append(item)
            elif qualifier == "DR":
                values["billed_drg"] = parts[1].strip() if len(parts) > 1 else ""
                where["billed_drg"] = (seg.line, f"HI{i:02d}-2", seg.place())
            elif qualifier in _ICD9:
                problems.add(
                    seg.line,
                    f"HI{i:02d}-1",
                    f"{seg.place()}: ICD-9 codes (qualifier {qualifier}) are not read; AuditCoach audits ICD-10",
                )
    tables.encounter(row, values, where)

    for seq, (seg, i, parts) in enumerate(principal + others + external, start=1):
        poa = parts[8].strip() if institutional and len(parts) > 8 else ""
        row = seg.pos * 100 + i
        tables.code(
            row,
            encounter_id=eid,
            system="ICD10CM",
            seq=seq,
            code=parts[1] if len(parts) > 1 else "",
            poa=poa,
            where={
                "": (seg.line, f"HI{i:02d}", seg.place()),
                "code": (seg.line, f"HI{i:02d}-2", seg.place()),
                "poa": (seg.line, f"HI{i:02d}-9", seg.place()),
            },
        )
    for seq, (seg, i, parts) in enumerate(pcs_first + pcs_other, start=1):
        row = seg.pos * 100 + i
        tables.code(
            row,
            encounter_id=eid,
            system="ICD10PCS",
            seq=seq,
            code=parts[1] if len(parts) > 1 else "",
            where={
                "": (seg.line, f"HI{i:02d}", seg.place()),
                "code": (seg.line, f"HI{i:02d}-2", seg.place()),
            },
        )
    seq = 0
    for seg in claim.services:
        at = 1 if seg.id == "SV1" else 2
        units_at = 4 if seg.id == "SV1" else 5
        parts = seg.get(at).split(comp)
        if parts[0].strip() != "HC" or len(parts) < 2 or not parts[1].strip():
            continue  # a revenue code alone, or a code that is not HCPCS/CPT
        code = parts[1].strip().upper()
        seq += 1
        units = seg.get(units_at)
        whole = _WHOLE.fullmatch(units)
        if whole is not None:
            units = str(int(whole.group(1)))
        tag = f"{seg.id}{at:02d}"
        tables.code(
            seg.pos * 100,
            encounter_id=eid,
            system=line_system(code),
            seq=seq,
            code=code,
            modifiers=[m.strip() for m in parts[2:6] if m.strip()],
            units=units,
            where={
                "": (seg.line, seg.id, seg.place()),
                "code": (seg.line, f"{tag}-2", seg.place()),
                "modifiers": (seg.line, f"{tag}-3", seg.place()),
                "units": (seg.line, f"{seg.id}{units_at:02d}", seg.place()),
            },
        )


# --------------------------------------------------------------------------- pyx12


def _validate(text: str, segs: list[_Seg], problems: Collector) -> None:
    """pyx12's validation of the whole file against the implementation guides (its JSON
    error report); its findings added as problems at their segment and line."""
    import pyx12.params
    import pyx12.x12n_document

    report = io.StringIO()
    try:
        pyx12.x12n_document.x12n_document(
            pyx12.params.params(),
            io.StringIO(text.lstrip("\ufeff \t\r\n")),
            None,
            None,
            fd_json=report,
        )
        tree = json.loads(report.getvalue() or '{"interchanges": []}')
    except Exception as exc:  # pyx12 stopped: say so rather than fail
        problems.add(None, None, f"the X12 validator could not read the file: {exc}")
        return
    by_pos = {seg.pos: seg for seg in segs}

    def add(pos: int | None, column: str | None, message: str) -> None:
        seg = by_pos.get(pos) if pos is not None else None
        if seg is not None:
            problems.add(seg.line, column or seg.id, f"{seg.place()}: {message}")
        else:
            problems.add(None, column, message)

    def envelope(node: dict[str, Any]) -> None:
        # Counts and control numbers are checked, and named by element, in _envelopes.
        for error in node.get("errors", []):
            message = str(error.get("err_str", ""))
            if not _ENVELOPE_CHECKED.search(message):
                add(node.get("cur_line"), None, message)

    for isa in tree.get("interchanges", []):
        envelope(isa)
        for gs in isa.get("groups", []):
            envelope(gs)
            for st in gs.get("transactions", []):
                envelope(st)
                for seg in st.get("segments", []):
                    pos, sid = seg.get("cur_line"), str(seg.get("seg_id", ""))
                    for error in seg.get("errors", []):
                        add(pos, sid, str(error.get("err_str", "")))
                    for ele in seg.get("elements", []):
                        column = f"{sid}{int(ele.get('ele_pos') or 0):02d}"
                        if ele.get("subele_pos"):
                            column += f"-{ele['subele_pos']}"
                        for error in ele.get("errors", []):
                            if ele.get("ele_ref_num") == "1073" and error.get("err_val") == "1":
                                continue  # POA 1: accepted (see the module docstring)
                            add(pos, column, str(error.get("err_str", "")))


def _shown(raw: str) -> str:
    text = raw if len(raw) <= 40 else raw[:37] + "..."
    return f'"{text}"'
