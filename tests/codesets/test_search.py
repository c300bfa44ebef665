"""Code search: prefixes and words over the shipped code sets (no database).

The index is checked against a plain scan of the same table: same codes, same order.
"""

import random
from functools import cache

import pytest

from auditcoach.codesets.catalog import CodeInfo, default_catalog
from auditcoach.codesets.search import CodeSearch, search, tokens


@pytest.mark.parametrize("query", ["i50.2", "I502", "I50.2", " i50.2 "])
def test_code_prefix_in_any_form(query: str) -> None:
    found = search(query)
    assert [i.code for i in found] == [
        # billable first, then shorter codes first, then the code
        "I5020", "I5021", "I5022", "I5023", "I502",
    ]  # fmt: skip
    assert found[0] == CodeInfo(
        "ICD10CM", "I5020", "I50.20", "Unspecified systolic (congestive) heart failure", True, False
    )
    assert (found[-1].header, found[-1].billable) == (True, False)


def test_pcs_prefix() -> None:
    found = search("0sr9")
    assert len(found) == 20
    assert all(i.system == "ICD10PCS" and i.code.startswith("0SR9") for i in found)
    assert found[0].code == "0SR9019"


def test_billable_before_headers_and_shorter_first() -> None:
    found = search("E87", limit=50)
    billable = [i.billable for i in found]
    assert billable == sorted(billable, reverse=True)
    assert [len(i.code) for i in found if i.billable] == sorted(
        len(i.code) for i in found if i.billable
    )
    assert found[0].code == "E870"
    headers = [i.code for i in found if i.header]
    assert headers == ["E87", "E872", "E877"]  # after the codes, shorter first
    assert found[-3:] == [i for i in found if i.header]


def test_prefix_across_systems() -> None:
    found = search("J1", limit=200)
    systems = {i.system for i in found}
    assert systems == {"ICD10CM", "HCPCS"}
    assert any(i.code == "J1100" for i in search("J110", systems=("HCPCS",)))
    assert all(i.system == "HCPCS" for i in search("J110", systems=("HCPCS",)))


def test_words() -> None:
    found = search("heart failure acute")
    assert found
    for info in found:
        words = tokens(info.description)
        for typed in ("heart", "failure", "acute"):
            assert any(w.startswith(typed) for w in words), info
    assert found[0].billable
    assert "I5021" in [i.code for i in found]
    # fewer words that were not asked for come first
    assert found[0].code == "I50811"  # "Acute right heart failure"


def test_word_prefixes_any_order_and_case() -> None:
    assert [i.code for i in search("FAIL HEART ACUT")] == [
        i.code for i in search("heart failure acute")
    ]
    assert "J1100" in [i.code for i in search("dexameth")]


def test_very_common_words() -> None:
    # "fracture", "left", "initial", "of", "approach" are in tens of thousands of entries.
    found = search("fracture femur left initial")
    assert found
    for info in found:
        words = tokens(info.description)
        for typed in ("fracture", "femur", "left", "initial"):
            assert any(w.startswith(typed) for w in words), info
    assert search("of", limit=5)
    assert all("approach" in tokens(i.description) for i in search("approach", limit=5))


def test_systems_limit_and_nothing() -> None:
    assert len(search("heart", limit=3)) == 3
    assert search("heart", limit=0) == []
    assert search("") == []
    assert search("   ") == []
    assert search("zzzzqqq") == []
    assert all(i.system == "ICD10PCS" for i in search("hip joint", systems=("ICD10PCS",)))
    with pytest.raises(ValueError, match="CPT"):
        search("99213", systems=("CPT",))


def test_a_code_like_query_without_codes_is_read_as_words() -> None:
    found = search("b12")  # no code starts with B12: vitamin B12 descriptions
    assert found
    assert all("b12" in tokens(i.description) for i in found)


# --------------------------------------------------------------------------- vs a scan


@cache
def _entries(system: str) -> list[tuple[tuple[int, int, int, str], frozenset[str]]]:
    """(rank key, words) of every entry: billable first, fewer words, shorter code, code."""
    table = default_catalog().table(system)
    out = []
    for code, description, flags in zip(table.codes, table.descriptions, table.flags, strict=True):
        words = tokens(description)
        out.append(((0 if flags & 1 else 1, len(words), len(code), code), frozenset(words)))
    return sorted(out)


def _scan(system: str, typed: list[str], limit: int) -> list[str]:
    hits = []
    for key, words in _entries(system):
        if all(any(w.startswith(t) for w in words) for t in typed):
            hits.append(key[3])
            if len(hits) == limit:
                break
    return hits


@pytest.mark.parametrize("system", ["ICD10CM", "ICD10PCS", "HCPCS"])
def test_the_index_finds_what_a_scan_finds(system: str) -> None:
    table = default_catalog().table(system)
    rng = random.Random(system)
    engine = CodeSearch()
    described = [d for d in table.descriptions if d]
    for _ in range(25):
        words = tokens(rng.choice(described))
        picked = rng.sample(words, min(len(words), rng.randint(1, 3)))
        typed = [w[: rng.randint(2, len(w))] if len(w) > 2 else w for w in picked]
        query = " ".join(typed)
        if len(typed) == 1 and (len(query) == 1 or any(c.isdigit() for c in query)):
            continue  # a code-like query
        got = [i.code for i in engine.search(query, systems=(system,), limit=15)]
        assert got == _scan(system, typed, 15), query


def test_a_code_query_does_not_wait_for_the_word_index() -> None:
    engine = CodeSearch()
    found = [(i.system, i.display) for i in engine.search("J1100")]
    assert found == [("ICD10CM", "J11.00"), ("HCPCS", "J1100")]  # ties: order of systems
    assert engine._words == {}
    engine.warm_up(("HCPCS",))
    assert set(engine._words) == {"HCPCS"}
