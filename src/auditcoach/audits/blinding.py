"""Blind review: other areas can hide an encounter's audited work from someone reviewing it
blind (overreads), without the audits app knowing them.

A check takes (user, encounter) and returns the address of that person's blind review of
the encounter, or "" when they are not reviewing it blind. The workspace and the finding
pages ask `blind_review_url` before showing the audited version.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from auditcoach.audits.models import Encounter

type BlindCheck = Callable[[Any, Encounter], str]

_checks: list[BlindCheck] = []


def register(check: BlindCheck) -> None:
    if check not in _checks:
        _checks.append(check)


def blind_review_url(user: Any, encounter: Encounter) -> str:
    for check in _checks:
        url = check(user, encounter)
        if url:
            return url
    return ""
