"""Terse builders for engine tests: `dx("I50.9", poa="Y")`, `line("99215", mods="25")`."""

from datetime import date

from auditcoach.engine.codes import normalize_code, normalize_modifiers, normalize_poa
from auditcoach.engine.model import CodeLine, Encounter, Setting


def _lines(system: str, items: list[tuple[str, dict[str, object]]]) -> list[CodeLine]:
    out = []
    for i, (code, kw) in enumerate(items, start=1):
        out.append(
            CodeLine(
                system=system,  # type: ignore[arg-type]
                seq=int(kw.get("seq", i)),  # type: ignore[call-overload]
                code=normalize_code(code),
                poa=normalize_poa(str(kw.get("poa", ""))),
                modifiers=normalize_modifiers(str(kw.get("mods", ""))),
                units=int(kw.get("units", 1)),  # type: ignore[call-overload]
            )
        )
    return out


def dx(*codes: str | tuple[str, str]) -> list[CodeLine]:
    """DX lines in seq order; a tuple is (code, poa)."""
    items = [(c, {}) if isinstance(c, str) else (c[0], {"poa": c[1]}) for c in codes]
    return _lines("ICD10CM", items)


def px(*codes: str) -> list[CodeLine]:
    return _lines("ICD10PCS", [(c, {}) for c in codes])


def line(code: str, seq: int = 1, mods: str = "", units: int = 1, system: str = "CPT") -> CodeLine:
    return _lines(system, [(code, {"seq": seq, "mods": mods, "units": units})])[0]


def encounter(
    original: list[CodeLine],
    audited: list[CodeLine],
    *,
    setting: Setting = "inpatient",
    encounter_id: str = "E1",
    discharge_date: date = date(2026, 5, 14),
    **kw: object,
) -> Encounter:
    return Encounter(
        encounter_id=encounter_id,
        setting=setting,
        discharge_date=discharge_date,
        original=tuple(original),
        audited=tuple(audited),
        **kw,  # type: ignore[arg-type]
    )
