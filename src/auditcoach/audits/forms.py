"""Forms of the audits screens: they validate what a person types or uploads and hand clean
values (an `AuditedLine`, a `Workbook`) to the services. They never save anything.

The code-format validators live here until a second app needs them; they check the shape of
a code for its system (DESIGN §5 normalization first), not whether the code exists.
"""

from __future__ import annotations

import json
import re
import shutil
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Final

from django import forms
from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import UploadedFile

from auditcoach.accounts.models import Organization
from auditcoach.audits.models import Audit, CodeLine, Encounter, ImportMapping, RootCause
from auditcoach.audits.selectors import EncounterFilters, import_mapping_for_columns
from auditcoach.audits.services import AuditedLine
from auditcoach.audits.uploads import (
    UPLOAD_SUFFIXES,
    read_upload,
    safe_name,
    unpack_csv_zip,
    workbook_limits,
    zip_limits,
)
from auditcoach.engine import em as em_rules
from auditcoach.engine.codes import normalize_code, normalize_modifiers, normalize_poa
from auditcoach.engine.em import Leveling
from auditcoach.engine.model import FINDING_KINDS, SYSTEM_GROUP
from auditcoach.engine.workbook import Problem, Workbook, WorkbookError
from auditcoach.intake.mapping import (
    CODE_FIELDS,
    DATE_FORMATS,
    ENCOUNTER_FIELDS,
    MAX_NAME,
    MappingInvalid,
    MappingSpec,
    is_extract,
    preview,
    read_mapped,
    spec_from_dict,
    spec_to_dict,
)
from auditcoach.lib.safezip import ZipRefused, check_zip

# --------------------------------------------------------------------------- code validators

CODE_FORMATS: Final[dict[str, tuple[re.Pattern[str], str]]] = {
    "ICD10CM": (
        re.compile(r"[A-Z][0-9A-Z]{2}[0-9A-Z]{0,4}"),
        "An ICD-10-CM code is a letter and 2 letters or digits, up to 7 characters (e.g. I50.23).",
    ),
    "ICD10PCS": (
        re.compile(r"[0-9A-Z]{7}"),
        "An ICD-10-PCS code is exactly 7 letters or digits (e.g. 0JH606Z).",
    ),
    "CPT": (
        re.compile(r"[0-9]{5}|[0-9]{4}[FT]"),
        "A CPT code is 5 digits, or 4 digits and F or T (e.g. 99213, 3074F).",
    ),
    "HCPCS": (
        re.compile(r"[A-Z][0-9]{4}"),
        "A HCPCS code is a letter and 4 digits (e.g. J1100).",
    ),
}
POA_VALUES: Final = ("", "Y", "N", "U", "W", "1")
POA_LABELS: Final = {
    "": "—",
    "Y": "Y",
    "N": "N",
    "U": "U",
    "W": "W",
    "1": "1 (exempt)",
}
MODIFIER_FORMAT: Final = re.compile(r"[0-9A-Z]{2}")
MAX_MODIFIERS: Final = 4
MAX_UNITS: Final = 9999
_MODIFIER_SPLIT: Final = re.compile(r"[;,\s]+")


def validate_code(system: str, raw: str) -> str:
    """The normalized code, or a ValidationError that says what the format is."""
    code = normalize_code(raw)
    if not code:
        raise ValidationError("Enter a code.", code="required")
    pattern, message = CODE_FORMATS[system]
    if not pattern.fullmatch(code):
        raise ValidationError(message, code="format")
    return code


def line_system(raw: str, system: str) -> str:
    """CPT or HCPCS, told apart by the code's shape (the two formats never overlap), so a
    service line typed under the wrong one of the two is simply filed under the right one."""
    code = normalize_code(raw)
    for candidate in ("CPT", "HCPCS"):
        if CODE_FORMATS[candidate][0].fullmatch(code):
            return candidate
    return system


def validate_poa(raw: str) -> str:
    poa = normalize_poa(raw)
    if poa not in POA_VALUES:
        raise ValidationError("POA is Y, N, U, W, 1 or blank.", code="poa")
    return poa


def validate_modifiers(raw: str) -> frozenset[str]:
    """Modifiers typed as `25;RT`, `25, RT` or `25 RT`: up to 4 of 2 letters or digits."""
    items = [m for m in _MODIFIER_SPLIT.split(raw.strip()) if m]
    modifiers = normalize_modifiers(items)
    bad = sorted(m for m in modifiers if not MODIFIER_FORMAT.fullmatch(m))
    if bad:
        raise ValidationError(
            "A modifier is 2 letters or digits (not %(bad)s).",
            code="modifier",
            params={"bad": ", ".join(bad)},
        )
    if len(modifiers) > MAX_MODIFIERS:
        raise ValidationError("At most 4 modifiers.", code="modifiers")
    return modifiers


# --------------------------------------------------------------------------- workspace

DISPOSITIONS: Final = (
    ("01", "Home or self care"),
    ("02", "Short-term hospital"),
    ("03", "Skilled nursing facility"),
    ("04", "Intermediate care facility"),
    ("05", "Cancer / children's hospital"),
    ("06", "Home health care"),
    ("07", "Left against medical advice"),
    ("20", "Expired"),
    ("21", "Court / law enforcement"),
    ("43", "Federal hospital"),
    ("50", "Hospice, home"),
    ("51", "Hospice, medical facility"),
    ("61", "Swing bed"),
    ("62", "Inpatient rehabilitation facility"),
    ("63", "Long-term care hospital"),
    ("64", "Nursing facility (Medicaid)"),
    ("65", "Psychiatric hospital or unit"),
    ("66", "Critical access hospital"),
    ("69", "Designated disaster alternative care site"),
    ("70", "Other institution"),
)
DISPOSITION_LABELS: Final = dict(DISPOSITIONS)
_DISPOSITION_FORMAT: Final = re.compile(r"[0-9]{2}")

ERROR_CATEGORIES: Final = (
    "Specificity",
    "Unsupported diagnosis",
    "Missed secondary diagnosis",
    "Missed CC/MCC",
    "Principal diagnosis selection",
    "Sequencing",
    "POA assignment",
    "Missed procedure",
    "Procedure coding",
    "Modifier",
    "Units",
    "E/M level",
    "Discharge disposition",
    "Query opportunity",
)


class LockedForm(forms.Form):
    """Every edit of the audited version carries the lock version the editor loaded."""

    lock_version = forms.IntegerField(min_value=1, widget=forms.HiddenInput)


class AuditedLineForm(LockedForm):
    """One audited line as typed: normalized and checked against its system's format."""

    system = forms.ChoiceField(choices=CodeLine.System.choices)
    code = forms.CharField(max_length=20)
    poa = forms.CharField(max_length=4, required=False)
    modifiers = forms.CharField(max_length=40, required=False)
    units = forms.IntegerField(min_value=1, max_value=MAX_UNITS, required=False)

    def __init__(self, *args: Any, inpatient: bool = True, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.inpatient = inpatient

    def clean_poa(self) -> str:
        return validate_poa(self.cleaned_data.get("poa") or "")

    def clean_modifiers(self) -> frozenset[str]:
        return validate_modifiers(self.cleaned_data.get("modifiers") or "")

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        system = cleaned.get("system")
        if system:
            if "code" in cleaned:
                if SYSTEM_GROUP[system] == "LINE":
                    system = cleaned["system"] = line_system(cleaned["code"], system)
                try:
                    cleaned["code"] = validate_code(system, cleaned["code"])
                except ValidationError as exc:
                    self.add_error("code", exc)
            group = SYSTEM_GROUP[system]
            # POA belongs to inpatient diagnoses; modifiers and units to service lines.
            if group != "DX" or not self.inpatient:
                cleaned["poa"] = ""
            if group != "LINE":
                cleaned["modifiers"] = frozenset()
                cleaned["units"] = 1
        if not cleaned.get("units"):
            cleaned["units"] = 1
        return cleaned

    def audited_line(self) -> AuditedLine:
        c = self.cleaned_data
        return AuditedLine(
            system=c["system"],
            code=c["code"],
            poa=c.get("poa") or "",
            modifiers=c.get("modifiers") or frozenset(),
            units=c.get("units") or 1,
        )


class LineMoveForm(LockedForm):
    direction = forms.ChoiceField(choices=[("up", "Up"), ("down", "Down"), ("top", "To the top")])


class DispositionForm(LockedForm):
    audited_disposition = forms.CharField(max_length=2, required=False)

    def clean_audited_disposition(self) -> str:
        value: str = (self.cleaned_data.get("audited_disposition") or "").strip()
        if value and not _DISPOSITION_FORMAT.fullmatch(value):
            raise ValidationError("A discharge disposition is 2 digits (e.g. 01).")
        return value


class ReviewStatusForm(forms.Form):
    status = forms.ChoiceField(
        choices=[("done", "Reviewed"), ("in_progress", "In progress")], required=False
    )


class FindingNotesForm(forms.Form):
    # The finding's `notes_version` when the form was drawn (the optimistic lock); absent
    # from an old page, which then saves without the check.
    notes_version = forms.IntegerField(required=False, min_value=1, max_value=2**31 - 1)
    error_category = forms.CharField(max_length=60, required=False)
    root_cause = forms.ChoiceField(choices=[("", "—"), *RootCause.choices], required=False)
    rationale = forms.CharField(max_length=10_000, required=False, widget=forms.Textarea)

    def clean_error_category(self) -> str:
        return " ".join((self.cleaned_data.get("error_category") or "").split())

    def clean_rationale(self) -> str:
        return (self.cleaned_data.get("rationale") or "").strip()


EM_RATINGS: Final = (
    ("minimal", "Minimal"),
    ("low", "Low"),
    ("moderate", "Moderate"),
    ("high", "High"),
)
EM_ELEMENTS: Final = (
    # (form field, key in Finding.em_leveling, label). The data element's field is not
    # called `data`: a form's `data` is what was submitted.
    ("problems", "problems", "Problems addressed"),
    ("data_reviewed", "data", "Data reviewed / analyzed"),
    ("risk", "risk", "Risk of management"),
)


class EmLevelingForm(forms.Form):
    """An office E/M leveling (engine.em): the three MDM elements, all or none, and/or the
    total time on the date of the encounter. `family` and `billed` come with the preview
    (the workspace knows them); the save takes them from the finding instead."""

    family = forms.ChoiceField(
        choices=[(em_rules.NEW, "New patient"), (em_rules.ESTABLISHED, "Established")],
        required=False,
    )
    billed = forms.CharField(max_length=10, required=False)
    audited = forms.CharField(max_length=10, required=False)
    problems = forms.ChoiceField(choices=[("", "—"), *EM_RATINGS], required=False)
    data_reviewed = forms.ChoiceField(choices=[("", "—"), *EM_RATINGS], required=False)
    risk = forms.ChoiceField(choices=[("", "—"), *EM_RATINGS], required=False)
    minutes = forms.IntegerField(min_value=0, max_value=1440, required=False)
    append = forms.BooleanField(required=False)

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        rated = [bool(cleaned.get(name)) for name, _, _ in EM_ELEMENTS]
        if any(rated) and not all(rated):
            raise ValidationError("Rate all three MDM elements (or none, to level by time).")
        if not any(rated) and cleaned.get("minutes") is None:
            raise ValidationError("Rate the three MDM elements or enter the total time.")
        return cleaned

    def leveling(self, *, family: str | None = None, billed: str | None = None) -> Leveling:
        c = self.cleaned_data

        def rating(name: str) -> em_rules.Level | None:
            return em_rules.level(c[name]) if c.get(name) else None

        chosen = family or c.get("family") or em_rules.ESTABLISHED
        return Leveling(
            family=em_rules.NEW if chosen == em_rules.NEW else em_rules.ESTABLISHED,
            problems=rating("problems"),
            data=rating("data_reviewed"),
            risk=rating("risk"),
            minutes=c.get("minutes"),
            billed=normalize_code(billed if billed is not None else c.get("billed") or ""),
        )


# --------------------------------------------------------------------------- encounter list


class EncounterFilterForm(forms.Form):
    q = forms.CharField(required=False, max_length=64, label="Encounter")
    setting = forms.ChoiceField(
        required=False, label="Setting", choices=[("", "Any"), *Encounter.Setting.choices]
    )
    coder = forms.ChoiceField(required=False, label="Coder")
    status = forms.ChoiceField(
        required=False, label="Review", choices=[("", "Any"), *Encounter.ReviewStatus.choices]
    )
    has_findings = forms.ChoiceField(
        required=False,
        label="Findings",
        choices=[("", "Any"), ("yes", "With findings"), ("no", "Without findings")],
    )
    kind = forms.ChoiceField(
        required=False,
        label="Finding kind",
        choices=[("", "Any"), *((k, k.replace("_", " ").capitalize()) for k in FINDING_KINDS)],
    )
    # DESIGN §9: an encounter imported with the coder's coding only is not yet reviewed.
    reviewed = forms.ChoiceField(
        required=False,
        label="Review state",
        choices=[("", "All"), ("yes", "Reviewed"), ("no", "Not reviewed")],
    )

    def __init__(
        self, *args: Any, coders: Sequence[tuple[str, str, bool]] = (), **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        coder = self.fields["coder"]
        assert isinstance(coder, forms.ChoiceField)
        # Retired coders are offered only while chosen (a bookmark), marked as retired.
        chosen = self.data.get("coder", "") if self.is_bound else ""
        coder.choices = [
            ("", "Any"),
            *(
                (name, f"{label} (retired)" if retired else label)
                for name, label, retired in coders
                if not retired or name == chosen
            ),
        ]

    def filters(self) -> EncounterFilters:
        """The filters to apply; an invalid value (a stale link) is simply ignored."""
        data = self.cleaned_data if self.is_valid() else {}
        return EncounterFilters(
            q=(data.get("q") or "").strip(),
            setting=data.get("setting") or "",
            coder=data.get("coder") or "",
            status=data.get("status") or "",
            has_findings=data.get("has_findings") or "",
            kind=data.get("kind") or "",
            reviewed=data.get("reviewed") or "",
        )


class AuditListFilterForm(forms.Form):
    """The audit list's filters: one status, and whether archived audits are shown."""

    status = forms.ChoiceField(
        required=False, label="Status", choices=[("", "All statuses"), *Audit.Status.choices]
    )
    archived = forms.BooleanField(required=False, label="Show archived")

    def values(self) -> tuple[str, bool]:
        """(status, archived); an invalid value (a stale link) is simply ignored."""
        if not self.is_valid():
            return "", False
        return self.cleaned_data.get("status") or "", bool(self.cleaned_data.get("archived"))


# --------------------------------------------------------------------------- import


class AuditImportForm(forms.Form):
    """An uploaded workbook (.xlsx, or .zip with encounters.csv and codes.csv) or claims file
    (X12 837I/837P, FHIR Claims: docs/intake.md), refused above
    `IMPORT_MAX_UPLOAD_BYTES` and run through the zip guard (`lib.safezip`). Up to
    `IMPORT_CHECK_IN_REQUEST_BYTES` it is read and validated in full here (on a bad workbook
    `problems` lists every problem found); a larger one is only saved (`deferred`, the
    cleaned `file` is None) and the background job checks it (docs/uploads.md)."""

    file = forms.FileField(
        label="Workbook, claims file or spreadsheet",
        help_text="An .xlsx with sheets “encounters” and “codes”, a .zip holding "
        "encounters.csv and codes.csv, an X12 837I/837P file (.x12, .837, .edi, .txt), FHIR "
        "Claims (.json Bundle, .ndjson) — or your own spreadsheet (.csv or .xlsx): you map "
        "its columns next.",
    )
    name = forms.CharField(max_length=200, label="Audit name")
    cycle = forms.CharField(
        max_length=40,
        required=False,
        label="Cycle",
        help_text="E.g. 2026-Q3. Leave blank to use the workbook's audit_cycle column.",
    )
    released = forms.BooleanField(
        required=False,
        label="Findings are already released",
        help_text="For historical audits: coders see the findings at once.",
    )

    def __init__(self, *args: Any, organization: Organization, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.organization = organization
        self.problems: list[Problem] = []
        self.problem_total = 0
        self.saved_path: Path | None = None
        self.deferred = False
        # A spreadsheet of the organization's own columns (not a §9 workbook): `headers`
        # are its columns, `mapping` the saved mapping made for them (None: ask for one),
        # `mapping_failed` when that mapping did not read it cleanly (ask again).
        self.extract = False
        self.headers: tuple[str, ...] = ()
        self.mapping: ImportMapping | None = None
        self.mapping_failed = False

    def clean_name(self) -> str:
        name = " ".join((self.cleaned_data.get("name") or "").split())
        if not name:
            raise ValidationError("Enter a name for the audit.")
        if Audit.objects.filter(organization=self.organization, name=name).exists():
            raise ValidationError("An audit with this name already exists.")
        return name

    def clean_cycle(self) -> str:
        return (self.cleaned_data.get("cycle") or "").strip()

    def clean_file(self) -> Workbook | None:
        upload: UploadedFile[bytes] = self.cleaned_data["file"]
        suffix = Path(upload.name or "").suffix.lower()
        if suffix not in {*UPLOAD_SUFFIXES, ".csv"}:
            raise ValidationError(
                "Upload an .xlsx workbook, a .zip of the two CSV files, an X12 837 file "
                "(.x12, .837, .edi, .txt), FHIR Claims (.json, .ndjson), or a spreadsheet "
                "(.csv or .xlsx) to map."
            )
        size = upload.size or 0
        claims = suffix not in {".xlsx", ".zip", ".csv"}
        cap = settings.IMPORT_MAX_UPLOAD_BYTES
        if claims:  # read whole into memory by the claims readers (docs/intake.md)
            cap = min(cap, settings.IMPORT_MAX_CLAIMS_BYTES)
        if size > cap:
            raise ValidationError(
                "This file is %(size)s MB; at most %(cap)s MB can be uploaded. Split the "
                + ("claims into smaller files." if claims else "audit into smaller workbooks."),
                params={"size": f"{size / 2**20:,.1f}", "cap": f"{cap / 2**20:,.0f}"},
                code="too_large",
            )
        in_request = settings.IMPORT_CHECK_IN_REQUEST_BYTES
        if claims:  # claims: slower to validate (docs/intake.md)
            in_request = min(in_request, settings.IMPORT_CHECK_CLAIMS_IN_REQUEST_BYTES)
        deferred = size > in_request
        # Kept after validation: the background import reads it again (see ImportJob).
        root = Path(settings.MEDIA_ROOT) / "imports" / f"upload-{uuid.uuid4().hex}"
        root.mkdir(parents=True)
        try:
            if suffix in {".xlsx", ".csv"}:
                path = root / safe_name(upload.name or f"workbook{suffix}")
                _save(upload, path)
                if is_extract(path, limits=workbook_limits()):
                    return self._extract(path, root, deferred=deferred)
                if deferred:  # the zip guard now; the worker reads it (read_upload)
                    with path.open("rb") as handle:
                        if handle.read(2) != b"PK":
                            raise ValidationError(
                                "Wrong file type: this is not a readable .xlsx workbook."
                            )
                    check_zip(path, zip_limits())
            elif suffix == ".zip":
                path = _unzip_csvs(upload, root, stem=Path(upload.name or "workbook").stem)
            else:  # an 837 or FHIR file: read by the claims intake (docs/intake.md)
                path = root / safe_name(upload.name or "claims.x12", "claims.x12")
                _save(upload, path)
            if deferred:
                self.saved_path, self.deferred = path, True
                return None
            workbook = read_upload(path)
        except ZipRefused as exc:
            shutil.rmtree(root, ignore_errors=True)
            raise ValidationError(exc.message, code="archive") from exc
        except WorkbookError as exc:
            shutil.rmtree(root, ignore_errors=True)
            self.problems = exc.problems
            self.problem_total = exc.total
            raise ValidationError(
                "The workbook has %(n)s problem%(s)s; nothing was imported. "
                "Fix them and upload it again.",
                params={"n": exc.total, "s": "" if exc.total == 1 else "s"},
                code="workbook",
            ) from exc
        except BaseException:
            shutil.rmtree(root, ignore_errors=True)
            raise
        self.saved_path = path
        return workbook

    def _extract(self, path: Path, root: Path, *, deferred: bool) -> Workbook | None:
        """A spreadsheet to map: its columns, and the saved mapping made for them, which
        reads it at once when the file is small (None: the mapping page, or the worker)."""
        try:
            shown = preview(path, rows=0, limits=workbook_limits())
        except WorkbookError as exc:
            shutil.rmtree(root, ignore_errors=True)
            self.problems, self.problem_total = exc.problems, exc.total
            raise ValidationError(str(exc.problems[0].message), code="extract") from exc
        self.extract, self.headers, self.saved_path = True, shown.headers, path
        self.deferred = deferred
        self.mapping = import_mapping_for_columns(
            organization=self.organization, headers=shown.headers
        )
        if self.mapping is None or deferred:
            return None
        try:
            return read_mapped(path, spec_from_dict(self.mapping.spec), limits=workbook_limits())
        except (WorkbookError, MappingInvalid):
            self.mapping_failed = True
            return None


def _save(upload: UploadedFile[bytes], path: Path) -> None:
    with path.open("wb") as out:
        for chunk in upload.chunks():
            out.write(chunk)


def _unzip_csvs(upload: UploadedFile[bytes], root: Path, *, stem: str) -> Path:
    """encounters.csv and codes.csv of the uploaded zip, in a folder named after it."""
    archive = root / "upload.zip"
    _save(upload, archive)
    target = unpack_csv_zip(archive, root / safe_name(stem, "workbook"))
    archive.unlink()
    return target


# --------------------------------------------------------------------------- column mapping

FIELD_LABELS: Final = {
    "encounter_id": "Encounter id (account number)",
    "setting": "Setting",
    "discharge_date": "Discharge date",
    "age": "Age",
    "sex": "Sex",
    "discharge_disposition": "Discharge disposition",
    "audited_disposition": "Audited disposition",
    "billed_drg": "Billed DRG",
    "facility": "Facility",
    "service_line": "Service line",
    "provider": "Provider",
    "payer": "Payer",
    "coder": "Coder",
    "auditor": "Auditor",
    "audit_cycle": "Audit cycle",
    "system": "Code type (system)",
    "code": "Code",
    "seq": "Sequence",
    "poa": "POA",
    "units": "Units",
    "version": "Version (original / audited)",
}
CONSTANT_FIELDS: Final = (
    "facility",
    "service_line",
    "provider",
    "payer",
    "coder",
    "auditor",
    "audit_cycle",
)
"""Fields that may be one value for the whole file (setting has its own choice)."""
SLOT_LABELS: Final = {"dx": "Diagnosis", "px": "Procedure", "ln": "Service line"}
EXTRA_SLOTS: Final = 3
"""Empty code rows offered below the proposed ones, to add a column the proposal missed."""
MAX_FORM_SLOTS: Final = 100


class MappingForm(forms.Form):
    """A column mapping as a person corrects it: for every §9 field a select of the file's
    columns (or a value for the whole file), the code columns of a wide extract row by row
    (diagnosis and its POA; procedure; service line with up to four modifier columns and a
    units column), and the name to save it under. `spec()` is the checked `MappingSpec`;
    an impossible one is a form error listing every reason."""

    layout = forms.ChoiceField(choices=ImportMapping.Layout.choices, label="Layout")
    date_format = forms.ChoiceField(choices=list(DATE_FORMATS.items()), label="Dates are written")
    c_setting = forms.ChoiceField(
        required=False,
        label="or the same for every row",
        choices=[("", "—"), *Encounter.Setting.choices],
    )
    save_as = forms.CharField(
        max_length=100,
        required=False,
        label="Save this mapping as",
        help_text="The next upload with the same columns is read with it without asking.",
    )
    values = forms.CharField(required=False, widget=forms.HiddenInput, max_length=100_000)

    def __init__(
        self,
        *args: Any,
        headers: Sequence[str],
        slots: tuple[int, int, int] = (0, 0, 0),
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.headers = tuple(headers)
        column_choices = [("", "— not in the file —"), *((h, h) for h in self.headers if h)]
        for name in (*ENCOUNTER_FIELDS, *CODE_FIELDS):
            self.fields[f"f_{name}"] = forms.ChoiceField(
                required=False, choices=column_choices, label=FIELD_LABELS[name]
            )
        for name in CONSTANT_FIELDS:
            self.fields[f"c_{name}"] = forms.CharField(
                required=False, max_length=MAX_NAME, label="or the same for every row"
            )
        for i in range(1, 5):
            self.fields[f"mod_{i}"] = forms.ChoiceField(
                required=False, choices=column_choices, label=f"Modifier column {i}"
            )
        counts = slots
        if self.is_bound:
            counts = tuple(  # type: ignore[assignment]
                _count(self.data.get(f"{g}_count")) for g in ("dx", "px", "ln")
            )
        self.counts = dict(zip(("dx", "px", "ln"), counts, strict=True))
        for group, n in self.counts.items():
            self.fields[f"{group}_count"] = forms.IntegerField(
                widget=forms.HiddenInput, initial=n, min_value=0, max_value=MAX_FORM_SLOTS
            )
            for i in range(1, n + 1):
                self.fields[f"{group}_{i}_code"] = forms.ChoiceField(
                    required=False, choices=column_choices, label=f"{SLOT_LABELS[group]} {i}"
                )
                if group == "dx":
                    self.fields[f"dx_{i}_poa"] = forms.ChoiceField(
                        required=False, choices=column_choices, label=f"POA {i}"
                    )
                if group == "ln":
                    for k in range(1, 5):
                        self.fields[f"ln_{i}_mod{k}"] = forms.ChoiceField(
                            required=False, choices=column_choices, label=f"Modifier {k}"
                        )
                    self.fields[f"ln_{i}_units"] = forms.ChoiceField(
                        required=False, choices=column_choices, label="Units"
                    )
        for name, f in self.fields.items():  # the selects stand in table cells
            if not f.widget.is_hidden and name.startswith(("dx_", "px_", "ln_", "c_")):
                f.widget.attrs.setdefault("aria-label", str(f.label))
        self._spec: MappingSpec | None = None

    @classmethod
    def initial_for(cls, spec: MappingSpec, *, save_as: str = "") -> dict[str, Any]:
        """The form's initial values showing `spec`."""
        initial: dict[str, Any] = {
            "layout": spec.layout,
            "date_format": spec.date_format,
            "save_as": save_as,
            "values": json.dumps(spec_to_dict(spec)["values"]) if spec.values else "",
        }
        for name, f in spec.fields.items():
            if f.column:
                initial[f"f_{name}"] = f.column
            elif f.constant:
                initial[f"c_{name}"] = f.constant
        for i, column in enumerate(spec.modifiers[:4], start=1):
            initial[f"mod_{i}"] = column
        for group, slots in (("dx", spec.dx), ("px", spec.px), ("ln", spec.lines)):
            for i, slot in enumerate(slots, start=1):
                initial[f"{group}_{i}_code"] = slot.code
                initial[f"dx_{i}_poa" if group == "dx" else "-"] = slot.poa
                if group == "ln":
                    for k, column in enumerate(slot.modifiers[:4], start=1):
                        initial[f"ln_{i}_mod{k}"] = column
                    initial[f"ln_{i}_units"] = slot.units
        initial.pop("-", None)
        return initial

    @staticmethod
    def slots_for(spec: MappingSpec) -> tuple[int, int, int]:
        return tuple(  # type: ignore[return-value]
            min(MAX_FORM_SLOTS, len(slots) + EXTRA_SLOTS)
            for slots in (spec.dx, spec.px, spec.lines)
        )

    def encounter_rows(self) -> list[tuple[str, forms.BoundField, forms.BoundField | None]]:
        """(field name, column select, constant input or None) in §9 order."""
        rows = []
        for name in ENCOUNTER_FIELDS:
            constant = self[f"c_{name}"] if f"c_{name}" in self.fields else None
            rows.append((name, self[f"f_{name}"], constant))
        return rows

    def code_rows(self) -> list[forms.BoundField]:
        return [self[f"f_{name}"] for name in CODE_FIELDS]

    def slot_rows(self, group: str) -> list[list[forms.BoundField]]:
        rows = []
        for i in range(1, self.counts[group] + 1):
            names = [f"{group}_{i}_code"]
            if group == "dx":
                names.append(f"dx_{i}_poa")
            if group == "ln":
                names += [f"ln_{i}_mod{k}" for k in range(1, 5)] + [f"ln_{i}_units"]
            rows.append([self[n] for n in names])
        return rows

    @property
    def dx_rows(self) -> list[list[forms.BoundField]]:
        return self.slot_rows("dx")

    @property
    def px_rows(self) -> list[list[forms.BoundField]]:
        return self.slot_rows("px")

    @property
    def ln_rows(self) -> list[list[forms.BoundField]]:
        return self.slot_rows("ln")

    def clean_save_as(self) -> str:
        return " ".join((self.cleaned_data.get("save_as") or "").split())

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        if self.errors:
            return cleaned
        c = cleaned
        layout = c.get("layout") or "wide"
        fields: dict[str, dict[str, str]] = {}
        names = ENCOUNTER_FIELDS + (CODE_FIELDS if layout == "long" else ())
        for name in names:
            column = c.get(f"f_{name}") or ""
            constant = (c.get(f"c_{name}") or "").strip() if f"c_{name}" in self.fields else ""
            if column:
                fields[name] = {"column": column}
            elif constant:
                fields[name] = {"constant": constant}

        def slots(group: str) -> list[dict[str, Any]]:
            out = []
            for i in range(1, self.counts[group] + 1):
                code = c.get(f"{group}_{i}_code") or ""
                if not code:
                    continue
                slot: dict[str, Any] = {"code": code}
                if group == "dx" and c.get(f"dx_{i}_poa"):
                    slot["poa"] = c[f"dx_{i}_poa"]
                if group == "ln":
                    mods = [c.get(f"ln_{i}_mod{k}") for k in range(1, 5)]
                    slot["modifiers"] = [m for m in mods if m]
                    if c.get(f"ln_{i}_units"):
                        slot["units"] = c[f"ln_{i}_units"]
                out.append(slot)
            return out

        try:
            values = json.loads(c.get("values") or "{}")
        except (json.JSONDecodeError, RecursionError):
            values = None
        data = {
            "layout": layout,
            "fields": fields,
            "dx": slots("dx") if layout == "wide" else [],
            "px": slots("px") if layout == "wide" else [],
            "lines": slots("ln") if layout == "wide" else [],
            "modifiers": [m for m in (c.get(f"mod_{i}") for i in range(1, 5)) if m]
            if layout == "long"
            else [],
            "date_format": c.get("date_format") or "auto",
            "values": values,
            "headers": list(self.headers),
        }
        try:
            self._spec = spec_from_dict(data)
        except MappingInvalid as exc:
            for problem in exc.problems:
                self.add_error(None, problem[:1].upper() + problem[1:] + ".")
        return cleaned

    def spec(self) -> MappingSpec:
        assert self._spec is not None, "spec() after a successful is_valid()"
        return self._spec


def _count(raw: Any) -> int:
    try:
        return max(0, min(MAX_FORM_SLOTS, int(raw)))
    except (TypeError, ValueError):
        return 0


class MappingRenameForm(forms.Form):
    name = forms.CharField(max_length=100, label="Name")

    def clean_name(self) -> str:
        name = " ".join((self.cleaned_data.get("name") or "").split())
        if not name:
            raise ValidationError("Enter a name.")
        return name
