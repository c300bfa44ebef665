"""Citation-format validators: the one module that knows what a well-formed citation is.

Each validator raises `ValidationError` with a message a coder can act on. The model's
`clean()` calls `validate_reference_fields`, which applies the per-source rules (DESIGN §4);
simple ranges are also enforced by database check constraints.
"""

from __future__ import annotations

import re
from datetime import date
from typing import Any

from django.core.exceptions import ValidationError

EARLIEST_CODING_CLINIC_YEAR = 1985  # ICD-9-CM era issues exist; ICD-10 advice starts in 2014.
EARLIEST_CPT_ASSISTANT_YEAR = 1990
EARLIEST_OCG_YEAR = 2015  # ICD-10-CM/PCS official guidelines, effective Oct 2015 (FY2016).

# OCG sections as coders write them: "I.C.1.d.4", "I.B.14", "I.A.15", "Section II",
# "Section III", "Appendix I" (deeper levels too: "I.C.1.d.1.a.ii"); the PCS guidelines use
# "A.1", "B3.1a", "B4.1c".
OCG_SECTION_RE = re.compile(
    r"^(?:"
    r"I(?:\.[A-C](?:\.\d{1,2}(?:\.[a-z](?:\.\d{1,2}(?:\.[a-z](?:\.(?:\d{1,2}|[ivx]{1,4}))?)?)?)?)?)?"
    r"|Section (?:I|II|III|IV)"
    r"|Appendix I"
    r"|[A-C]\d{0,2}(?:\.\d{1,2}[a-z]?)"
    r")$"
)


def current_year() -> int:
    return date.today().year


def validate_year_range(value: int | None, *, earliest: int, what: str) -> None:
    if value is None:
        raise ValidationError(f"{what} year is required.", code="required")
    latest = current_year() + 1
    if not earliest <= value <= latest:
        raise ValidationError(
            f"{what} year must be between {earliest} and {latest}; got {value}.",
            code="year_range",
        )


def validate_coding_clinic_year(value: int | None) -> None:
    validate_year_range(value, earliest=EARLIEST_CODING_CLINIC_YEAR, what="Coding Clinic")


def validate_cpt_assistant_year(value: int | None) -> None:
    validate_year_range(value, earliest=EARLIEST_CPT_ASSISTANT_YEAR, what="CPT Assistant")


def validate_ocg_fiscal_year(value: int | None) -> None:
    validate_year_range(value, earliest=EARLIEST_OCG_YEAR, what="Guidelines fiscal")


def validate_free_year(value: int | None) -> None:
    if value is not None:
        validate_year_range(value, earliest=1980, what="The")


def validate_quarter(value: int | None) -> None:
    if value is None:
        raise ValidationError("Quarter is required (1–4).", code="required")
    if not 1 <= value <= 4:
        raise ValidationError(f"Quarter must be 1, 2, 3 or 4; got {value}.", code="quarter")


def validate_month(value: int | None) -> None:
    if value is None:
        raise ValidationError("Month is required (1–12).", code="required")
    if not 1 <= value <= 12:
        raise ValidationError(f"Month must be between 1 and 12; got {value}.", code="month")


def validate_page(value: int | None) -> None:
    if value is not None and value < 1:
        raise ValidationError(f"Page must be 1 or more; got {value}.", code="page")


def validate_positive(value: int | None, what: str) -> None:
    if value is not None and value < 1:
        raise ValidationError(f"{what} must be 1 or more; got {value}.", code="positive")


def validate_ocg_section(value: str) -> None:
    if not value:
        raise ValidationError("Guidelines section is required (e.g. I.C.1.d.4).", code="required")
    if not OCG_SECTION_RE.match(value):
        raise ValidationError(
            f"“{value}” is not a guidelines section. Write it as it appears in the "
            "guidelines: I.C.1.d.4, I.B.14, Section II, Section III or Appendix I.",
            code="ocg_section",
        )


def validate_https_url(value: str) -> None:
    if value and not value.lower().startswith("https://"):
        raise ValidationError("Links must start with https://.", code="https")


def _collect(errors: dict[str, list[ValidationError]], field: str, check: Any, *args: Any) -> None:
    try:
        check(*args)
    except ValidationError as exc:
        errors.setdefault(field, []).append(exc)


def validate_reference_fields(ref: Any) -> None:
    """Apply the per-source rules to a `Reference`; raises one error dict for the form."""
    from auditcoach.library.models import Source  # local: models import this module

    errors: dict[str, list[ValidationError]] = {}
    source = ref.source
    _collect(errors, "url", validate_https_url, ref.url or "")
    _collect(errors, "page", validate_page, ref.page)
    if not (ref.summary or "").strip():
        errors.setdefault("summary", []).append(
            ValidationError("A summary is required: say in your own words what it advises.")
        )
    if source == Source.CODING_CLINIC:
        _collect(errors, "year", validate_coding_clinic_year, ref.year)
        _collect(errors, "quarter", validate_quarter, ref.quarter)
        if ref.page is None:
            errors.setdefault("page", []).append(ValidationError("Page is required."))
    elif source == Source.OCG:
        _collect(errors, "year", validate_ocg_fiscal_year, ref.year)
        _collect(errors, "section", validate_ocg_section, (ref.section or "").strip())
        if not ref.code_set:
            errors.setdefault("code_set", []).append(
                ValidationError("Choose ICD-10-CM or ICD-10-PCS guidelines.")
            )
    elif source == Source.CPT_ASSISTANT:
        _collect(errors, "year", validate_cpt_assistant_year, ref.year)
        _collect(errors, "month", validate_month, ref.month)
        _collect(errors, "volume", validate_positive, ref.volume, "Volume")
        _collect(errors, "issue", validate_positive, ref.issue, "Issue")
        if ref.page is None:
            errors.setdefault("page", []).append(ValidationError("Page is required."))
    else:
        if not (ref.title or "").strip() and not (ref.chapter or "").strip():
            errors.setdefault("title", []).append(
                ValidationError("Give a title or a chapter so the reference can be found.")
            )
        if ref.year is not None:
            _collect(errors, "year", validate_free_year, ref.year)
    if errors:
        raise ValidationError(errors)
