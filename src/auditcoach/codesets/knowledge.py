"""The coding knowledge the app runs with: one grouper, one pricing table, one catalog of
code sets and one code checker per process."""

import os
from functools import cache
from pathlib import Path

from auditcoach.codesets.catalog import Catalog, default_catalog
from auditcoach.codesets.checks import CodeSetChecker
from auditcoach.codesets.grouping import MsdrgAdapter
from auditcoach.codesets.pricing import USER_DATA_ENV, Table5Pricing


@cache
def grouper() -> MsdrgAdapter:
    return MsdrgAdapter()


@cache
def pricing() -> Table5Pricing:
    """Shipped Table 5 files plus those loaded by `auditcoach load_table5` (see
    `user_data_dir`). `pricing.cache_clear()` makes the next call look again."""
    return Table5Pricing(user_dir=user_data_dir())


@cache
def catalog() -> Catalog:
    """Descriptions and validity of ICD-10-CM, ICD-10-PCS and HCPCS codes (lazy)."""
    return default_catalog()


@cache
def checker() -> CodeSetChecker:
    """The code-set checks `compare_encounter(..., checker=checker())` runs."""
    return CodeSetChecker(catalog())


def user_data_dir() -> Path | None:
    """The folder of user-loaded code tables: the Django setting `AUDITCOACH_DATA_DIR`
    when the app runs and sets it, else `$AUDITCOACH_DATA_DIR`, else (in the app)
    `VAR_DIR/codesets`; None for plain Python without either."""
    try:
        from django.conf import settings
    except ImportError:  # pragma: no cover - Django is a dependency
        settings = None  # type: ignore[assignment]
    configured = settings is not None and settings.configured
    if configured:
        folder = getattr(settings, "AUDITCOACH_DATA_DIR", None)
        if folder:
            return Path(folder)
    if os.environ.get(USER_DATA_ENV):
        return Path(os.environ[USER_DATA_ENV])
    if configured:
        return Path(settings.VAR_DIR) / "codesets"
    return None
