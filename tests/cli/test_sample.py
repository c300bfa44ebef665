"""`auditcoach sample draw | appraise | size --json` (DESIGN §12 "Command line"): the real
command on the fixture files, §12's worked numbers, the same sample again from the seed,
and bad input exits 2 with every problem listed."""

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from auditcoach.engine.sampling import WichmannHill, select_without_replacement

FIXTURES = Path(__file__).parent.parent / "fixtures" / "sampling"
FRAME10 = FIXTURES / "frame10.csv"
CODERS = FIXTURES / "frame_coders.csv"


def sample(*args: str | Path, capsys: pytest.CaptureFixture[str]) -> Any:
    call_command("sample", *[str(a) for a in args], "--json")
    return json.loads(capsys.readouterr().out)


def refused(*args: str | Path) -> str:
    with pytest.raises(CommandError) as info:
        call_command("sample", *[str(a) for a in args], "--json")
    assert info.value.returncode == 2
    return str(info.value)


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


# --------------------------------------------------------------------------- draw


def test_draw_prints_section_12_json(capsys: pytest.CaptureFixture[str]) -> None:
    # seed 0 on ten items: 1, 9, 2, 10, then spares 3, 4 (tests/engine/test_sampling.py)
    out = sample("draw", FRAME10, "--size", "4", "--spares", "2", "--seed", "0", capsys=capsys)
    assert out == {
        "seed": 0,
        "frame": {"items": 10, "sha256": sha256(FRAME10)},
        "strata": [
            {
                "stratum": "",
                "items": 10,
                "size": 4,
                "certainty": False,
                "selected": ["CLM-01", "CLM-09", "CLM-02", "CLM-10"],
                "sorted": ["CLM-01", "CLM-02", "CLM-09", "CLM-10"],
                "spares": ["CLM-03", "CLM-04"],
            }
        ],
    }


def test_a_draw_without_a_seed_stores_one_that_draws_the_same_sample_again(
    capsys: pytest.CaptureFixture[str],
) -> None:
    first = sample("draw", CODERS, "--size", "7", "--spares", "3", capsys=capsys)
    assert 1 <= first["seed"] <= 2**40
    again = sample(
        "draw", CODERS, "--size", "7", "--spares", "3", "--seed", str(first["seed"]), capsys=capsys
    )
    assert again == first


def test_a_byte_order_mark_and_crlf_change_the_hash_not_the_sample(
    capsys: pytest.CaptureFixture[str],
) -> None:
    plain = sample("draw", FRAME10, "--size", "3", "--seed", "42", capsys=capsys)
    excel_copy = FIXTURES / "frame10_bom_crlf.csv"
    bom = sample("draw", excel_copy, "--size", "3", "--seed", "42", capsys=capsys)
    assert bom["strata"] == plain["strata"]
    assert bom["frame"] == {"items": 10, "sha256": sha256(excel_copy)}
    assert bom["frame"]["sha256"] != plain["frame"]["sha256"]


def test_a_stratified_draw_by_sizes(capsys: pytest.CaptureFixture[str]) -> None:
    out = sample(
        "draw",
        CODERS,
        "--stratum-column",
        "coder",
        "--sizes",
        "coder.ana=4,coder.ben=3,coder.cy=2,Coder.Dee=2",
        "--spares",
        "1",
        "--seed",
        "20261203",
        capsys=capsys,
    )
    assert out["frame"] == {"items": 32, "sha256": sha256(CODERS)}
    assert [s["stratum"] for s in out["strata"]] == [
        "Coder.Dee",
        "coder.ana",
        "coder.ben",
        "coder.cy",
    ]
    # each stratum's items are numbered in file order; one stream runs through the strata in
    # that order, skipping coder.cy (3 items, 2 + 1 spare: certainty, no draw)
    lines = CODERS.read_text().splitlines()[1:]
    rng = WichmannHill(20261203)
    for stratum, size in zip(out["strata"], [2, 4, 3, 2], strict=True):
        ids = [line.split(",")[0] for line in lines if line.split(",")[1] == stratum["stratum"]]
        assert stratum["items"] == len(ids)
        if stratum["stratum"] == "coder.cy":
            assert stratum["certainty"]
            assert (stratum["size"], stratum["selected"], stratum["spares"]) == (3, ids, [])
            continue
        chosen, spare = select_without_replacement(rng, len(ids), size, 1)
        assert stratum["selected"] == [ids[k - 1] for k in chosen]
        assert stratum["spares"] == [ids[k - 1] for k in spare]
        assert stratum["sorted"] == [ids[k - 1] for k in sorted(chosen)]
        assert (stratum["size"], stratum["certainty"]) == (size, False)


def test_a_proportional_draw(capsys: pytest.CaptureFixture[str]) -> None:
    # 10 of 32: quotas Dee 60/32 = 1.875, ana 140/32 = 4.375, ben 90/32 = 2.8125, cy 0.9375;
    # floors 1, 4, 2, 0 = 7; the 3 missing go to cy (.9375), Dee (.875), ben (.8125)
    out = sample(
        "draw", CODERS, "--stratum-column", "coder", "--proportional", "10", "--seed", "7",
        capsys=capsys,
    )  # fmt: skip
    sizes = {s["stratum"]: s["size"] for s in out["strata"]}
    assert sizes == {"Coder.Dee": 2, "coder.ana": 4, "coder.ben": 3, "coder.cy": 1}
    assert all(not s["certainty"] for s in out["strata"])


def test_the_id_column_can_be_named(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    frame = tmp_path / "claims.csv"
    frame.write_text("claim,item_id\n" + "".join(f"C{i},x\n" for i in range(1, 33)))
    out = sample("draw", frame, "--id-column", "claim", "--size", "2", "--seed", "0", capsys=capsys)
    # seed 0 on 32 items: ⌊0.0169·32⌋ + 1 = 1, ⌊0.8953·32⌋ + 1 = 29
    assert out["strata"][0]["selected"] == ["C1", "C29"]


def test_the_whole_frame_asked_for_is_taken_with_certainty(
    capsys: pytest.CaptureFixture[str],
) -> None:
    out = sample("draw", FRAME10, "--size", "8", "--spares", "2", "--seed", "5", capsys=capsys)
    (stratum,) = out["strata"]
    assert stratum["certainty"]
    assert stratum["selected"] == stratum["sorted"] == [f"CLM-{i:02d}" for i in range(1, 11)]
    assert (stratum["size"], stratum["spares"]) == (10, [])


def test_an_unclear_size_is_not_checked_against_the_strata() -> None:
    # --sizes without --stratum-column: one clear problem, not also "no size for stratum ''"
    message = refused("draw", FRAME10, "--sizes", "Medicare=2", "--seed", "1")
    assert message.splitlines()[1:] == ["--sizes needs --stratum-column"]


def test_a_bad_frame_lists_every_problem() -> None:
    message = refused("draw", FIXTURES / "bad_frame.csv", "--size", "2", "--seed", "1")
    assert "line 4: the item_id 'CLM-01' is also on line 2" in message
    assert "line 5: the item_id is empty" in message
    assert "line 6: has 2 cells, but the header has 3" in message
    assert "line 7: the item_id 'CLM-02' is also on line 3" in message


def test_bad_options_and_a_bad_frame_are_listed_together(tmp_path: Path) -> None:
    frame = tmp_path / "frame.csv"
    frame.write_bytes(b"id,coder\nA,x\n")
    message = refused(
        "draw", frame, "--sizes", "x=0", "--stratum-column", "coder", "--seed", "-4",
        "--spares", "two",
    )  # fmt: skip
    assert "--spares must be a whole number 0 or more, got 'two'" in message
    assert "--seed must be a whole number 0 or more, got '-4'" in message
    assert "--sizes for 'x' must be a whole number 1 or more, got '0'" in message
    assert "has no id column 'item_id' in its header (its columns: 'id', 'coder')" in message


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--size", "11"], "11 items asked for, but it has only 10"),
        (
            ["--size", "3", "--sizes", "a=1"],
            "give exactly one of --size, --sizes and --proportional",
        ),
        ([], "give exactly one of --size, --sizes and --proportional"),
        (["--proportional", "3"], "--proportional needs --stratum-column"),
        (["--size", "3", "--stratum-column", "payer"], "with --stratum-column give --sizes"),
        (
            ["--sizes", "Medicare=2", "--stratum-column", "payer"],
            "no size given for stratum 'Aetna'",
        ),
        (
            ["--sizes", "Medicare=2,Aetna=1,Cigna=1", "--stratum-column", "payer"],
            "'Cigna', which is not a stratum",
        ),
        (["--sizes", "Medicare=2,Medicare=1", "--stratum-column", "payer"], "given twice"),
        (["--proportional", "11", "--stratum-column", "payer"], "only 10"),
        (["--size", "3", "--stratum-column", "nope"], "has no stratum column 'nope'"),
    ],
)
def test_bad_sizes_exit_2(args: list[str], expected: str) -> None:
    assert expected in refused("draw", FRAME10, "--seed", "1", *args)


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (b"", "is empty"),
        (b"item_id\n", "has a header but no items"),
        (b"item_id\nA\n\xff\xfe\n", "is not UTF-8 text (byte 11 cannot be read)"),
        (b'item_id\n"A\n', "is not readable CSV"),
        (b"item_id,item_id\nA,B\n", "the column 'item_id' is in the header twice"),
        (b"item_id,coder\nA,\n", "the stratum (coder) is empty"),
    ],
)
def test_hostile_frames_exit_2(tmp_path: Path, content: bytes, expected: str) -> None:
    frame = tmp_path / "frame.csv"
    frame.write_bytes(content)
    stratified = ["--stratum-column", "coder", "--proportional", "1"]
    args = stratified if b"coder" in content else ["--size", "1"]
    assert expected in refused("draw", frame, "--seed", "1", *args)


def test_a_frame_over_the_size_cap_is_refused_unread(tmp_path: Path, settings: Any) -> None:
    settings.SAMPLE_MAX_FILE_BYTES = 100
    frame = tmp_path / "big.csv"
    frame.write_bytes(b"item_id\n" + b"".join(b"ITEM-%05d\n" % i for i in range(20)))
    assert "the file is larger than 100 bytes" in refused("draw", frame, "--size", "1")
    assert "there is no such file" in refused("draw", tmp_path / "missing.csv", "--size", "1")
    assert "there is no such file" in refused("draw", tmp_path, "--size", "1")


# --------------------------------------------------------------------------- appraise


def test_appraise_variable_worked_example(capsys: pytest.CaptureFixture[str]) -> None:
    out = sample("appraise", FIXTURES / "worked_variable.csv", "--universe", "2000", capsys=capsys)
    assert list(out) == [
        "strata", "point_estimate", "standard_error", "df", "t_two_sided", "lower_two_sided",
        "upper_two_sided", "t_one_sided", "lower_one_sided", "precision",
    ]  # fmt: skip
    assert (out["point_estimate"], out["standard_error"]) == (197840.00, 105879.92)
    assert (out["lower_two_sided"], out["lower_one_sided"]) == (17936.56, 58985.51)
    assert out["df"] == 29
    assert list(out["strata"][0]) == ["stratum", "items", "sample", "mean", "sd", "total"]
    assert out["strata"][0]["stratum"] == ""
    assert (out["strata"][0]["mean"], out["strata"][0]["total"]) == (98.92, 197840.00)


def test_appraise_attribute_worked_example(capsys: pytest.CaptureFixture[str]) -> None:
    out = sample(
        "appraise", FIXTURES / "worked_attribute.csv", "--universe", "5000", "--attribute",
        "--confidence", "0.90", capsys=capsys,
    )  # fmt: skip
    assert out == {
        "items": 5000,
        "sample": 100,
        "errors": 7,
        "rate": 0.07,
        "projected": 350.0,
        "lower_count": 168,
        "upper_count": 634,
        "lower_rate": 0.0336,
        "upper_rate": 0.1268,
    }


def test_appraise_stratified(capsys: pytest.CaptureFixture[str]) -> None:
    # high: 3 of 3 (certainty) → total 3,900, no variance; low: 4 of 100 (10, 20, 30, 40) →
    # total 2,500 and SE √(100²·(500/3)/4·0.96) = √400,000 = 632.46, df 3
    out = sample(
        "appraise", FIXTURES / "stratified_sample.csv", "--universe", "low=100,high=3",
        capsys=capsys,
    )  # fmt: skip
    assert [(s["stratum"], s["items"], s["sample"], s["total"]) for s in out["strata"]] == [
        ("high", 3, 3, 3900.00),
        ("low", 100, 4, 2500.00),
    ]
    assert (out["point_estimate"], out["standard_error"], out["df"]) == (6400.00, 632.46, 3)
    assert out["lower_two_sided"] == 4911.60


def test_appraise_refusals_list_every_problem() -> None:
    message = refused(
        "appraise", FIXTURES / "bad_sample.csv", "--universe", "0", "--confidence", "95"
    )
    assert "--universe must be a whole number 1 or more, got '0'" in message
    assert "--confidence must be a decimal number between 0 and 1" in message
    assert "line 3: has 3 cells, but the header has 2" in message
    assert "line 4: the value must be a number like 1432.10" in message
    assert "line 5: the item_id 'S1' is also on line 2" in message
    assert "line 6: the value must be a number" in message


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["worked_attribute.csv", "--universe", "50", "--attribute"], "more than the universe's 50"),
        (["worked_variable.csv", "--universe", "a=10", "--attribute"], "attribute appraisal is unrestricted"),
        (["worked_variable.csv", "--universe", "a=100"], "has no stratum column 'stratum'"),
        (["stratified_sample.csv", "--universe", "low=100"], "stratum 'high', which --universe does not give"),
        (["stratified_sample.csv", "--universe", "low=100,high=3,mid=5"], "stratum 'mid' has no items in the sample"),
        (["stratified_sample.csv", "--universe", "low=2,high=3"], "more than its universe of 2"),
        (["worked_variable.csv", "--universe", "2000", "--attribute"], "an attribute value is 1 or 0, got '125.50'"),
    ],
)  # fmt: skip
def test_appraise_bad_input_exits_2(args: list[str], expected: str) -> None:
    assert expected in refused("appraise", FIXTURES / args[0], *args[1:])


def test_a_sampled_stratum_of_one_item_is_refused(tmp_path: Path) -> None:
    one = tmp_path / "one.csv"
    one.write_text("item_id,stratum,value\nA,x,5\nB,y,1\nC,y,2\n")
    message = refused("appraise", one, "--universe", "x=10,y=50")
    assert "stratum 'x' has a single sampled item" in message


# --------------------------------------------------------------------------- size


def test_size_from_the_worked_probe(capsys: pytest.CaptureFixture[str]) -> None:
    out = sample(
        "size", "--probe", FIXTURES / "worked_variable.csv", "--universe", "2000",
        "--precision", "0.25", "--confidence", "0.90", capsys=capsys,
    )  # fmt: skip
    assert out == {"n": 320}
    assert sample(
        "size", "--probe", FIXTURES / "worked_variable.csv", "--universe", "2000", capsys=capsys
    ) == {"n": 320}  # 0.25 and 0.90 are the defaults


def test_size_from_an_expected_rate(capsys: pytest.CaptureFixture[str]) -> None:
    # n₀ = 1.959964²·0.05·0.95/0.02² = 456.17, n = ⌈456.17/(1 + 455.17/5000)⌉ = 419
    out = sample(
        "size", "--expected-rate", "0.05", "--precision", "0.02", "--universe", "5000",
        "--confidence", "0.95", capsys=capsys,
    )  # fmt: skip
    assert out == {"n": 419}


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--universe", "10"], "give exactly one of --probe and --expected-rate"),
        (["--expected-rate", "0.05", "--universe", "10"], "--expected-rate needs --precision"),
        (["--expected-rate", "1.5", "--precision", "0.02", "--universe", "x"], "--expected-rate must be"),
        (["--probe", "worked_variable.csv", "--universe", "20"], "more than the universe's 20"),
    ],
)  # fmt: skip
def test_size_bad_input_exits_2(args: list[str], expected: str) -> None:
    args = [str(FIXTURES / a) if a.endswith(".csv") else a for a in args]
    assert expected in refused("size", *args)


# --------------------------------------------------------------------------- the console command


def test_the_console_command_touches_no_database_and_exits_2_on_bad_input() -> None:
    # A database URL nobody answers: if `sample` opened a connection, it would fail.
    env = {**os.environ, "DATABASE_URL": "postgres://nobody@127.0.0.1:9/none"}
    run = [sys.executable, "-m", "auditcoach.cli", "sample"]
    good = subprocess.run(
        [*run, "draw", str(FRAME10), "--size", "4", "--spares", "2", "--seed", "0", "--json"],
        capture_output=True,
        text=True,
        check=False,
        env=env,
    )
    assert good.returncode == 0, good.stderr
    assert json.loads(good.stdout)["strata"][0]["selected"] == [
        "CLM-01", "CLM-09", "CLM-02", "CLM-10",
    ]  # fmt: skip
    bad = subprocess.run(
        [*run, "appraise", str(FIXTURES / "bad_sample.csv"), "--universe", "0", "--json"],
        capture_output=True,
        text=True,
        check=False,
        env=env,
    )
    assert bad.returncode == 2
    assert bad.stdout == ""
    assert "--universe must be a whole number 1 or more" in bad.stderr
    assert "line 5: the item_id 'S1' is also on line 2" in bad.stderr


@pytest.mark.parametrize(
    "value", ["1e5", "NaN", "Infinity", "1_000", "0x10", "1234567890123456", "--1"]
)
def test_values_that_are_not_plain_decimals_are_refused(tmp_path: Path, value: str) -> None:
    file = tmp_path / "sample.csv"
    file.write_text(f"item_id,value\nA,1.00\nB,{value}\n")
    message = refused("appraise", file, "--universe", "100")
    assert (
        f"line 3: the value must be a number like 1432.10 (no $ or thousands separators), got {value!r}"
        in message
    )
