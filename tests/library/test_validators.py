"""Citation validators and formatting: plain objects, no database."""

from datetime import date
from typing import Any

import pytest
from django.core.exceptions import ValidationError

from auditcoach.library import validators
from auditcoach.library.models import CodeSet, Reference, Source


def ref(**fields: Any) -> Reference:
    fields.setdefault("summary", "Our own words.")
    return Reference(**fields)


def errors(reference: Reference) -> dict[str, list[str]]:
    try:
        reference.clean()
    except ValidationError as exc:
        return exc.message_dict
    return {}


# --------------------------------------------------------------------------- single validators


@pytest.mark.parametrize(
    "section",
    ["I.C.1.d.4", "I.B.14", "I.A.19", "I.C.10.b", "I.C.1.d.1.a.ii", "Section II", "Section III",
     "Appendix I", "I", "B3.1a", "A.1"],
)  # fmt: skip
def test_good_ocg_sections(section: str) -> None:
    validators.validate_ocg_section(section)


@pytest.mark.parametrize(
    "section", ["", "IC1d4", "I.C.1.D.4", "Section V", "Appendix II", "I.Z.1", "1.C.1", "see ch 1"]
)
def test_bad_ocg_sections(section: str) -> None:
    with pytest.raises(ValidationError):
        validators.validate_ocg_section(section)


@pytest.mark.parametrize("quarter", [1, 2, 3, 4])
def test_good_quarters(quarter: int) -> None:
    validators.validate_quarter(quarter)


@pytest.mark.parametrize("quarter", [0, 5, None])
def test_bad_quarters(quarter: int | None) -> None:
    with pytest.raises(ValidationError, match="Quarter"):
        validators.validate_quarter(quarter)


@pytest.mark.parametrize(("month", "ok"), [(1, True), (12, True), (0, False), (13, False)])
def test_months(month: int, ok: bool) -> None:
    if ok:
        validators.validate_month(month)
    else:
        with pytest.raises(ValidationError, match="Month must be between 1 and 12"):
            validators.validate_month(month)


def test_coding_clinic_year_range() -> None:
    validators.validate_coding_clinic_year(1985)  # ICD-9-CM era issues exist
    validators.validate_coding_clinic_year(date.today().year + 1)
    for bad in (1984, date.today().year + 2, None):
        with pytest.raises(ValidationError):
            validators.validate_coding_clinic_year(bad)


def test_page_and_url() -> None:
    validators.validate_page(1)
    validators.validate_page(None)
    with pytest.raises(ValidationError, match="Page must be 1 or more"):
        validators.validate_page(0)
    validators.validate_https_url("https://example.org/x")
    validators.validate_https_url("")
    with pytest.raises(ValidationError, match="https"):
        validators.validate_https_url("http://example.org/x")


# --------------------------------------------------------------------------- per source


def test_coding_clinic_needs_year_quarter_page() -> None:
    assert errors(ref(source=Source.CODING_CLINIC, year=2016, quarter=3, page=8)) == {}
    found = errors(ref(source=Source.CODING_CLINIC, year=1970, quarter=5))
    assert set(found) == {"year", "quarter", "page"}
    assert "between 1985" in found["year"][0]


def test_ocg_needs_fiscal_year_section_and_code_set() -> None:
    good = ref(source=Source.OCG, year=2026, section="I.C.1.d.4", code_set=CodeSet.ICD10CM)
    assert errors(good) == {}
    found = errors(ref(source=Source.OCG, year=2026, section="1.c.1"))
    assert set(found) == {"section", "code_set"}
    assert "I.C.1.d.4" in found["section"][0]


def test_cpt_assistant_needs_year_month_and_page() -> None:
    good = ref(source=Source.CPT_ASSISTANT, year=2023, month=8, volume=33, issue=8, page=4)
    assert errors(good) == {}
    found = errors(ref(source=Source.CPT_ASSISTANT, year=2023, month=13, volume=0, page=0))
    assert set(found) == {"month", "volume", "page"}


@pytest.mark.parametrize(
    "source", [Source.NCCI, Source.CMS_MANUAL, Source.PAYER_POLICY, Source.ORG_POLICY]
)
def test_free_text_sources_need_a_title_or_chapter(source: Source) -> None:
    assert errors(ref(source=source, chapter="XI", year=2026)) == {}
    assert errors(ref(source=source, title="Wound care policy")) == {}
    assert set(errors(ref(source=source, year=1900))) == {"title", "year"}


def test_summary_is_required_and_link_https() -> None:
    found = errors(ref(source=Source.NCCI, chapter="I", summary=" ", url="http://x.org"))
    assert set(found) == {"summary", "url"}


# --------------------------------------------------------------------------- citations


@pytest.mark.parametrize(
    ("fields", "citation"),
    [
        ({"source": Source.CODING_CLINIC, "year": 2016, "quarter": 3, "page": 8},
         "Coding Clinic 3Q 2016 p. 8"),
        ({"source": Source.OCG, "year": 2026, "section": "I.C.1.d.4", "code_set": "ICD10CM"},
         "OCG FY2026 I.C.1.d.4"),
        ({"source": Source.OCG, "year": 2026, "section": "B3.1a", "code_set": "ICD10PCS"},
         "OCG ICD-10-PCS FY2026 B3.1a"),
        ({"source": Source.CPT_ASSISTANT, "year": 2023, "month": 8, "volume": 33, "issue": 8,
          "page": 4}, "CPT Assistant Aug 2023 vol. 33 no. 8 p. 4"),
        ({"source": Source.NCCI, "chapter": "XI"}, "NCCI Policy Manual ch. XI"),
        ({"source": Source.NCCI, "chapter": "I", "year": 2026}, "NCCI Policy Manual ch. I (2026)"),
        ({"source": Source.CMS_MANUAL, "title": "Claims Processing Manual (100-04)",
          "chapter": "12", "section": "30.6"},
         "CMS Claims Processing Manual (100-04) ch. 12 § 30.6"),
        ({"source": Source.PAYER_POLICY, "title": "Acme Health: modifier 25"},
         "Payer policy: Acme Health: modifier 25"),
    ],
)  # fmt: skip
def test_citations_read_the_way_coders_write_them(fields: dict[str, Any], citation: str) -> None:
    assert ref(**fields).citation == citation
    assert str(ref(**fields)) == citation
