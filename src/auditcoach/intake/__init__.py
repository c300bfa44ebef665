"""Claims in (DESIGN §14): X12 837I/837P and FHIR R4 Claim files read into the two §9
tables and validated by `engine.workbook.read_tables`, so every format meets the rules of
the audit workbook and ends in the same import (docs/intake.md).

Plain Python, no Django: the limits come in as `IntakeLimits` (the Django side builds them
from the `IMPORT_MAX_*` settings in `audits.uploads`).
"""

from __future__ import annotations

from auditcoach.intake.common import FORMATS, IntakeLimits, detect_format, read_intake

__all__ = ["FORMATS", "IntakeLimits", "detect_format", "read_intake"]
