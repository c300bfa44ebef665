"""Which encounters an overread plan picks: plain functions, no Django.

The pick is a seeded shuffle that does not depend on the order the database returns rows
in: each candidate's rank is SHA-256 of "<seed>:<key>" (the key is the encounter's public
id), lowest first. Adding candidates later never reorders the earlier ones, so a plan
re-applied after more encounters were reviewed tops up instead of starting over.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Iterable, Mapping


def target_count(share: int, reviewed: int) -> int:
    """ceil(share % × reviewed), computed in integers (no float rounding at exact shares)."""
    if not 1 <= share <= 100:
        raise ValueError("share is a percentage from 1 to 100")
    return math.ceil(share * reviewed / 100) if reviewed else 0


def rank(seed: int, key: str) -> str:
    return hashlib.sha256(f"{seed}:{key}".encode()).hexdigest()


def pick(candidates: Iterable[str], *, seed: int, count: int) -> list[str]:
    """The `count` candidates with the lowest seeded rank (ties by key), in rank order."""
    ordered = sorted(set(candidates), key=lambda k: (rank(seed, k), k))
    return ordered[: max(count, 0)]


def least_loaded(open_counts: Mapping[str, int]) -> str | None:
    """The candidate with the fewest open overreads; ties by name. None when there is none."""
    if not open_counts:
        return None
    return min(open_counts, key=lambda name: (open_counts[name], name))
