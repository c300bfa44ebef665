"""The coding knowledge the app runs with: one grouper and one pricing table per process."""

from functools import cache

from auditcoach.codesets.grouping import MsdrgAdapter
from auditcoach.codesets.pricing import Table5Pricing


@cache
def grouper() -> MsdrgAdapter:
    return MsdrgAdapter()


@cache
def pricing() -> Table5Pricing:
    return Table5Pricing()
