"""`auditcoach sample draw | appraise | size … --json` (DESIGN §12 "Command line").

Touches no database: files are read (at most `SAMPLE_MAX_FILE_BYTES`), the engine draws or
appraises, JSON goes to standard output. Bad input exits 2 with every problem listed.
"""

from __future__ import annotations

import json
import re
import sys
from fractions import Fraction
from pathlib import Path
from typing import Any, Final

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from auditcoach.engine.frame import Frame, SampleFile, read_frame, read_sample
from auditcoach.engine.sampling import (
    SampleStratum,
    SamplingError,
    allocate_proportional,
    appraise_attribute,
    appraise_variable,
    attribute_sample_size,
    draw_strata,
    random_seed,
    variable_sample_size,
)

_WHOLE: Final = re.compile(r"\d{1,18}")
_SEED: Final = re.compile(r"\d{1,100}")
_SHARE: Final = re.compile(r"\d{0,3}(?:\.\d{1,15})?")
_MONEY: Final = {
    "point_estimate",
    "standard_error",
    "lower_two_sided",
    "upper_two_sided",
    "lower_one_sided",
}


class _Bad(Exception):
    pass


def _whole(raw: str, option: str, problems: list[str], *, least: int = 0) -> int | None:
    text = raw.strip()
    if not _WHOLE.fullmatch(text) or int(text) < least:
        problems.append(f"{option} must be a whole number {least} or more, got {raw!r}")
        return None
    return int(text)


def _share(raw: str, option: str, problems: list[str]) -> Fraction | None:
    """A number strictly between 0 and 1 written as a decimal (0.90), kept exact."""
    text = raw.strip()
    if not text or not _SHARE.fullmatch(text) or not 0 < Fraction(text) < 1:
        problems.append(
            f"{option} must be a decimal number between 0 and 1 (like 0.90), got {raw!r}"
        )
        return None
    return Fraction(text)


def _by_label(raw: str, option: str, problems: list[str], *, least: int) -> dict[str, int] | None:
    """LABEL=N,LABEL=N,… (a label holds no comma; the last "=" separates the number)."""
    parsed: dict[str, int] = {}
    ok = True
    for part in raw.split(","):
        label, eq, number = part.rpartition("=")
        if not eq:
            problems.append(f"{option}: {part!r} is not LABEL=N")
            ok = False
            continue
        if label in parsed:
            problems.append(f"{option}: the stratum {label!r} is given twice")
            ok = False
        value = _whole(number, f"{option} for {label!r}", problems, least=least)
        if value is None:
            ok = False
        else:
            parsed[label] = value
    return parsed if ok else None


def _universe(raw: str, problems: list[str]) -> int | dict[str, int] | None:
    if "=" in raw:
        return _by_label(raw, "--universe", problems, least=1)
    return _whole(raw, "--universe", problems, least=1)


def _read(path: str, problems: list[str]) -> bytes | None:
    file = Path(path)
    limit: int = settings.SAMPLE_MAX_FILE_BYTES
    try:
        if not file.is_file():
            problems.append(f"{path}: there is no such file")
            return None
        with file.open("rb") as handle:
            data = handle.read(limit + 1)
    except OSError as exc:
        problems.append(f"{path}: cannot be read ({exc.strerror or exc})")
        return None
    if len(data) > limit:
        problems.append(f"{path}: the file is larger than {limit:,} bytes (SAMPLE_MAX_FILE_BYTES)")
        return None
    return data


class Command(BaseCommand):
    help = "Draw a reproducible sample, appraise one, or size one (DESIGN §12), without a database."
    requires_system_checks: list[str] = []

    def add_arguments(self, parser: CommandParser) -> None:
        actions = parser.add_subparsers(dest="action", required=True, metavar="draw|appraise|size")
        draw = actions.add_parser("draw", help="draw a sample (Wichmann–Hill) from a frame")
        draw.add_argument("frame", help="the frame: a CSV file with an item_id column")
        draw.add_argument("--size", help="draw N items from the whole frame")
        draw.add_argument("--sizes", help="LABEL=N,… : the size of every stratum")
        draw.add_argument("--proportional", help="N items allocated to the strata by size")
        draw.add_argument("--stratum-column", help="the column holding each item's stratum")
        draw.add_argument("--id-column", default="item_id", help="the id column (item_id)")
        draw.add_argument("--spares", default="0", help="K spares per stratum (0)")
        draw.add_argument("--seed", help="a whole number; chosen at random when not given")
        draw.add_argument("--json", action="store_true", help="print the §12 JSON")
        appraise = actions.add_parser("appraise", help="appraise a sample's values")
        appraise.add_argument("sample", help="a CSV file with item_id, value [, stratum]")
        appraise.add_argument("--universe", required=True, help="N, or LABEL=N,… per stratum")
        appraise.add_argument("--attribute", action="store_true", help="values are 1 or 0")
        appraise.add_argument("--confidence", default="0.90", help="confidence (0.90)")
        appraise.add_argument("--json", action="store_true", help="print the §12 JSON")
        size = actions.add_parser("size", help="the sample size for a precision")
        size.add_argument("--probe", help="a probe sample: a CSV file with item_id, value")
        size.add_argument("--expected-rate", help="the expected error rate p (attribute)")
        size.add_argument("--universe", required=True, help="N, the items in the universe")
        size.add_argument("--precision", help="relative (probe, 0.25) or absolute d (rate)")
        size.add_argument("--confidence", default="0.90", help="confidence (0.90)")
        size.add_argument("--json", action="store_true", help="print the §12 JSON")

    def handle(self, *args: Any, **options: Any) -> None:
        problems: list[str] = []
        try:
            report = getattr(self, f"_{options['action']}")(options, problems)
        except _Bad:
            report = None
        if problems or report is None:
            raise CommandError("the input was refused:\n" + "\n".join(problems), returncode=2)
        if options["json"]:
            json.dump(report, sys.stdout, indent=1)
            sys.stdout.write("\n")
            return
        for key, value in report.items():
            if key == "strata":
                for stratum in value:
                    self.stdout.write("stratum " + json.dumps(stratum, ensure_ascii=False))
            elif key in _MONEY and value is not None:
                self.stdout.write(f"{key:<16} {value:,.2f}")
            else:
                self.stdout.write(f"{key:<16} {json.dumps(value, ensure_ascii=False)}")

    # ------------------------------------------------------------------ draw

    def _draw(self, options: dict[str, Any], problems: list[str]) -> dict[str, Any]:
        given = [o for o in ("size", "sizes", "proportional") if options[o] is not None]
        column: str | None = options["stratum_column"]
        spec_ok = False  # sizes are checked against the strata only when they were asked clearly
        if len(given) != 1:
            problems.append("give exactly one of --size, --sizes and --proportional")
        elif given == ["size"] and column is not None:
            problems.append(
                "--size draws from the whole frame; with --stratum-column give --sizes or --proportional"
            )
        elif given != ["size"] and column is None:
            problems.append(f"--{given[0]} needs --stratum-column")
        else:
            spec_ok = True
        spares = _whole(options["spares"], "--spares", problems)
        seed: int | None = None
        if options["seed"] is not None:
            text = options["seed"].strip()
            if _SEED.fullmatch(text):
                seed = int(text)
            else:
                problems.append(f"--seed must be a whole number 0 or more, got {options['seed']!r}")
        size = sizes = proportional = None
        if options["size"] is not None:
            size = _whole(options["size"], "--size", problems, least=1)
        if options["sizes"] is not None:
            sizes = _by_label(options["sizes"], "--sizes", problems, least=1)
        if options["proportional"] is not None:
            proportional = _whole(options["proportional"], "--proportional", problems, least=1)

        frame: Frame | None = None
        data = _read(options["frame"], problems)
        if data is not None:
            try:
                frame = read_frame(
                    data,
                    source=options["frame"],
                    id_column=options["id_column"],
                    stratum_column=column,
                )
            except SamplingError as exc:
                problems.extend(exc.problems)
        if (
            frame is None
            or not spec_ok
            or (size is None and sizes is None and proportional is None)
        ):
            raise _Bad
        ids = frame.strata()
        strata = {label: len(items) for label, items in ids.items()}
        try:
            if proportional is not None:
                sizes = allocate_proportional(proportional, strata)
            elif size is not None:
                sizes = {"": size}
            assert sizes is not None
            if seed is None and not problems:
                seed = random_seed()
            drawn = draw_strata(strata, sizes, spares=spares or 0, seed=seed or 0)
        except SamplingError as exc:
            problems.extend(exc.problems)
            raise _Bad from exc
        return {
            "seed": seed,
            "frame": {"items": len(frame.ids), "sha256": frame.sha256},
            "strata": [
                {
                    "stratum": d.label,
                    "items": d.items,
                    "size": d.size,
                    "certainty": d.certainty,
                    "selected": [ids[d.label][k - 1] for k in d.selected],
                    "sorted": [ids[d.label][k - 1] for k in d.sorted],
                    "spares": [ids[d.label][k - 1] for k in d.spares],
                }
                for d in drawn
            ],
        }

    # ------------------------------------------------------------------ appraise

    def _appraise(self, options: dict[str, Any], problems: list[str]) -> dict[str, Any]:
        universe = _universe(options["universe"], problems)
        confidence = _share(options["confidence"], "--confidence", problems)
        stratified = isinstance(universe, dict) or (universe is None and "=" in options["universe"])
        attribute: bool = options["attribute"]
        if attribute and stratified:
            problems.append("an attribute appraisal is unrestricted: give --universe N")
        sample: SampleFile | None = None
        data = _read(options["sample"], problems)
        if data is not None:
            try:
                sample = read_sample(
                    data, source=options["sample"], attribute=attribute, stratified=stratified
                )
            except SamplingError as exc:
                problems.extend(exc.problems)
        if sample is None or universe is None or confidence is None or problems:
            raise _Bad
        try:
            if attribute:
                assert isinstance(universe, int)
                values = [int(r.value) for r in sample.rows]
                return appraise_attribute(values, items=universe, confidence=confidence).as_json()
            if isinstance(universe, int):
                strata = [SampleStratum("", universe, tuple(r.value for r in sample.rows))]
            else:
                strata = self._strata(sample, universe, problems)
            return appraise_variable(strata, confidence=confidence, stratified=stratified).as_json()
        except SamplingError as exc:
            problems.extend(exc.problems)
            raise _Bad from exc

    def _strata(
        self, sample: SampleFile, universe: dict[str, int], problems: list[str]
    ) -> list[SampleStratum]:
        values: dict[str, list[Fraction]] = {label: [] for label in universe}
        unknown: dict[str, int] = {}
        for row in sample.rows:
            assert row.stratum is not None
            if row.stratum in values:
                values[row.stratum].append(row.value)
            else:
                unknown[row.stratum] = unknown.get(row.stratum, 0) + 1
        for label, count in sorted(unknown.items()):
            problems.append(
                f"{count} sampled item(s) are in stratum {label!r}, which --universe does not give"
            )
        if unknown:
            raise _Bad
        return [SampleStratum(h, universe[h], tuple(values[h])) for h in sorted(universe)]

    # ------------------------------------------------------------------ size

    def _size(self, options: dict[str, Any], problems: list[str]) -> dict[str, Any]:
        universe = _whole(options["universe"], "--universe", problems, least=1)
        confidence = _share(options["confidence"], "--confidence", problems)
        probe_path: str | None = options["probe"]
        rate_text: str | None = options["expected_rate"]
        if (probe_path is None) == (rate_text is None):
            problems.append("give exactly one of --probe and --expected-rate")
            raise _Bad
        if rate_text is not None:
            rate = _share(rate_text, "--expected-rate", problems)
            if options["precision"] is None:
                problems.append("--expected-rate needs --precision d (the absolute precision)")
                raise _Bad
            precision = _share(options["precision"], "--precision", problems)
            if rate is None or precision is None or universe is None or confidence is None:
                raise _Bad
            try:
                n = attribute_sample_size(
                    expected_rate=rate, precision=precision, items=universe, confidence=confidence
                )
            except SamplingError as exc:
                problems.extend(exc.problems)
                raise _Bad from exc
            return {"n": n}
        assert probe_path is not None
        relative = _share(options["precision"] or "0.25", "--precision", problems)
        sample: SampleFile | None = None
        data = _read(probe_path, problems)
        if data is not None:
            try:
                sample = read_sample(data, source=probe_path, attribute=False, stratified=False)
            except SamplingError as exc:
                problems.extend(exc.problems)
        if sample is None or relative is None or universe is None or confidence is None:
            raise _Bad
        try:
            n = variable_sample_size(
                [r.value for r in sample.rows],
                items=universe,
                precision=relative,
                confidence=confidence,
            )
        except SamplingError as exc:
            problems.extend(exc.problems)
            raise _Bad from exc
        return {"n": n}
