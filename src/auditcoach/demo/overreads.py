"""Blind overreads for the demo (DESIGN §8 consistency), made through the real services.

Each demo auditor's 2026-Q2 work gets an 8% overread plan reviewed by the other auditor.
The second auditor's blind version is the first auditor's audited coding for most
encounters and the coder's coding for about one in four of those with findings (seeded), so
the consistency page and the dashboard's widget have agreement that is high but not
perfect.
"""

from __future__ import annotations

import random
from typing import Final

from auditcoach.accounts.models import Organization, User
from auditcoach.audits.models import CodeLine
from auditcoach.engine.codes import normalize_modifiers
from auditcoach.overreads.models import Overread
from auditcoach.overreads.services import (
    BlindLine,
    overread_complete,
    overread_lines_replace,
    overread_plan_apply,
    overread_plan_create,
)

CYCLE: Final = "2026-Q2"
SHARE: Final = 8
AGREE: Final = 0.8
"""Share of overreads whose blind coding is the first auditor's audited coding."""


def _lines(rows: list[CodeLine]) -> list[BlindLine]:
    order = {"DX": 0, "PX": 1, "LINE": 2}
    return [
        BlindLine(
            system=r.system,
            code=r.code,
            poa=r.poa,
            modifiers=normalize_modifiers(r.modifiers.split(";")) if r.modifiers else frozenset(),
            units=r.units,
        )
        for r in sorted(rows, key=lambda r: (order[r.group], r.seq))
    ]


def demo_overreads(
    *, organization: Organization, auditors: list[User], manager: User, seed: int
) -> int:
    """Plans, picks and finished blind reviews; returns how many overreads were done."""
    rng = random.Random(seed)
    done = with_findings = 0
    for first, second in zip(auditors, [*auditors[1:], auditors[0]], strict=True):
        plan = overread_plan_create(
            organization=organization,
            auditor=first,
            cycle=CYCLE,
            share=SHARE,
            reviewer=second,
            seed=seed,
            actor=manager,
        )
        for overread in overread_plan_apply(plan=plan, actor=manager):
            lines = CodeLine.objects.filter(encounter=overread.encounter)
            # Disagreement shows only where the versions' codes differ (a POA or modifier
            # change alone would leave code agreement untouched): among such encounters the
            # first and every fourth after it keep the coder's coding, and the draw decides
            # the rest, so whichever encounters the plan picks, agreement is high but not
            # perfect.
            codes = {
                version: {(r.system, r.code) for r in lines if r.version == version}
                for version in (CodeLine.Version.ORIGINAL, CodeLine.Version.AUDITED)
            }
            differs = codes[CodeLine.Version.ORIGINAL] != codes[CodeLine.Version.AUDITED]
            if differs:
                with_findings += 1
            keep_coder = differs and (with_findings % 4 == 1 or rng.random() >= AGREE)
            version = CodeLine.Version.ORIGINAL if keep_coder else CodeLine.Version.AUDITED
            chosen = _lines([r for r in lines if r.version == version])
            overread_lines_replace(overread=overread, lines=chosen, actor=second)
            overread_complete(overread=Overread.objects.get(pk=overread.pk), actor=second)
            done += 1
    return done
