"""As-you-type code search over ICD-10-CM, ICD-10-PCS and HCPCS Level II (never CPT).

`search("i50.2")` finds codes by prefix; `search("heart failure acute")` finds codes whose
description has a word starting with each of the words typed. Plain Python: no Django.

How it stays fast (about 98,000 ICD-10-CM and 79,000 ICD-10-PCS entries):
- Each system gets two indexes, each built once, on first use, from the catalog's code
  table: one for code prefixes (cheap: a code query never waits for the word index) and
  one for words. `warm_up()` builds them all ahead of the first query.
- In the word index, entries are numbered by their rank: billable first, then fewer
  words in the description (fewer words that were not asked for), then shorter code,
  then code. The best matches are therefore simply the smallest numbers that match.
- Words: the vocabulary is sorted and every word's entry numbers (ascending) are stored
  one after the other in a single array, so all the words that start with what was typed
  ("fail" → fail, failed, failure, ...) are one contiguous slice found by two bisections.
  Several words: a set of the smallest slice, intersected in C with the others. One
  word: its words' lists are merged and the first `limit` taken, so "of" (60,000
  entries) costs no more than "sepsis". Measured: p95 about 6 ms over 533 varied queries.
- Building: descriptions are split into words by C string operations on one joined text,
  and the postings are appended by C loops (map, chain), not a Python loop per word.
- Codes: per system, one sorted list of codes for each (billable, length) group, groups
  in that order; a prefix costs one bisection per group.
"""

from __future__ import annotations

import re
import threading
from array import array
from bisect import bisect_left
from collections import defaultdict, deque
from collections.abc import Sequence
from heapq import merge
from itertools import chain, repeat

from auditcoach.codesets.catalog import (
    CATALOG_SYSTEMS,
    Catalog,
    CodeInfo,
    CodeTable,
    default_catalog,
    no_gc,
)
from auditcoach.engine.codes import normalize_code

__all__ = [
    "CodeIndex",
    "CodeSearch",
    "WordIndex",
    "default_search",
    "search",
    "tokens",
    "warm_up",
]

# A word: a run of ASCII letters and digits or non-ASCII characters (after lower-casing).
_WORD = re.compile(r"[a-z0-9\u0080-\U0010ffff]+")
_WORD_BYTES = bytes(
    b if b >= 0x80 or b == 0x0A or chr(b).isalnum() else 0x20 for b in range(256)
)  # for bytes.translate: every other ASCII byte becomes a space
_CODE_QUERY = re.compile(r"[A-Z0-9]{1,7}")
_BILLABLE = 1


def tokens(text: str) -> list[str]:
    """The words of a text as the index sees them: "Heart failure, acute" -> heart,
    failure, acute (lower case; anything but letters and digits separates words)."""
    return _WORD.findall(text.lower())


def _looks_like_code(query: str) -> str | None:
    """The normalized code prefix when the query is one code-like token (it has a digit,
    or is a single letter): "i50.2" -> I502, "0sr9" -> 0SR9, "E" -> E; else None."""
    if len(query.split()) != 1:
        return None
    compact = normalize_code(query)
    if not _CODE_QUERY.fullmatch(compact):
        return None
    if len(compact) == 1 or any(c.isdigit() for c in compact):
        return compact
    return None


class CodeIndex:
    """Code prefixes of one code table: positions grouped by (billable first, length),
    each group sorted by code."""

    def __init__(self, table: CodeTable) -> None:
        self.table = table
        codes = table.codes
        group_of = [
            (flag & _BILLABLE ^ 1) << 8 | len(code)
            for flag, code in zip(table.flags, codes, strict=True)
        ]
        # A stable sort by group keeps the (sorted) table order within each group.
        by_group = sorted(range(len(codes)), key=group_of.__getitem__)
        self.groups: list[tuple[list[str], array[int]]] = []
        start = 0
        while start < len(by_group):
            group = group_of[by_group[start]]
            end = bisect_left(by_group, group + 1, start, key=group_of.__getitem__)
            members = by_group[start:end]
            self.groups.append(([codes[i] for i in members], array("I", members)))
            start = end

    def by_code(self, prefix: str, limit: int) -> list[int]:
        """Table positions of the codes starting with `prefix`, best first (billable,
        shorter, code), at most `limit`."""
        out: list[int] = []
        for codes, positions in self.groups:
            i = bisect_left(codes, prefix)
            while i < len(codes) and len(out) < limit and codes[i].startswith(prefix):
                out.append(positions[i])
                i += 1
            if len(out) >= limit:
                break
        return out


class WordIndex:
    """The words of one code table's descriptions: entries renumbered by rank (see the
    module doc)."""

    def __init__(self, table: CodeTable) -> None:
        self.table = table
        codes = table.codes
        flags = table.flags
        n = len(codes)
        # One pass of C string operations over all the descriptions (no regex per entry):
        # descriptions never hold a newline (the catalog's tables are line-based).
        text = "\n".join(table.descriptions).lower().encode("utf-8").translate(_WORD_BYTES)
        words = list(map(bytes.split, text.split(b"\n")))
        if len(words) != n:
            raise ValueError(f"{table.system}: a description holds a line break")
        counts = list(map(len, words))
        # Rank: billable first, fewer words, shorter code, code (the table is sorted by
        # code, so its position breaks the last tie), as one int per entry sorted in C.
        keys = [
            ((flag & _BILLABLE ^ 1) << 14 | min(count, 1023) << 4 | min(len(code), 15)) << 21 | i
            for i, (flag, count, code) in enumerate(zip(flags, counts, codes, strict=True))
        ]
        order = sorted(range(n), key=keys.__getitem__)
        del keys
        self.positions = array("I", order)  # rank -> position in the table
        self.word_counts = array("H", (min(counts[i], 65535) for i in order))

        # Postings, built by C loops (map/chain) rather than a Python loop per word: the
        # words of each entry in rank order, each appended to its word's list with the
        # entry's rank, so every list comes out ascending. A word twice in a description
        # is listed twice (the queries drop repeats; deduplicating costs more here).
        ranked_words = list(map(words.__getitem__, order))
        del words
        postings: defaultdict[bytes, list[int]] = defaultdict(list)
        deque(
            map(
                list.append,
                map(postings.__getitem__, chain.from_iterable(ranked_words)),
                chain.from_iterable(map(repeat, range(n), map(len, ranked_words))),
            ),
            maxlen=0,
        )
        del ranked_words
        self.vocabulary = sorted(postings)
        self.entries = array("I")
        self.offsets = array("I", [0])
        for word in self.vocabulary:
            self.entries.extend(postings[word])
            self.offsets.append(len(self.entries))

    def __len__(self) -> int:
        return len(self.positions)

    def info(self, rank: int) -> CodeInfo:
        return self.table.info(self.positions[rank])

    def _word_range(self, prefix: bytes) -> tuple[int, int]:
        lo = bisect_left(self.vocabulary, prefix)
        hi = bisect_left(self.vocabulary, prefix + b"\xff", lo)
        return self.offsets[lo], self.offsets[hi]

    def by_words(self, words: Sequence[str], limit: int) -> list[int]:
        """Ranks of the entries whose description has a word starting with each of
        `words` (as `tokens` gives them), best first, at most `limit`."""
        typed = {w.encode("utf-8") for w in words}
        if len(typed) == 1:
            return self._one_word(typed.pop(), limit)
        ranges = sorted(map(self._word_range, typed), key=lambda r: r[1] - r[0])
        lo, hi = ranges[0]
        found = set(self.entries[lo:hi])
        for lo, hi in ranges[1:]:
            if not found:
                break
            # With an array, CPython intersects by walking it and probing the set: no
            # second set is built. (A slice spans several words: it is not sorted.)
            found.intersection_update(self.entries[lo:hi])
        return sorted(found)[:limit]

    def _one_word(self, prefix: bytes, limit: int) -> list[int]:
        """The first `limit` ranks of the merged (ascending) lists of the words that
        start with `prefix`: no set of all the matches ("of": 60,000) is built."""
        first = bisect_left(self.vocabulary, prefix)
        last = bisect_left(self.vocabulary, prefix + b"\xff", first)
        view = memoryview(self.entries)
        offsets = self.offsets
        lists = [view[offsets[i] : offsets[i + 1]] for i in range(first, last)]
        out: list[int] = []
        for rank in merge(*lists):
            if not out or out[-1] != rank:
                out.append(rank)
                if len(out) >= limit:
                    break
        return out


class CodeSearch:
    """Search over a catalog's code tables; each index is built on first use."""

    def __init__(self, catalog: Catalog | None = None) -> None:
        self.catalog = catalog or default_catalog()
        self._codes: dict[str, CodeIndex] = {}
        self._words: dict[str, WordIndex] = {}
        self._lock = threading.Lock()

    def code_index(self, system: str) -> CodeIndex:
        index = self._codes.get(system)
        if index is None:
            table = self.catalog.table(system)  # loads under the catalog's own lock
            with self._lock:
                index = self._codes.get(system)
                if index is None:
                    index = self._codes[system] = CodeIndex(table)
        return index

    def word_index(self, system: str) -> WordIndex:
        index = self._words.get(system)
        if index is None:
            table = self.catalog.table(system)
            with self._lock:
                index = self._words.get(system)
                if index is None:
                    with no_gc():
                        index = self._words[system] = WordIndex(table)
        return index

    def warm_up(self, systems: Sequence[str] = CATALOG_SYSTEMS) -> None:
        """Load the tables and build every index now (e.g. in a thread at start-up), so
        that the first query does not wait (about 2-3 s for all three systems here)."""
        for system in systems:
            self.code_index(system)
            self.word_index(system)

    def search(
        self,
        query: str,
        *,
        systems: Sequence[str] = CATALOG_SYSTEMS,
        limit: int = 20,
    ) -> list[CodeInfo]:
        """Codes matching `query`, best first, at most `limit`.

        A single code-like token ("i50.2", "I502", "0sr9", "J1") gives the codes that
        start with it, billable first, then shorter codes; when no code starts with it,
        it is read as words. Words ("heart failure acute") give the codes whose
        description has a word starting with each of them (any case, any order), ranked
        billable first, then fewer other words in the description, then shorter code.
        Across systems the same order holds; ties go to the order of `systems`.
        CPT is never searched (no descriptors ship).
        """
        unknown = [s for s in systems if s not in CATALOG_SYSTEMS]
        if unknown:
            raise ValueError(f"cannot search {', '.join(unknown)} (only {CATALOG_SYSTEMS})")
        if limit <= 0:
            return []
        ranked: list[tuple[tuple[int, int, int, int, str], CodeInfo]] = []
        prefix = _looks_like_code(query)
        if prefix is not None:
            for n, system in enumerate(systems):
                codes = self.code_index(system)
                for position in codes.by_code(prefix, limit):
                    info = codes.table.info(position)
                    ranked.append(
                        ((0 if info.billable else 1, 0, len(info.code), n, info.code), info)
                    )
        if not ranked:
            words = tokens(query)
            if not words:
                return []
            for n, system in enumerate(systems):
                index = self.word_index(system)
                for rank in index.by_words(words, limit):
                    info = index.info(rank)
                    key = (
                        0 if info.billable else 1,
                        index.word_counts[rank],
                        len(info.code),
                        n,
                        info.code,
                    )
                    ranked.append((key, info))
        ranked.sort(key=lambda item: item[0])
        return [info for _, info in ranked[:limit]]


_default: CodeSearch | None = None
_default_lock = threading.Lock()


def default_search() -> CodeSearch:
    """The process's search over the process's catalog."""
    global _default
    if _default is None:
        with _default_lock:
            if _default is None:
                _default = CodeSearch(default_catalog())
    return _default


def warm_up(systems: Sequence[str] = CATALOG_SYSTEMS) -> None:
    """`CodeSearch.warm_up` on the process's search."""
    default_search().warm_up(systems)


def search(
    query: str,
    *,
    systems: Sequence[str] = CATALOG_SYSTEMS,
    limit: int = 20,
) -> list[CodeInfo]:
    """`CodeSearch.search` on the process's catalog (see there)."""
    return default_search().search(query, systems=systems, limit=limit)
