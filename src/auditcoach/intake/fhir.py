"""FHIR R4 `Claim` resources into §9 tables (DESIGN §14), validated by `fhir.resources`.

A file is a Bundle (JSON, its `entry[].resource`), a single resource (JSON), or NDJSON (one
resource per line). Claims are read; Patient, Practitioner, Organization and Location
resources of the same file are what their references point to (`Type/id` or a Bundle
entry's `fullUrl`); any other resource is ignored. Each resource is validated against the
R4 model (`fhir.resources.R4B`: the package's R4 line, whose Claim, Patient, Practitioner,
Organization and Location are those of R4) and its problems reported at its entry (Bundle)
or line (NDJSON) with the element's path, e.g. "Claim.diagnosis[0].sequence".

The mapping where §14 is silent is in docs/intake.md.
"""

from __future__ import annotations

import gc
import json
from datetime import date, datetime
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

__all__ = ["read_fhir", "read_fhir_text"]

_ICD10CM: Final = frozenset({"http://hl7.org/fhir/sid/icd-10-cm", "urn:oid:2.16.840.1.113883.6.90"})
_ICD10PCS: Final = frozenset(
    {
        "http://www.cms.gov/Medicare/Coding/ICD10",
        "http://hl7.org/fhir/sid/icd-10-pcs",
        "urn:oid:2.16.840.1.113883.6.4",
    }
)
_LINE_CODES: Final = frozenset(
    {
        "http://www.ama-assn.org/go/cpt",
        "urn:oid:2.16.840.1.113883.6.12",
        "https://bluebutton.cms.gov/resources/codesystem/hcpcs",
        "http://www.cms.gov/Medicare/Coding/HCPCSReleaseCodeSets",
        "urn:oid:2.16.840.1.113883.6.285",
        "urn:oid:2.16.840.1.113883.6.14",
    }
)
_GENDER: Final = {"male": "M", "female": "F", "other": "U", "unknown": "U"}
_KNOWN: Final = ("Claim", "Patient", "Practitioner", "Organization", "Location")
_MAX_RESOURCES: Final = 2_000_000


def read_fhir(path: Path, *, limits: IntakeLimits | None = None) -> Workbook:
    """Reads and validates the FHIR file at `path`; raises WorkbookError listing every
    problem."""
    limits = limits or IntakeLimits()
    label = Path(path).name or str(path)
    data = read_capped(Path(path), label, limits.max_bytes)
    return read_fhir_text(data, label=label, limits=limits)


def _models() -> dict[str, Any]:
    from fhir.resources.R4B.claim import Claim
    from fhir.resources.R4B.location import Location
    from fhir.resources.R4B.organization import Organization
    from fhir.resources.R4B.patient import Patient
    from fhir.resources.R4B.practitioner import Practitioner

    return {
        "Claim": Claim,
        "Patient": Patient,
        "Practitioner": Practitioner,
        "Organization": Organization,
        "Location": Location,
    }


def _raw_resources(
    text: str, label: str, problems: Collector
) -> list[tuple[int | None, str, dict[str, Any], str | None]]:
    """(row, place in words, resource JSON, fullUrl) for every resource of the file."""
    stripped = text.lstrip("\ufeff \t\r\n")
    found: list[tuple[int | None, str, dict[str, Any], str | None]] = []
    whole: Any = None
    if stripped.startswith("{"):
        try:
            whole = json.loads(stripped)
        except RecursionError:
            problems.add(None, None, "is nested too deeply to be read")
            return []
        except ValueError:
            whole = None  # perhaps NDJSON: one object per line
    if isinstance(whole, dict):
        if whole.get("resourceType") == "Bundle":
            entries = whole.get("entry")
            if not isinstance(entries, list):
                problems.add(None, "Bundle.entry", "the Bundle has no entry list")
                return []
            for i, entry in enumerate(entries, start=1):
                resource = entry.get("resource") if isinstance(entry, dict) else None
                if not isinstance(resource, dict):
                    problems.add(i, f"Bundle.entry[{i - 1}]", f"entry {i} has no resource")
                    continue
                full = entry.get("fullUrl") if isinstance(entry.get("fullUrl"), str) else None
                found.append((i, f"entry {i}", resource, full))
            return found
        return [(1, "the resource", whole, None)]
    for n, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            resource = json.loads(line)
        except RecursionError:
            problems.add(n, None, f"line {n} is nested too deeply to be read")
            continue
        except ValueError as exc:
            problems.add(n, None, f"line {n} is not a JSON object: {exc}")
            continue
        if not isinstance(resource, dict):
            problems.add(n, None, f"line {n} is not a JSON object")
            continue
        found.append((n, f"line {n}", resource, None))
        if len(found) > _MAX_RESOURCES:
            problems.add(n, None, f"more than {_MAX_RESOURCES:,} resources: the rest was not read")
            break
    if not found and not problems.total:
        problems.add(None, None, "is not FHIR JSON: neither a Bundle, a resource nor NDJSON")
    return found


def read_fhir_text(data: bytes, *, label: str, limits: IntakeLimits | None = None) -> Workbook:
    # Millions of small long-lived objects: the cyclic collector would only re-walk them.
    enabled = gc.isenabled()
    gc.disable()
    try:
        return _read_fhir_text(data, label=label, limits=limits)
    finally:
        if enabled:
            gc.enable()


def _read_fhir_text(data: bytes, *, label: str, limits: IntakeLimits | None = None) -> Workbook:
    limits = limits or IntakeLimits()
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise single(label, f"is not UTF-8 text (byte {exc.start + 1})") from None
    from pydantic import ValidationError

    problems = Collector(label)
    models = _models()
    raw = _raw_resources(text, label, problems)
    claims: list[tuple[int | None, str, Any]] = []
    index: dict[str, Any] = {}
    for row, place, resource, full in raw:
        kind = resource.get("resourceType")
        if kind not in _KNOWN:
            continue
        try:
            model = models[kind].model_validate(resource)
        except ValidationError as exc:
            for error in exc.errors()[:50]:
                path = kind + "".join(
                    f"[{p}]" if isinstance(p, int) else f".{p}" for p in error.get("loc", ())
                )
                problems.add(row, path, f"{place} ({kind}): {error.get('msg', 'invalid')}")
            continue
        except (ValueError, TypeError, RecursionError) as exc:
            problems.add(row, kind, f"{place} ({kind}): {exc}")
            continue
        rid = getattr(model, "id", None)
        if rid:
            index[f"{kind}/{rid}"] = model
        if full:
            index[full] = model
        if kind == "Claim":
            claims.append((row, place, model))
    if not claims and not problems.total:
        problems.add(None, "Claim", "holds no Claim resource: there are no claims")
    tables = Tables(label)
    for row, place, claim in claims:
        _claim(claim, row, place, index, tables, problems)
    if problems.total:
        raise problems.error()
    return tables.validate(limits.workbook)


# --------------------------------------------------------------------------- one claim


def _codes(concept: Any) -> list[tuple[str, str]]:
    """(system, code) of every coding of a CodeableConcept."""
    if concept is None:
        return []
    return [(c.system or "", c.code or "") for c in (concept.coding or [])]


def _first_code(concept: Any) -> str:
    codes = _codes(concept)
    return codes[0][1].strip() if codes else ""


def _resolve(ref: Any, index: dict[str, Any]) -> Any:
    if ref is None or not ref.reference:
        return None
    return index.get(ref.reference)


def _name_of(ref: Any, index: dict[str, Any]) -> str:
    """A referenced Practitioner as "family, given", an Organization or Location by name;
    the reference's display when it points to nothing in the file."""
    target = _resolve(ref, index)
    if target is None:
        return (ref.display or "").strip() if ref is not None else ""
    kind = target.get_resource_type()
    if kind in ("Practitioner", "Patient"):
        for name in target.name or []:
            family = (name.family or "").strip()
            given = [g.strip() for g in (name.given or []) if g and g.strip()]
            if family and given:
                return f"{family}, {given[0]}"
            if family or name.text:
                return family or (name.text or "").strip()
        return ""
    return (getattr(target, "name", None) or "").strip()


def _sequence(item: Any) -> int:
    return item.sequence if isinstance(item.sequence, int) else 0


def _claim(
    claim: Any,
    row: int | None,
    place: str,
    index: dict[str, Any],
    tables: Tables,
    problems: Collector,
) -> None:
    rid = claim.id or ""
    where_words = f"{place} (Claim/{rid})" if rid else f"{place} (Claim)"
    identifiers = [i.value for i in (claim.identifier or []) if i.value and i.value.strip()]
    eid = identifiers[0].strip() if identifiers else rid
    key = (row or 0) * 10_000
    where: dict[str, Where] = {
        "": (row, "Claim", where_words),
        "encounter_id": (row, "Claim.identifier" if identifiers else "Claim.id", where_words),
        "setting": (row, "Claim.type", where_words),
        "discharge_date": (row, "Claim.billablePeriod.end", where_words),
        "age": (row, "Patient.birthDate", where_words),
        "sex": (row, "Patient.gender", where_words),
        "discharge_disposition": (row, "Claim.supportingInfo", where_words),
        "billed_drg": (row, "Claim.diagnosis.packageCode", where_words),
        "provider": (row, "Claim.provider", where_words),
        "payer": (row, "Claim.insurer", where_words),
        "facility": (row, "Claim.facility", where_words),
    }
    values: dict[str, str] = {"encounter_id": eid}

    claim_type = _first_code(claim.type)
    infos = claim.supportingInfo or []

    def info(category: str) -> str:
        for s in infos:
            if any(code == category for _, code in _codes(s.category)):
                return _first_code(s.code) or (s.valueString or "").strip()
        return ""

    if claim_type == "professional":
        values["setting"] = "profee"
    elif claim_type == "institutional":
        bill = info("typeofbill").lstrip("0")
        sub = {code.lower() for _, code in _codes(claim.subType)}
        inpatient = bill.startswith("11") or bool(sub & {"inpatient", "imp"})
        values["setting"] = "inpatient" if inpatient else "outpatient"
    else:
        problems.add(
            row,
            "Claim.type",
            f"{where_words}: claim type {claim_type or 'missing'!r}; institutional or professional is read",
        )
        return

    end: date | None = None
    if claim.billablePeriod is not None and claim.billablePeriod.end is not None:
        end = _as_date(claim.billablePeriod.end)
    if end is None:
        dates: list[date] = []
        for item in claim.item or []:
            d = _as_date(item.servicedDate) if item.servicedDate is not None else None
            if d is None and item.servicedPeriod is not None:
                d = _as_date(item.servicedPeriod.end or item.servicedPeriod.start)
            if d is not None:
                dates.append(d)
        if dates:
            end = max(dates)
            where["discharge_date"] = (row, "Claim.item.servicedDate", where_words)
    if end is None:
        problems.add(
            row,
            "Claim.billablePeriod.end",
            f"{where_words}: no discharge date (billablePeriod.end or an item's servicedDate)",
        )
    values["discharge_date"] = end.isoformat() if end is not None else ""

    patient = _resolve(claim.patient, index)
    if patient is not None:
        born = _as_date(patient.birthDate) if patient.birthDate is not None else None
        if born is not None and end is not None:
            if born > end:
                problems.add(
                    row,
                    "Patient.birthDate",
                    f"{where_words}: the birth date {born.isoformat()} is after the discharge date",
                )
            else:
                years = end.year - born.year - ((end.month, end.day) < (born.month, born.day))
                values["age"] = str(years)
        if patient.gender:
            values["sex"] = _GENDER.get(patient.gender, patient.gender)
    values["discharge_disposition"] = info("discharge-status")
    values["provider"] = _name_of(claim.provider, index)
    values["payer"] = _name_of(claim.insurer, index)
    values["facility"] = _name_of(claim.facility, index)

    dx_principal: list[tuple[int, str, str, int]] = []
    dx_other: list[tuple[int, str, str, int]] = []
    drg = ""
    for i, d in enumerate(sorted(claim.diagnosis or [], key=_sequence)):
        types = {code for _, code in _codes_list(d.type)}
        if not drg and d.packageCode is not None:
            drg = _first_code(d.packageCode)
        if types & {"admitting", "reason-for-visit", "patientreasonforvisit"} and not types & {
            "principal"
        }:
            continue  # not code lines (as in the 837)
        codes = [code for system, code in _codes(d.diagnosisCodeableConcept) if system in _ICD10CM]
        if d.diagnosisReference is not None:
            problems.add(
                row,
                f"Claim.diagnosis[{i}]",
                f"{where_words}: a diagnosisReference is not read; give diagnosisCodeableConcept with an ICD-10-CM coding",
            )
            continue
        if not codes:
            problems.add(
                row,
                f"Claim.diagnosis[{i}]",
                f"{where_words}: diagnosis {d.sequence} has no ICD-10-CM coding "
                "(system http://hl7.org/fhir/sid/icd-10-cm)",
            )
            continue
        poa = _first_code(d.onAdmission).upper() if values["setting"] != "profee" else ""
        entry = (d.sequence, codes[0], poa, i)
        (dx_principal if "principal" in types else dx_other).append(entry)
    if drg:
        values["billed_drg"] = drg
    tables.encounter(key, values, where)

    for seq, (_s, code, poa, i) in enumerate(dx_principal + dx_other, start=1):
        tables.code(
            key + 1 + i,
            encounter_id=eid,
            system="ICD10CM",
            seq=seq,
            code=code,
            poa=poa,
            where={
                "": (row, f"Claim.diagnosis[{i}]", where_words),
                "code": (row, f"Claim.diagnosis[{i}].diagnosisCodeableConcept", where_words),
                "poa": (row, f"Claim.diagnosis[{i}].onAdmission", where_words),
            },
        )
    px_first: list[tuple[str, int]] = []
    px_other: list[tuple[str, int]] = []
    for i, p in enumerate(sorted(claim.procedure or [], key=_sequence)):
        codes = [c for s, c in _codes(p.procedureCodeableConcept) if s in _ICD10PCS]
        if not codes:
            continue  # a CPT/HCPCS procedure comes in as an item
        types = {code for _, code in _codes_list(p.type)}
        (px_first if types & {"primary", "principal"} else px_other).append((codes[0], i))
    for seq, (code, i) in enumerate(px_first + px_other, start=1):
        tables.code(
            key + 1000 + i,
            encounter_id=eid,
            system="ICD10PCS",
            seq=seq,
            code=code,
            where={
                "": (row, f"Claim.procedure[{i}]", where_words),
                "code": (row, f"Claim.procedure[{i}].procedureCodeableConcept", where_words),
            },
        )
    seq = 0
    for i, item in enumerate(sorted(claim.item or [], key=_sequence)):
        codes = [c.strip().upper() for s, c in _codes(item.productOrService) if s in _LINE_CODES]
        if not codes or not codes[0]:
            continue  # a revenue code alone gives no line (as in the 837)
        code = codes[0]
        seq += 1
        modifiers = [_first_code(m) for m in item.modifier or []]
        units = ""
        if item.quantity is not None and item.quantity.value is not None:
            value = item.quantity.value
            units = str(int(value)) if value == int(value) else str(value)
        tables.code(
            key + 5000 + i,
            encounter_id=eid,
            system=line_system(code),
            seq=seq,
            code=code,
            modifiers=[m for m in modifiers if m],
            units=units,
            where={
                "": (row, f"Claim.item[{i}]", where_words),
                "code": (row, f"Claim.item[{i}].productOrService", where_words),
                "modifiers": (row, f"Claim.item[{i}].modifier", where_words),
                "units": (row, f"Claim.item[{i}].quantity", where_words),
            },
        )


def _codes_list(concepts: Any) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    for concept in concepts or []:
        out += _codes(concept)
    return out


def _as_date(value: Any) -> date | None:
    """A FHIR date or dateTime as a date (the day it names)."""
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    text = str(value or "")
    try:
        return date.fromisoformat(text[:10]) if len(text) >= 10 else None
    except ValueError:
        return None
