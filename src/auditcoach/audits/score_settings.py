"""The score settings of DESIGN §6: built-in defaults, what an organization may change,
and how an audit's stored copy is read back.

An organization keeps its choices in `Organization.score_settings` (only the editable
keys) and `Organization.default_base_rate`; `merged` lays them over the built-in defaults,
and that dict is what a new audit stores in `Audit.scoring_settings`. Reading helpers are
lenient: an audit stored by an older version (no `weights`, no `default_base_rate`) reads
as the defaults it was scored with.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from typing import Any, Final

from auditcoach.engine.model import FINDING_KINDS, GROUPS
from auditcoach.engine.scoring import DEFAULT_WEIGHT, HEADLINES, headline_key

WEIGHT_MAX: Final = Decimal(10)
"""A kind weighs at most ten findings: more would let one finding drown every other."""

BUILT_IN: Final[dict[str, Any]] = {
    "headline": "dx_code_accuracy",
    "groups": list(GROUPS),
    "pooled": True,
    "interval": "wilson-95",
    "weights": {kind: str(DEFAULT_WEIGHT) for kind in FINDING_KINDS},
    "default_base_rate": None,
}

EDITABLE: Final = ("headline", "groups", "weights")


def _decimal(value: Any) -> Decimal | None:
    try:
        number = Decimal(str(value))
    except (InvalidOperation, ValueError, TypeError):
        return None
    return number if number.is_finite() else None


def weight_text(weight: Decimal) -> str:
    """A weight as stored and shown: no trailing zeros ("1", "1.5", "0.25")."""
    text = f"{weight.quantize(Decimal('0.01')):f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def clean(raw: Mapping[str, Any] | None) -> dict[str, Any]:
    """The valid editable keys of `raw`; anything unknown or out of range is dropped."""
    raw = raw if isinstance(raw, Mapping) else {}
    out: dict[str, Any] = {}
    headline = raw.get("headline")
    if isinstance(headline, str) and headline_key(headline) in HEADLINES:
        out["headline"] = headline_key(headline)
    groups = raw.get("groups")
    if isinstance(groups, list | tuple):
        chosen = [g for g in GROUPS if g in groups]
        if chosen:
            out["groups"] = chosen
    weights = raw.get("weights")
    if isinstance(weights, Mapping):
        kept = {}
        for kind in FINDING_KINDS:
            w = _decimal(weights.get(kind, DEFAULT_WEIGHT))
            kept[kind] = weight_text(
                w if w is not None and 0 <= w <= WEIGHT_MAX else DEFAULT_WEIGHT
            )
        out["weights"] = kept
    return out


def merged(
    organization_settings: Mapping[str, Any] | None, *, default_base_rate: Decimal | None
) -> dict[str, Any]:
    """The settings a new audit stores: the organization's over the built-in defaults."""
    settings = {**BUILT_IN, "groups": list(GROUPS), "weights": dict(BUILT_IN["weights"])}
    settings.update(clean(organization_settings))
    settings["default_base_rate"] = (
        None if default_base_rate is None else f"{default_base_rate.quantize(Decimal('0.01')):f}"
    )
    return settings


def headline_of(settings: Mapping[str, Any]) -> str:
    key = settings.get("headline")
    key = headline_key(key) if isinstance(key, str) else ""
    return key if key in HEADLINES else BUILT_IN["headline"]


def groups_of(settings: Mapping[str, Any]) -> list[str]:
    groups = settings.get("groups")
    chosen: list[str] = [g for g in GROUPS if isinstance(groups, list | tuple) and g in groups]
    return chosen or [*GROUPS]


def weights_of(settings: Mapping[str, Any]) -> dict[str, Decimal]:
    """Every finding kind's weight (DEFAULT_WEIGHT where none is stored)."""
    stored = settings.get("weights")
    stored = stored if isinstance(stored, Mapping) else {}
    out = {}
    for kind in FINDING_KINDS:
        w = _decimal(stored.get(kind, DEFAULT_WEIGHT))
        out[kind] = w if w is not None and w >= 0 else DEFAULT_WEIGHT
    return out


def has_custom_weights(settings: Mapping[str, Any]) -> bool:
    return any(w != DEFAULT_WEIGHT for w in weights_of(settings).values())


def default_base_rate_of(settings: Mapping[str, Any]) -> Decimal | None:
    """The organization's default base rate stored with the audit, if one was in force."""
    rate = _decimal(settings.get("default_base_rate"))
    return rate if rate is not None and rate > 0 else None
