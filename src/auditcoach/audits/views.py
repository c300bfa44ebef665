"""The audits screens: audit list, import, audit summary, encounter list, review workspace.

Views parse, authorize, call one service or selector and render. Every screen works without
JavaScript; with htmx, edits re-render only the workspace partial (`encounter.html#workspace`)
and the encounter filters only the result table (`encounters.html#results`).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any, Final
from urllib.parse import urlencode
from uuid import UUID

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import Http404, HttpResponse
from django.http.response import HttpResponseBase
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html
from django.views.decorators.http import require_http_methods, require_POST, require_safe
from django_htmx.http import HttpResponseClientRedirect

from auditcoach.accounts.models import Coder, Role
from auditcoach.accounts.permissions import (
    AUDIT_WRITE_ROLES,
    MANAGE_ROLES,
    READ_ROLES,
    OrgRequest,
    has_role,
    require_role,
)
from auditcoach.accounts.selectors_rosters import person_labels
from auditcoach.auditlog.services import log_view
from auditcoach.audits import exports as audit_exports
from auditcoach.audits import score_settings, selectors
from auditcoach.audits.blinding import blind_review_url
from auditcoach.audits.forms import (
    DISPOSITION_LABELS,
    DISPOSITIONS,
    EM_ELEMENTS,
    EM_RATINGS,
    ERROR_CATEGORIES,
    POA_LABELS,
    POA_VALUES,
    AuditedLineForm,
    AuditImportForm,
    AuditListFilterForm,
    DispositionForm,
    EmLevelingForm,
    EncounterFilterForm,
    FindingNotesForm,
    LineMoveForm,
    LockedForm,
    MappingForm,
    MappingRenameForm,
    ReviewStatusForm,
)
from auditcoach.audits.leases import lease_get
from auditcoach.audits.models import (
    Audit,
    CodeLine,
    Encounter,
    Finding,
    ImportJob,
    ImportMapping,
    RootCause,
)
from auditcoach.audits.services import (
    ACTIVE_IMPORT_STATUSES,
    AuditedLine,
    AuditLifecycleError,
    ConflictError,
    MappingNameTaken,
    NotesConflictError,
    audit_archive,
    audit_delete,
    audit_unarchive,
    encounter_audited_update,
    encounter_mark_reviewed,
    encounter_review_status_set,
    finding_annotate,
    finding_em_level_set,
    import_job_cancel,
    import_job_confirm,
    import_job_create,
    import_job_map,
    import_job_stage,
    import_jobs_reap,
    import_mapping_delete,
    import_mapping_rename,
    import_mapping_save,
    import_progress,
)
from auditcoach.audits.uploads import workbook_limits
from auditcoach.coaching import selectors as coaching_selectors
from auditcoach.codesets.knowledge import pricing
from auditcoach.codesets.pricing import fiscal_year
from auditcoach.engine import em as em_rules
from auditcoach.engine.codes import (
    EM_CODES,
    display_code,
    em_family,
    format_modifiers,
    normalize_code,
    normalize_modifiers,
)
from auditcoach.engine.em import Leveling
from auditcoach.engine.model import GROUPS, SYSTEM_GROUP, CodeIssue, DrgResult
from auditcoach.engine.scoring import (
    DEFAULT_WEIGHT,
    HEADLINES,
    Scores,
    WeightedErrors,
    pooled_tally,
    weighted_errors,
)
from auditcoach.engine.scoring import headline as scoring_headline
from auditcoach.engine.scoring import scores as scores_of
from auditcoach.engine.stats import Proportion
from auditcoach.engine.workbook import MAX_LISTED, Problem, WorkbookError
from auditcoach.exports import export_control, export_format, export_response, in_chunks
from auditcoach.intake.mapping import (
    MappingInvalid,
    MappingSpec,
    Preview,
    preview,
    propose,
    read_mapped,
    spec_from_dict,
)
from auditcoach.library import selectors as library_selectors

AUDIT_READ_ROLES: Final = tuple(r for r in READ_ROLES if r != Role.CODER)
"""Audit and encounter pages. Coders would see other coders' encounters here, so they get a
403 until their own feedback view exists."""

ENCOUNTERS_PER_PAGE: Final = 50
CONFLICT_MESSAGE: Final = (
    "Someone else saved this encounter while you were editing it. Your change was not "
    "applied; the page now shows their version. Make your change again if it still applies."
)
ISSUE_LABELS: Final = {
    "INVALID": "not a valid code",
    "HEADER": "header, not billable",
    "NOT_VALID_ON_DATE": "not valid on this date",
    "NOT_PRINCIPAL": "not as principal",
    "SEX_CONFLICT": "sex conflict",
    "AGE_CONFLICT": "age conflict",
    "UNKNOWN": "not in our code list",
    "FORMAT": "not a CPT format",
}
"""Short labels of the code-set checks' kinds for the flag on a line (the message says more)."""
GROUP_LABELS: Final = {
    "DX": "Diagnoses",
    "PX": "Procedures",
    "LINE": "Service lines",
}


# --------------------------------------------------------------------------- formatting


def _pct(value: float | None) -> str:
    return "—" if value is None else f"{value * 100:.1f}%"


def money(amount: Decimal | None) -> str:
    if amount is None:
        return "—"
    rounded = amount.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
    sign = "−" if rounded < 0 else ("+" if rounded > 0 else "")
    return f"{sign}${abs(rounded):,.2f}"


@dataclass(frozen=True, slots=True)
class ScoreCell:
    """A proportion as shown: value, counts, Wilson interval and bar geometry (0–100)."""

    prop: Proportion

    @property
    def defined(self) -> bool:
        return self.prop.n > 0

    @property
    def value(self) -> str:
        return _pct(self.prop.value)

    @property
    def counts(self) -> str:
        return f"{self.prop.successes}/{self.prop.n}"

    @property
    def interval(self) -> str:
        ci = self.prop.interval
        return "—" if ci is None else f"{ci[0] * 100:.1f}–{ci[1] * 100:.1f}%"

    @property
    def title(self) -> str:
        if not self.defined:
            return "Not defined: n = 0"
        return f"{self.value} ({self.counts}); 95% CI {self.interval}"

    @property
    def bar(self) -> dict[str, str] | None:
        value, ci = self.prop.value, self.prop.interval
        if value is None or ci is None:
            return None
        lo, hi = ci[0] * 100, ci[1] * 100
        return {
            "value": f"{value * 100:.2f}",
            "lo": f"{lo:.2f}",
            "width": f"{max(hi - lo, 0.0):.2f}",
            "hi": f"{hi:.2f}",
            "tick": f"{min(max(value * 100 - 0.75, 0.0), 98.5):.2f}",
        }

    @property
    def level(self) -> str:
        """A calm colour cue: good, fair or poor (only where n is defined)."""
        value = self.prop.value
        if value is None:
            return "none"
        return "good" if value >= 0.95 else ("fair" if value >= 0.85 else "poor")


@dataclass(frozen=True, slots=True)
class ScoreRow:
    label: str
    detail: str
    cell: ScoreCell


def score_rows_of(s: Scores) -> list[ScoreRow]:
    rows = [
        ScoreRow(f"Code accuracy {g}", "(A − a − r − e) / A", ScoreCell(s.code_accuracy[g]))
        for g in GROUPS
    ]
    rows += [
        ScoreRow(f"Union accuracy {g}", "(m − e) / (m + r + a + d)", ScoreCell(s.union_accuracy[g]))
        for g in GROUPS
    ]
    rows += [
        ScoreRow("Record accuracy", "encounters without any finding", ScoreCell(s.record_accuracy)),
        ScoreRow("PDX accuracy", "same principal diagnosis (inpatient)", ScoreCell(s.pdx_accuracy)),
        ScoreRow("POA accuracy", "matched DX with Y/N/U/W audited POA", ScoreCell(s.poa_accuracy)),
        ScoreRow("DRG accuracy", "same MS-DRG (inpatient)", ScoreCell(s.drg_accuracy)),
        ScoreRow("E/M accuracy", "same office E/M codes", ScoreCell(s.em_accuracy)),
    ]
    return rows


@dataclass(frozen=True, slots=True)
class SliceRow:
    """One row of "scores by setting / coder"."""

    name: str
    encounters: int
    cells: list[ScoreCell]
    impact: str


SLICE_COLUMNS: Final = ("DX code", "PX code", "LINE code", "Record", "PDX", "DRG", "E/M")


def _slice_rows(
    items: Iterable[tuple[str, Scores]], labels: dict[str, str] | None = None
) -> list[SliceRow]:
    rows = []
    for name, s in items:
        cells = [ScoreCell(s.code_accuracy[g]) for g in GROUPS]
        cells += [
            ScoreCell(p) for p in (s.record_accuracy, s.pdx_accuracy, s.drg_accuracy, s.em_accuracy)
        ]
        rows.append(
            SliceRow(
                name=(labels or {}).get(name, name),
                encounters=s.encounters,
                cells=cells,
                impact=money(s.financial_impact),
            )
        )
    return rows


SETTING_LABELS: Final = {
    "headline": "Headline score",
    "groups": "Groups counted",
    "pooled": "Pooled over encounters",
    "interval": "Interval",
    "weights": "Weights by finding kind",
    "default_base_rate": "Default base rate",
}


def headline_label(key: str, groups: list[str]) -> str:
    label = HEADLINES.get(key, key)
    if key.startswith("pooled_"):
        return f"{label.split(',')[0]} ({' + '.join(groups)})"
    return label


@dataclass(frozen=True, slots=True)
class WeightedDisplay:
    value: str
    counts: str


def _weighted_display(w: WeightedErrors | None) -> WeightedDisplay | None:
    if w is None:
        return None
    per_100 = w.per_100
    value = "—" if per_100 is None else f"{per_100.quantize(Decimal('0.01'), ROUND_HALF_UP)}"
    return WeightedDisplay(
        value=value,
        counts=f"{score_settings.weight_text(w.weighted)} weighted from {w.findings} "
        f"finding{'s' if w.findings != 1 else ''} / {w.opportunities} audited codes",
    )


def _settings_display(settings: dict[str, Any]) -> list[tuple[str, str]]:
    """The audit's stored score settings as label and text, known keys first."""
    order = {key: i for i, key in enumerate(SETTING_LABELS)}
    rows = []
    for key, value in sorted(settings.items(), key=lambda kv: (order.get(kv[0], 99), kv[0])):
        if key == "headline" and isinstance(value, str):
            text = headline_label(
                score_settings.headline_of({key: value}), score_settings.groups_of(settings)
            )
        elif key == "weights" and isinstance(value, dict):
            weights = score_settings.weights_of(settings)
            custom = {k: w for k, w in weights.items() if w != DEFAULT_WEIGHT}
            text = (
                ", ".join(f"{k} {score_settings.weight_text(w)}" for k, w in custom.items())
                + " (every other kind 1)"
                if custom
                else "1 for every kind"
            )
        elif key == "default_base_rate":
            rate = score_settings.default_base_rate_of(settings)
            text = money_plain(rate) if rate is not None else "none (national standardized amount)"
        elif isinstance(value, bool):
            text = "yes" if value else "no"
        elif isinstance(value, list | tuple):
            text = ", ".join(str(v) for v in value)
        elif isinstance(value, dict):
            text = ", ".join(f"{k} {v}" for k, v in value.items())
        else:
            text = str(value).replace("_", " ")
        rows.append((SETTING_LABELS.get(key, key.replace("_", " ").capitalize()), text))
    return rows


# --------------------------------------------------------------------------- helpers


def _is_htmx(request: OrgRequest) -> bool:
    return bool(getattr(request, "htmx", False))


def _audit_url(name: str, request: OrgRequest, **kwargs: Any) -> str:
    return reverse(f"audits:{name}", kwargs={"org_slug": request.organization.slug, **kwargs})


# --------------------------------------------------------------------------- audit list, import


@require_role(*READ_ROLES)
@require_safe
def index(request: OrgRequest, org_slug: str) -> HttpResponse:
    """The organization's audits, filtered by `?status=` and `?archived=1` (archived ones
    are hidden unless asked for)."""
    organization = request.organization
    form = AuditListFilterForm(request.GET or None)
    status, archived = form.values()
    audits = list(
        selectors.audit_list(organization=organization, status=status, archived=archived)
        .select_related("created_by")
        .order_by("-created_at", "-pk")
    )
    context = {
        "audits": audits,
        "nav": "index",
        "form": form,
        "status": status,
        "status_label": dict(Audit.Status.choices).get(status, ""),
        "show_archived": archived,
        "filtered": bool(status or archived),
        "archived_hidden": 0
        if archived
        else selectors.audit_archived_count(organization=organization, status=status),
        "archived_url": "?"
        + urlencode({**({"status": status} if status else {}), "archived": "on"}),
    }
    return render(request, "audits/index.html", context)


@require_role(*AUDIT_WRITE_ROLES)
@require_http_methods(["GET", "POST"])
def audit_import_view(request: OrgRequest, org_slug: str) -> HttpResponseBase:
    organization = request.organization
    if request.method == "POST":
        form = AuditImportForm(request.POST, request.FILES, organization=organization)
        if form.is_valid() and form.extract and (form.mapping is None or form.mapping_failed):
            assert form.saved_path is not None
            # A spreadsheet of the organization's own columns, and no saved mapping that
            # reads it: the uploader maps its columns next.
            job = import_job_stage(
                organization=organization,
                path=form.saved_path,
                name=form.cleaned_data["name"],
                cycle=form.cleaned_data["cycle"],
                released=form.cleaned_data["released"],
                actor=request.user,
                request=request,
            )
            url = _audit_url("import_mapping", request, job_id=job.public_id)
            return HttpResponseClientRedirect(url) if _is_htmx(request) else redirect(url)
        if form.is_valid():
            workbook = form.cleaned_data["file"]  # None: large, checked by the worker
            assert form.saved_path is not None  # set by a successful clean_file
            # Encounters another audit already has: the job waits for a confirmation.
            duplicates = (
                selectors.duplicate_encounters(
                    organization=organization,
                    external_ids=(e.encounter_id for e in workbook.encounters),
                )
                if workbook is not None
                else []
            )
            job = import_job_create(
                organization=organization,
                path=form.saved_path,
                workbook=workbook,
                name=form.cleaned_data["name"],
                cycle=form.cleaned_data["cycle"],
                released=form.cleaned_data["released"],
                actor=request.user,
                duplicates=duplicates,
                mapping=form.mapping,  # a saved mapping made for the spreadsheet's columns
                request=request,
            )
            url = _audit_url("import_job", request, job_id=job.public_id)
            return HttpResponseClientRedirect(url) if _is_htmx(request) else redirect(url)
    else:
        form = AuditImportForm(organization=organization)
    template = "audits/import.html#import-form" if _is_htmx(request) else "audits/import.html"
    waiting = (
        [] if _is_htmx(request) else list(selectors.import_jobs_waiting(organization=organization))
    )
    return render(request, template, {"form": form, "nav": "import", "waiting": waiting})


@require_role(*AUDIT_WRITE_ROLES)
@require_safe
def import_job_view(request: OrgRequest, org_slug: str, job_id: UUID) -> HttpResponseBase:
    """The progress of a background import; polled by htmx until it finishes."""
    job = selectors.import_job_get(organization=request.organization, public_id=job_id)
    if job.status == ImportJob.Status.MAPPING:
        url = _audit_url("import_mapping", request, job_id=job.public_id)
        return HttpResponseClientRedirect(url) if _is_htmx(request) else redirect(url)
    if job.status == ImportJob.Status.WAITING:
        rows = job.duplicates.get("rows", [])
        context_waiting = {
            "job": job,
            "nav": "import",
            "rows": rows,
            "count": job.duplicates.get("count", len(rows)),
        }
        if _is_htmx(request):
            # A poll that began before the page knew: reload it as the confirmation.
            return HttpResponseClientRedirect(request.path)
        return render(request, "audits/import_confirm.html", context_waiting)
    if job.status == ImportJob.Status.CANCELLED:
        messages.info(request, f"The import of “{job.name}” was cancelled; nothing was imported.")
        url = _audit_url("import", request)
        return HttpResponseClientRedirect(url) if _is_htmx(request) else redirect(url)
    if job.status == ImportJob.Status.DONE and job.audit is not None:
        messages.success(
            request,
            f"Imported “{job.name}”: {job.encounters:,} encounters and "
            f"{job.code_lines:,} code lines.",
        )
        note = _mapping_note(request, job)
        if note:
            messages.info(request, note)
        url = _audit_url("detail", request, audit_id=job.audit.public_id)
        return HttpResponseClientRedirect(url) if _is_htmx(request) else redirect(url)
    if job.status in ACTIVE_IMPORT_STATUSES and job.started_at is not None:
        import_jobs_reap(job=job)  # its worker died: say so now, not when the worker's sweep runs
        job.refresh_from_db()
    progress = import_progress(job)
    waited = (timezone.now() - job.created_at).total_seconds()
    lease = lease_get(job) if not job.finished else None
    context = {
        "job": job,
        "nav": "import",
        "waiting_turn": bool(lease and lease["waiting"]),
        "lease_seconds": settings.IMPORT_LEASE_SECONDS,
        "done": progress[0] if progress else 0,
        "total": progress[1] if progress else job.encounters,
        "no_worker": job.status in {ImportJob.Status.QUEUED, ImportJob.Status.CHECKING}
        and job.started_at is None
        and waited > 10,
        "problems": [
            {"sheet": sheet, "row": row, "column": column, "message": message}
            for sheet, row, column, message in job.problems.get("rows", [])
        ],
        "problem_total": job.problems.get("total", 0),
        "mapping_note": _mapping_note(request, job),
    }
    template = (
        "audits/import_job.html#job-status" if _is_htmx(request) else "audits/import_job.html"
    )
    return render(request, template, context)


@require_role(*AUDIT_WRITE_ROLES)
@require_POST
def import_job_confirm_view(request: OrgRequest, org_slug: str, job_id: UUID) -> HttpResponseBase:
    """“Import anyway”: queue a waiting upload whose encounters repeat another audit's."""
    job = selectors.import_job_get(organization=request.organization, public_id=job_id)
    if not import_job_confirm(job=job, actor=request.user, request=request):
        if job.status == ImportJob.Status.CANCELLED:
            messages.info(request, "This upload was cancelled; upload the workbook again.")
            return redirect(_audit_url("import", request))
        messages.info(request, "This import was already started.")
    return redirect(_audit_url("import_job", request, job_id=job.public_id))


@require_role(*AUDIT_WRITE_ROLES)
@require_POST
def import_job_cancel_view(request: OrgRequest, org_slug: str, job_id: UUID) -> HttpResponseBase:
    """“Cancel”: drop a waiting upload and remove its file."""
    job = selectors.import_job_get(organization=request.organization, public_id=job_id)
    if import_job_cancel(job=job, actor=request.user, request=request):
        messages.success(
            request, f"Cancelled the import of “{job.name}”; the uploaded file was removed."
        )
        return redirect(_audit_url("import", request))
    messages.info(request, "This import was already started, so it can no longer be cancelled.")
    return redirect(_audit_url("import_job", request, job_id=job.public_id))


# --------------------------------------------------------------------------- column mappings

PREVIEW_ROWS: Final = 5


def _mapping_note(request: OrgRequest, job: ImportJob) -> str:
    """“Read with the saved mapping …, change it” for an upload that used one ("" if none)."""
    if not job.mapping_name:
        return ""
    saved = selectors.import_mapping_named(organization=request.organization, name=job.mapping_name)
    if saved is None:
        return format_html(
            "The columns of {} were read with the saved mapping “{}”.",
            job.source_name,
            job.mapping_name,
        )
    return format_html(
        "The columns of {} were read with the saved mapping “{}”, without asking, because "
        'they are the columns it was made for. <a href="{}">Change the mapping</a>',
        job.source_name,
        job.mapping_name,
        _audit_url("mapping_edit", request, mapping_id=saved.public_id),
    )


def _problem_rows(problems: Iterable[Problem]) -> list[dict[str, Any]]:
    return [
        {"sheet": p.sheet, "row": p.row, "column": p.column, "message": p.message} for p in problems
    ]


@require_role(*AUDIT_WRITE_ROLES)
@require_http_methods(["GET", "POST"])
def import_mapping_view(request: OrgRequest, org_slug: str, job_id: UUID) -> HttpResponseBase:
    """Map the columns of an uploaded spreadsheet: its first rows, a proposed mapping (the
    saved one made for these columns, `?use=<mapping>` for another saved one, else a guess
    from the names), every field a select of the file's columns; Check lists every problem
    by row and column, Check and import goes on as a workbook upload does."""
    organization = request.organization
    job = selectors.import_job_get(organization=organization, public_id=job_id)
    if job.status != ImportJob.Status.MAPPING:
        return redirect(_audit_url("import_job", request, job_id=job.public_id))
    path = Path(job.path)
    try:
        shown = preview(path, rows=PREVIEW_ROWS, limits=workbook_limits())
        small = path.stat().st_size <= settings.IMPORT_CHECK_IN_REQUEST_BYTES
    except (WorkbookError, OSError):
        messages.error(request, "The uploaded file can no longer be read; upload it again.")
        return redirect(_audit_url("import", request))
    problems: list[Problem] = []
    total = 0
    checked: tuple[int, int] | None = None
    source: ImportMapping | None = None
    if request.method == "GET":
        use = request.GET.get("use")
        source = (
            selectors.import_mapping_get(organization=organization, public_id=use)
            if use
            else selectors.import_mapping_for_columns(
                organization=organization, headers=shown.headers
            )
        )
        spec = _spec_or_proposal(source, shown)
        form = MappingForm(
            initial=MappingForm.initial_for(spec, save_as=source.name if source else ""),
            headers=shown.headers,
            slots=MappingForm.slots_for(spec),
        )
        if source is not None and small:  # it was tried at upload: say what went wrong
            problems, total, checked = _check(path, spec)
    else:
        form = MappingForm(request.POST, headers=shown.headers)
        if form.is_valid():
            spec = form.spec()
            workbook = None
            if small:
                try:
                    workbook = read_mapped(path, spec, limits=workbook_limits())
                    checked = (len(workbook.encounters), workbook.code_rows)
                except WorkbookError as exc:
                    problems, total = exc.problems[:MAX_LISTED], exc.total
            if not problems and request.POST.get("action") == "import":
                duplicates = (
                    selectors.duplicate_encounters(
                        organization=organization,
                        external_ids=(e.encounter_id for e in workbook.encounters),
                    )
                    if workbook is not None
                    else []
                )
                import_job_map(
                    job=job,
                    spec=spec,
                    workbook=workbook,
                    save_as=form.cleaned_data["save_as"],
                    actor=request.user,
                    duplicates=duplicates,
                    request=request,
                )
                if form.cleaned_data["save_as"]:
                    messages.success(
                        request, f"Saved the column mapping “{form.cleaned_data['save_as']}”."
                    )
                return redirect(_audit_url("import_job", request, job_id=job.public_id))
            # Drawn again from the checked spec: three empty code rows below those in use.
            form = MappingForm(
                initial=MappingForm.initial_for(spec, save_as=form.cleaned_data["save_as"]),
                headers=shown.headers,
                slots=MappingForm.slots_for(spec),
            )
    context = {
        "job": job,
        "nav": "import",
        "preview": shown,
        "form": form,
        "source": source,
        "problems": _problem_rows(problems),
        "problem_total": total,
        "checked": checked,
        "small": small,
        "saved": list(selectors.import_mapping_list(organization=organization)),
        "action_url": _audit_url("import_mapping", request, job_id=job.public_id),
    }
    return render(request, "audits/import_mapping.html", context)


def _spec_or_proposal(source: ImportMapping | None, shown: Preview) -> MappingSpec:
    if source is not None:
        try:
            return spec_from_dict(source.spec)
        except MappingInvalid:
            pass  # a mapping stored by an older version: start from a fresh guess
    return propose(shown.headers)


def _check(path: Path, spec: MappingSpec) -> tuple[list[Problem], int, tuple[int, int] | None]:
    try:
        workbook = read_mapped(path, spec, limits=workbook_limits())
    except WorkbookError as exc:
        return exc.problems[:MAX_LISTED], exc.total, None
    return [], 0, (len(workbook.encounters), workbook.code_rows)


@require_role(*MANAGE_ROLES)
@require_safe
def mapping_list_view(request: OrgRequest, org_slug: str) -> HttpResponse:
    """The organization's saved column mappings: rename, change, delete."""
    mappings = list(selectors.import_mapping_list(organization=request.organization))
    return render(request, "audits/mappings.html", {"mappings": mappings, "nav": "import"})


@require_role(*AUDIT_WRITE_ROLES)
@require_http_methods(["GET", "POST"])
def mapping_edit_view(request: OrgRequest, org_slug: str, mapping_id: UUID) -> HttpResponseBase:
    """Change a saved mapping's fields (its columns are those it was made for)."""
    mapping = selectors.import_mapping_get(organization=request.organization, public_id=mapping_id)
    headers = mapping.columns
    if request.method == "POST":
        form = MappingForm(request.POST, headers=headers)
        if form.is_valid():
            try:
                import_mapping_save(
                    organization=request.organization,
                    name=form.cleaned_data["save_as"] or mapping.name,
                    spec=form.spec(),
                    actor=request.user,
                    mapping=mapping,
                    request=request,
                )
            except MappingNameTaken:
                form.add_error("save_as", "Another saved mapping has this name.")
            else:
                messages.success(request, f"Saved the column mapping “{mapping.name}”.")
                return redirect(_audit_url("mapping_edit", request, mapping_id=mapping.public_id))
    else:
        spec = _spec_or_proposal(mapping, Preview(mapping.name, tuple(headers), ()))
        form = MappingForm(
            initial=MappingForm.initial_for(spec, save_as=mapping.name),
            headers=headers,
            slots=MappingForm.slots_for(spec),
        )
    context = {
        "mapping": mapping,
        "nav": "import",
        "form": form,
        "action_url": _audit_url("mapping_edit", request, mapping_id=mapping.public_id),
        "is_manager": has_role(request.membership, MANAGE_ROLES),
    }
    return render(request, "audits/mapping_edit.html", context)


@require_role(*MANAGE_ROLES)
@require_POST
def mapping_rename_view(request: OrgRequest, org_slug: str, mapping_id: UUID) -> HttpResponseBase:
    mapping = selectors.import_mapping_get(organization=request.organization, public_id=mapping_id)
    form = MappingRenameForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Enter a name for the mapping.")
    else:
        try:
            import_mapping_rename(
                mapping=mapping, name=form.cleaned_data["name"], actor=request.user, request=request
            )
        except MappingNameTaken:
            messages.error(
                request, f"Another saved mapping is called “{form.cleaned_data['name']}”."
            )
        else:
            messages.success(request, f"Renamed the mapping to “{mapping.name}”.")
    return redirect(_audit_url("mappings", request))


@require_role(*MANAGE_ROLES)
@require_POST
def mapping_delete_view(request: OrgRequest, org_slug: str, mapping_id: UUID) -> HttpResponseBase:
    mapping = selectors.import_mapping_get(organization=request.organization, public_id=mapping_id)
    name = mapping.name
    import_mapping_delete(mapping=mapping, actor=request.user, request=request)
    messages.success(
        request, f"Deleted the mapping “{name}”; uploads with its columns will be mapped again."
    )
    return redirect(_audit_url("mappings", request))


# --------------------------------------------------------------------------- lifecycle


@require_role(*AUDIT_WRITE_ROLES)
@require_http_methods(["GET", "POST"])
def audit_delete_view(request: OrgRequest, org_slug: str, audit_id: UUID) -> HttpResponseBase:
    """GET: what deleting the audit removes, and a confirmation; POST: delete it. An audit
    ever released is refused (403) with the reason."""
    organization = request.organization
    audit = selectors.audit_get(organization=organization, public_id=audit_id)
    released = selectors.audit_ever_released(audit=audit)
    if request.method == "POST" and not released:
        try:
            footprint = audit_delete(audit=audit, actor=request.user, request=request)
        except AuditLifecycleError:
            released = True  # released between the page and the click
        else:
            messages.success(
                request,
                f"Deleted the audit “{audit.name}”: {footprint.encounters:,} encounters, "
                f"{footprint.code_lines:,} code lines and {footprint.findings:,} findings.",
            )
            return redirect(_audit_url("index", request))
    context = {
        "audit": audit,
        "nav": "detail",
        "released": released,
        "footprint": None if released else selectors.audit_footprint(audit=audit),
        "can_archive": has_role(request.membership, MANAGE_ROLES) and audit.archived_at is None,
    }
    return render(request, "audits/audit_delete.html", context, status=403 if released else 200)


@require_role(*MANAGE_ROLES)
@require_POST
def audit_archive_view(request: OrgRequest, org_slug: str, audit_id: UUID) -> HttpResponseBase:
    audit = selectors.audit_get(organization=request.organization, public_id=audit_id)
    try:
        changed = audit_archive(audit=audit, actor=request.user, request=request)
    except AuditLifecycleError as exc:
        messages.error(request, str(exc))
    else:
        if changed:
            messages.success(
                request,
                f"Archived “{audit.name}”: it is left out of dashboards, scorecards, reports "
                "and metrics, and stays readable here.",
            )
        else:
            messages.info(request, f"“{audit.name}” was already archived.")
    return redirect(_audit_url("detail", request, audit_id=audit.public_id))


@require_role(*MANAGE_ROLES)
@require_POST
def audit_unarchive_view(request: OrgRequest, org_slug: str, audit_id: UUID) -> HttpResponseBase:
    audit = selectors.audit_get(organization=request.organization, public_id=audit_id)
    if audit_unarchive(audit=audit, actor=request.user, request=request):
        messages.success(
            request, f"Unarchived “{audit.name}”: it counts in dashboards and metrics again."
        )
    else:
        messages.info(request, f"“{audit.name}” was not archived.")
    return redirect(_audit_url("detail", request, audit_id=audit.public_id))


# --------------------------------------------------------------------------- audit summary


@require_role(*AUDIT_READ_ROLES)
@require_safe
def audit_detail(request: OrgRequest, org_slug: str, audit_id: UUID) -> HttpResponseBase:
    organization = request.organization
    audit = selectors.audit_get(organization=organization, public_id=audit_id)
    totals = selectors.score_totals(
        selectors.scored_encounters(organization=organization, audit=audit)
    )
    scores = scores_of(totals)
    if export_format(request):
        score_rows = score_rows_of(scores)
        return export_response(
            request,
            list_name=f"summary-{audit.name}",
            title="Scores",
            columns=audit_exports.SCORE_COLUMNS,
            rows=score_rows,
            count=len(score_rows),
            obj_type="audit",
            obj_id=str(audit.public_id),
        )
    kinds = selectors.finding_kind_counts(organization=organization, audit=audit)
    patterns = selectors.finding_counts(organization=organization, audit=audit)
    encounters_url = _audit_url("encounters", request, audit_id=audit.public_id)
    for row in patterns:
        row["url"] = f"{encounters_url}?{urlencode({'kind': row['kind']})}"
    for row in kinds:
        row["url"] = f"{encounters_url}?{urlencode({'kind': row['kind']})}"
    settings_labels = dict(Encounter.Setting.choices)
    stored = audit.scoring_settings
    headline_key = score_settings.headline_of(stored)
    groups = score_settings.groups_of(stored)
    weighted = None
    if score_settings.has_custom_weights(stored):
        weighted = weighted_errors(
            selectors.weighted_kind_counts(organization=organization, audit=audit, groups=groups),
            score_settings.weights_of(stored),
            opportunities=pooled_tally(totals, groups).audited,
        )
    context = {
        "audit": audit,
        "nav": "detail",
        "scores": scores,
        "score_rows": score_rows_of(scores),
        "record": ScoreCell(scores.record_accuracy),
        "drg": ScoreCell(scores.drg_accuracy),
        "headline": ScoreCell(scoring_headline(totals, headline_key, groups)),
        "headline_label": headline_label(headline_key, groups),
        "headline_key": headline_key,
        "weighted": _weighted_display(weighted),
        "impact": money(scores.financial_impact),
        "finding_total": sum(row["n"] for row in kinds),
        "kinds": kinds,
        "patterns": patterns,
        "slice_columns": SLICE_COLUMNS,
        "by_setting": _slice_rows(
            selectors.audit_scores_by(organization=organization, audit=audit, dimension="setting"),
            settings_labels,
        ),
        "by_coder": _slice_rows(
            selectors.audit_scores_by(
                organization=organization, audit=audit, dimension="coder__name"
            ),
            person_labels(organization=organization, model=Coder),
        ),
        "scoring_settings": _settings_display(audit.scoring_settings),
        "encounters_url": encounters_url,
        "not_reviewed": selectors.audit_not_reviewed_count(organization=organization, audit=audit),
        "not_reviewed_url": f"{encounters_url}?{urlencode({'reviewed': 'no'})}",
        "release_rows": coaching_selectors.release_summary(organization=organization, audit=audit)
        if has_role(request.membership, AUDIT_WRITE_ROLES)
        else [],
        "can_manage": has_role(request.membership, MANAGE_ROLES),
        "can_delete": has_role(request.membership, AUDIT_WRITE_ROLES)
        and not selectors.audit_ever_released(audit=audit),
        "export": export_control(request),
    }
    return render(request, "audits/detail.html", context)


# --------------------------------------------------------------------------- encounter list


@require_role(*AUDIT_READ_ROLES)
@require_safe
def encounter_list_view(request: OrgRequest, org_slug: str, audit_id: UUID) -> HttpResponseBase:
    organization = request.organization
    audit = selectors.audit_get(organization=organization, public_id=audit_id)
    form = EncounterFilterForm(
        request.GET or None,
        coders=selectors.audit_coder_names(organization=organization, audit=audit),
    )
    filters = form.filters() if request.GET else selectors.EncounterFilters()
    queryset = selectors.encounter_list(organization=organization, audit=audit, filters=filters)
    if export_format(request):
        return export_response(
            request,
            list_name=f"encounters-{audit.name}",
            title="Encounters",
            columns=audit_exports.ENCOUNTER_COLUMNS,
            rows=in_chunks(queryset),
            count=queryset.count(),
            obj_type="audit",
            obj_id=str(audit.public_id),
        )
    page = Paginator(queryset, ENCOUNTERS_PER_PAGE).get_page(request.GET.get("page"))
    rows = list(page.object_list)
    for row in rows:
        row.impact_display = money(row.financial_impact)  # type: ignore[attr-defined]
    query = request.GET.copy()
    query.pop("page", None)
    context = {
        "audit": audit,
        "nav": "encounters",
        "form": form,
        "page": page,
        "rows": rows,
        "filtered": any(getattr(filters, f) for f in filters.__dataclass_fields__),
        "query": query.urlencode(),
        "list_url": _audit_url("encounters", request, audit_id=audit.public_id),
        "export": export_control(request),
    }
    template = "audits/encounters.html#results" if _is_htmx(request) else "audits/encounters.html"
    return render(request, template, context)


# --------------------------------------------------------------------------- review workspace


@dataclass(slots=True)
class LineRow:
    """One code line as the workspace shows it (and, for the audited side, edits it)."""

    key: str  # "DX-3": group and seq, the line's address in edit URLs
    row_id: str  # "a-DX-3" / "o-DX-3": the table row's id
    line: CodeLine
    code: str
    principal: bool = False
    mark: str = ""  # added, deleted, revised, reseq
    changed: set[str] = field(default_factory=set)  # poa, mod, units
    values: dict[str, str] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)
    first: bool = False
    last: bool = False
    description: str = ""  # from the code sets; CPT only from the org's licensed file
    issues: list[CodeIssue] = field(default_factory=list)  # what the code sets say
    severity: str = ""  # CC / MCC of a secondary diagnosis, as the grouper saw it
    drives: bool = False  # the grouper says this code drove the (final) DRG
    hac: bool = False  # a CC/MCC with POA N/U that the HAC logic left out of the final DRG
    is_or: bool = False  # an operating-room procedure
    em: bool = False  # an office E/M code (99202-99205, 99211-99215)

    @property
    def modifiers(self) -> str:
        return ", ".join(sorted(normalize_modifiers(self.line.modifiers)))

    @property
    def issue_text(self) -> str:
        return " ".join(issue.message for issue in self.issues)

    @property
    def issue_label(self) -> str:
        """A short label for the flag; the full message is beside it for screen readers."""
        if not self.issues:
            return ""
        kind = self.issues[0].kind
        label = ISSUE_LABELS.get(kind, kind.replace("_", " ").lower())
        return label if len(self.issues) == 1 else f"{label} +{len(self.issues) - 1}"

    @property
    def issue_soft(self) -> bool:
        """Only "not in our code list" (the shipped lists may be older than the code)."""
        return all(issue.kind == "UNKNOWN" for issue in self.issues)

    @property
    def tooltip(self) -> str:
        """The row's code cell title: system, description and any issue in full."""
        parts = [self.line.get_system_display()]
        if self.description:
            parts.append(self.description)
        parts += [f"⚠ {issue.message}" for issue in self.issues]
        return " · ".join(parts)


@dataclass(slots=True)
class GroupBlock:
    group: str
    label: str
    original: list[LineRow]
    audited: list[LineRow]
    search_url: str = ""  # the code search of this group's code fields
    inpatient: bool = False
    can_edit: bool = False

    @property
    def detailed(self) -> bool:
        """Some line has a description or a mark (CC/MCC, OR, issue): every line then gets
        a detail row under it, on both sides, so line N of the original still sits beside
        line N audited."""
        return any(
            row.description or row.severity or row.is_or or row.drives or row.issues
            for row in (*self.original, *self.audited)
        )

    @property
    def original_span(self) -> int:
        """Columns after `#` on the original side: code, POA (inpatient DX), mod + units."""
        return 1 + (self.group == "DX" and self.inpatient) + 2 * (self.group == "LINE")

    @property
    def audited_span(self) -> int:
        return self.original_span + self.can_edit  # the row actions


@dataclass(slots=True)
class EmView:
    """The E/M leveling helper of one finding (or, unsaved, of one E/M line)."""

    key: str  # unique within the page, for element ids
    family: str  # 9920 / 9921
    billed: str  # the coder's E/M code ("" when the coder billed none)
    audited: str  # the audited E/M code ("" when the audit removed it)
    values: dict[str, str]
    leveling: Leveling | None

    @property
    def family_label(self) -> str:
        return "new patient" if self.family == em_rules.NEW else "established patient"

    @property
    def saved_code(self) -> str:
        return str((self.values or {}).get("code") or "")

    @property
    def fields(self) -> list[tuple[str, str, str]]:
        """(form field, label, current rating) of the three MDM elements."""
        return [(name, label, self.values.get(key, "")) for name, key, label in EM_ELEMENTS]


@dataclass(slots=True)
class FindingView:
    finding: Finding
    original: str
    audited: str
    detail: str
    rows: list[str]
    form: FindingNotesForm
    is_new: bool = False
    saved: bool = False
    em: EmView | None = None
    library: library_selectors.FindingLibrary | None = None  # topic and cited references
    # A stale save: the message, and what this editor typed (shown to copy from, not saved).
    conflict: str = ""
    mine: dict[str, str] | None = None

    @property
    def kind_label(self) -> str:
        return self.finding.kind.replace("_", " ").lower()


def _leveling_from(stored: dict[str, Any], family: str, billed: str) -> Leveling | None:
    """A stored leveling (Finding.em_leveling) back as a Leveling; None when absent or bad."""
    if not stored:
        return None
    try:
        ratings = [stored.get(k) for k in ("problems", "data", "risk")]
        minutes = stored.get("minutes")
        return Leveling(
            family=em_rules.NEW if family == em_rules.NEW else em_rules.ESTABLISHED,
            problems=em_rules.level(ratings[0]) if ratings[0] else None,
            data=em_rules.level(ratings[1]) if ratings[1] else None,
            risk=em_rules.level(ratings[2]) if ratings[2] else None,
            minutes=int(minutes) if minutes is not None else None,
            billed=billed,
        )
    except (TypeError, ValueError):
        return None


def _em_view(f: Finding) -> EmView | None:
    """The leveling helper for a finding about an office E/M line (§5.7 codes)."""
    if f.group != "LINE":
        return None
    billed = f.original_code if f.original_code in EM_CODES else ""
    audited = f.audited_code if f.audited_code in EM_CODES else ""
    family = em_family(audited) or em_family(billed)
    if family is None:
        return None
    stored = dict(f.em_leveling or {})
    values = {k: "" if stored.get(k) is None else str(stored[k]) for k in stored}
    return EmView(
        key=str(f.public_id),
        family=family,
        billed=billed,
        audited=audited,
        values=values,
        leveling=_leveling_from(stored, family, billed),
    )


def _code_display(group: str, code: str) -> str:
    if not code:
        return ""
    return display_code("ICD10CM", code) if group == "DX" else code


def _finding_detail(f: Finding) -> str:
    if f.kind == "POA_CHANGED":
        return f"POA {f.original_value or 'blank'} → {f.audited_value or 'blank'}"
    if f.kind == "MODIFIER_CHANGED":
        return (
            f"Modifiers {f.original_value.replace(';', ', ') or 'none'} → "
            f"{f.audited_value.replace(';', ', ') or 'none'}"
        )
    if f.kind == "UNITS_CHANGED":
        return f"Units {f.original_value} → {f.audited_value}"
    if f.kind == "DRG_CHANGED":

        def rw(x: Decimal | None) -> str:
            return "no weight" if x is None else f"RW {x}"

        return f"{rw(f.original_rw)} → {rw(f.audited_rw)}"
    if f.kind == "DISPOSITION_CHANGED":
        return (
            f"{DISPOSITION_LABELS.get(f.original_code, '')} → "
            f"{DISPOSITION_LABELS.get(f.audited_code, '')}"
        )
    if f.em_delta is not None:
        direction = "over-coded" if f.em_delta < 0 else "under-coded"
        return f"E/M level {f.em_delta:+d} ({direction})".replace("-", "−")
    return ""


def _line_rows(lines: list[CodeLine], prefix: str) -> dict[str, list[LineRow]]:
    rows: dict[str, list[LineRow]] = {g: [] for g in GROUPS}
    for line in lines:
        key = f"{line.group}-{line.seq}"
        rows[line.group].append(
            LineRow(
                key=key,
                row_id=f"{prefix}-{key}",
                line=line,
                code=_code_display(line.group, line.code),
            )
        )
    for group_rows in rows.values():
        if group_rows:
            group_rows[0].first = True
            group_rows[-1].last = True
            if group_rows[0].line.group == "DX":
                group_rows[0].principal = True
    return rows


def _mark_rows(
    findings: list[Finding], original: dict[str, list[LineRow]], audited: dict[str, list[LineRow]]
) -> dict[int, list[str]]:
    """Tie each finding to the rows it is about; mark those rows. Returns row ids by finding."""

    def take(rows: list[LineRow], code: str, *, unmarked: bool = True) -> LineRow | None:
        for row in rows:
            if row.line.code == code and (not unmarked or not row.mark):
                return row
        return None

    linked: dict[int, list[str]] = {}
    for f in findings:
        if f.group not in GROUPS:
            linked[f.pk] = []
            continue
        o_rows, a_rows = original[f.group], audited[f.group]
        hits: list[LineRow] = []
        if f.kind in {"DELETED", "REVISED"} and (row := take(o_rows, f.original_code)):
            row.mark = f.kind.lower()
            hits.append(row)
        if f.kind in {"ADDED", "REVISED"} and (row := take(a_rows, f.audited_code)):
            row.mark = f.kind.lower()
            hits.append(row)
        if f.kind == "RESEQUENCED":
            for rows in (o_rows, a_rows):
                if row := take(rows, f.audited_code, unmarked=False):
                    row.mark = row.mark or "reseq"
                    hits.append(row)
        cell = {"POA_CHANGED": "poa", "MODIFIER_CHANGED": "mod", "UNITS_CHANGED": "units"}.get(
            f.kind
        )
        if cell:
            for rows in (o_rows, a_rows):
                if row := take(rows, f.original_code, unmarked=False):
                    row.changed.add(cell)
                    hits.append(row)
        linked[f.pk] = [row.row_id for row in hits]
    return linked


# --------------------------------------------------------------------------- DRG panel

POA_HAC: Final = frozenset({"N", "U"})  # a HAC counts only when not present on admission


@dataclass(frozen=True, slots=True)
class DrgSide:
    """One version's MS-DRG as the panel shows it."""

    drg: str  # the stored DRG (for the original: the billed one when given)
    title: str | None
    mdc: str | None
    weight: Decimal | None
    grouped: str | None = None  # the grouping of the codes, when it differs from `drg`
    initial: str | None = None  # the initial DRG, when the HAC logic changed it
    hac_note: str = ""
    version: str | None = None


@dataclass(frozen=True, slots=True)
class DrgPanel:
    original: DrgSide | None
    audited: DrgSide | None
    changed: bool
    rw_delta: str
    impact: str
    impact_sign: str  # pos / neg / ""
    base_rate: str  # the rate behind the dollars, and where it comes from
    base_rate_missing: bool


def _hac_codes(grouping: DrgResult, dx_rows: list[LineRow]) -> list[LineRow]:
    """The secondary CC/MCC lines the HAC logic can have left out: POA N or U."""
    by_code = {row.line.code: row for row in dx_rows[1:]}
    found = []
    for code, severity, _impact in grouping.secondary:
        row = by_code.get(code)
        if row is not None and severity in {"CC", "MCC"} and row.line.poa in POA_HAC:
            found.append(row)
    return found


def _drg_side(
    encounter: Encounter,
    stored: selectors.DrgFacts | None,
    grouping: DrgResult | None,
    dx_rows: list[LineRow],
    other_rows: list[LineRow],
) -> DrgSide | None:
    """The panel's view of one version, and the CC/MCC, HAC and OR marks on its lines."""
    if grouping is not None:
        by_code: dict[str, tuple[str, str]] = {}
        for code, severity, impact in grouping.secondary:
            by_code.setdefault(code, (severity, impact))
        for row in dx_rows[1:]:
            severity, impact = by_code.get(row.line.code, ("NONE", "NONE"))
            row.severity = severity if severity in {"CC", "MCC"} else ""
            row.drives = impact in {"FINAL", "BOTH"}
        procedures: dict[str, tuple[bool, str]] = {}
        for code, is_or, impact in grouping.procedures:
            procedures.setdefault(code, (is_or, impact))
        for row in other_rows:
            if row.line.group == "PX":
                is_or, impact = procedures.get(row.line.code, (False, "NONE"))
                row.is_or = bool(is_or)
                row.drives = impact in {"FINAL", "BOTH"}
    if stored is None:
        return None
    initial = hac_note = ""
    if grouping is not None and grouping.initial_drg and grouping.initial_drg != grouping.drg:
        initial = grouping.initial_drg
        hac_rows = _hac_codes(grouping, dx_rows)
        for row in hac_rows:
            row.hac = True
            row.drives = False  # the grouper still lists it, but the final DRG leaves it out
        if hac_rows:
            on = ", ".join(f"POA {row.line.poa} on {row.code}" for row in hac_rows)
            hac_note = f"HAC: {on} moved the final DRG from {initial} to {grouping.drg}."
        else:
            hac_note = f"HAC logic moved the final DRG from {initial} to {grouping.drg}."
    same = grouping is not None and grouping.drg == stored.drg
    return DrgSide(
        drg=stored.drg,
        # The grouper's title reads better than Table 5's upper case; it names the same DRG.
        title=(grouping.title if same and grouping else None) or stored.title,
        mdc=grouping.mdc if same and grouping else None,
        weight=stored.weight,
        grouped=grouping.drg if grouping is not None and not same else None,
        initial=initial or None,
        hac_note=hac_note,
        version=grouping.grouper_version if grouping is not None else None,
    )


def _base_rate_text(encounter: Encounter) -> tuple[str, bool]:
    """The base rate behind the encounter's dollars and where it comes from (DESIGN §6)."""
    facility = encounter.facility if encounter.facility_id else None
    if facility is not None and facility.base_rate is not None:
        return f"{money_plain(facility.base_rate)} ({facility.name})", False
    org_rate = score_settings.default_base_rate_of(encounter.audit.scoring_settings)
    if org_rate is not None:
        return f"{money_plain(org_rate)} (organization default when this audit was imported)", False
    default = pricing().default_base_rate(encounter.discharge_date)
    fy = fiscal_year(encounter.discharge_date)
    if default is not None:
        return f"{money_plain(default)} (national standardized amount, FY{fy})", False
    return f"none for FY{fy}: set the facility's base rate to see dollars", True


def money_plain(amount: Decimal) -> str:
    return f"${amount.quantize(Decimal('0.01'), rounding=ROUND_HALF_UP):,.2f}"


def _drg_panel(
    encounter: Encounter,
    groupings: tuple[DrgResult | None, DrgResult | None],
    original: dict[str, list[LineRow]],
    audited: dict[str, list[LineRow]],
) -> DrgPanel:
    original_facts, audited_facts = selectors.encounter_drgs(encounter=encounter)
    rw = encounter.rw_delta
    impact = encounter.financial_impact
    base_rate, missing = _base_rate_text(encounter)
    return DrgPanel(
        original=_drg_side(encounter, original_facts, groupings[0], original["DX"], original["PX"]),
        audited=_drg_side(encounter, audited_facts, groupings[1], audited["DX"], audited["PX"]),
        changed=bool(encounter.original_drg and encounter.original_drg != encounter.audited_drg),
        rw_delta="—" if rw is None else f"{rw:+.4f}".replace("-", "−"),
        impact=money(impact),
        impact_sign="" if not impact else ("pos" if impact > 0 else "neg"),
        base_rate=base_rate,
        base_rate_missing=missing,
    )


def _describe_rows(
    rows: dict[str, list[LineRow]],
    version: str,
    descriptions: dict[tuple[str, str], str],
    issues: dict[tuple[str, str, int], list[CodeIssue]],
) -> None:
    for group_rows in rows.values():
        for row in group_rows:
            line = row.line
            row.description = descriptions.get((line.system, line.code), "")
            row.issues = issues.get((version, line.system, line.seq), [])
            row.em = line.code in EM_CODES


SEARCH_SYSTEMS: Final[dict[str, tuple[str, ...]]] = {
    "DX": ("ICD10CM",),
    "PX": ("ICD10PCS",),
    "LINE": ("CPT", "HCPCS"),
    # The add-a-code field offers what the setting is coded with.
    "inpatient": ("ICD10CM", "ICD10PCS"),
    "other": ("ICD10CM", "CPT", "HCPCS"),
}


def _search_urls(request: OrgRequest, encounter: Encounter) -> dict[str, str]:
    """The code-search address for each code field: per group, and for the add field."""
    base = reverse("codesets:search", kwargs={"org_slug": request.organization.slug})
    urls = {key: f"{base}?{urlencode([('system', s) for s in systems])}"
            for key, systems in SEARCH_SYSTEMS.items()}  # fmt: skip
    urls["add"] = urls["inpatient" if encounter.setting == Encounter.Setting.INPATIENT else "other"]
    return urls


def _workspace_context(
    request: OrgRequest,
    encounter: Encounter,
    *,
    line_form: AuditedLineForm | None = None,
    line_key: str = "",
    disposition_form: DispositionForm | None = None,
    notes_forms: dict[int, FindingNotesForm] | None = None,
    notice: str = "",
    notice_level: str = "success",
    new_findings: set[tuple[str, str, str | None, str | None]] | None = None,
) -> dict[str, Any]:
    """Everything the workspace partial shows: facts, both versions, findings, scores.

    `line_form` is a bound form that failed validation, with `line_key` the row it belongs
    to ("add" for the add-a-line form): the page shows it with what was typed and its errors.
    """
    can_edit = has_role(request.membership, AUDIT_WRITE_ROLES)
    inpatient = encounter.setting == Encounter.Setting.INPATIENT
    original_lines, audited_lines = selectors.code_lines(encounter=encounter)
    original = _line_rows(original_lines, "o")
    audited = _line_rows(audited_lines, "a")
    findings = list(encounter.findings.filter(active=True).order_by("position"))
    linked = _mark_rows(findings, original, audited)
    all_lines = [*original_lines, *audited_lines]
    descriptions = selectors.code_descriptions(encounter=encounter, lines=all_lines)
    issues = selectors.encounter_code_issues(encounter=encounter, lines=all_lines)
    _describe_rows(original, CodeLine.Version.ORIGINAL, descriptions, issues)
    _describe_rows(audited, CodeLine.Version.AUDITED, descriptions, issues)
    drg_panel = (
        _drg_panel(
            encounter,
            selectors.encounter_groupings(encounter=encounter, lines=all_lines),
            original,
            audited,
        )
        if inpatient
        else None
    )

    for rows in audited.values():
        for row in rows:
            line = row.line
            row.values = {
                "system": line.system,
                "code": row.code,
                "poa": line.poa,
                "modifiers": format_modifiers(normalize_modifiers(line.modifiers)).replace(
                    ";", " "
                ),
                "units": str(line.units),
            }
            if line_form is not None and row.key == line_key:
                row.values.update({k: str(v) for k, v in line_form.data.items() if k in row.values})
                row.errors = [str(e) for errors in line_form.errors.values() for e in errors]

    add_values = {"system": "ICD10CM", "code": "", "poa": "", "modifiers": "", "units": "1"}
    add_errors: dict[str, list[str]] = {}
    if line_form is not None and line_key == "add":
        add_values.update({k: str(v) for k, v in line_form.data.items() if k in add_values})
        add_errors = {k: [str(e) for e in v] for k, v in line_form.errors.items()}

    search_urls = _search_urls(request, encounter)
    blocks = []
    for group in GROUPS:
        shown = (
            original[group]
            or audited[group]
            or group == "DX"
            or (group == "PX" and inpatient)
            or (group == "LINE" and not inpatient)
        )
        if shown:
            blocks.append(
                GroupBlock(
                    group,
                    GROUP_LABELS[group],
                    original[group],
                    audited[group],
                    search_url=search_urls[group],
                    inpatient=inpatient,
                    can_edit=can_edit,
                )
            )

    library = library_selectors.workspace_library(
        organization=request.organization, findings=findings
    )
    finding_views = []
    for f in findings:
        form = (notes_forms or {}).get(f.pk) or FindingNotesForm(
            initial={
                "error_category": f.error_category,
                "root_cause": f.root_cause,
                "rationale": f.rationale,
            }
        )
        finding_views.append(
            FindingView(
                finding=f,
                original=_code_display(f.group, f.original_code),
                audited=_code_display(f.group, f.audited_code),
                detail=_finding_detail(f),
                rows=linked.get(f.pk, []),
                form=form,
                is_new=bool(new_findings) and f.identity in (new_findings or set()),
                em=_em_view(f),
                library=library.findings.get(f.pk),
            )
        )
    # E/M lines no finding is about (the coder's level stands): the helper, unsaved.
    em_covered = {
        code for fv in finding_views if fv.em for code in (fv.em.billed, fv.em.audited) if code
    }
    em_lines = [
        EmView(
            key=row.row_id,
            family=em_family(row.line.code) or em_rules.ESTABLISHED,
            billed=row.line.code,
            audited=row.line.code,
            values={},
            leveling=None,
        )
        for row in audited["LINE"]
        if row.em and row.line.code not in em_covered
    ]

    dispositions = list(DISPOSITIONS)
    for value in (encounter.discharge_disposition, encounter.audited_disposition):
        if value and value not in DISPOSITION_LABELS:
            dispositions.append((value, "Other"))
    disposition_value = encounter.audited_disposition
    disposition_errors: list[str] = []
    if disposition_form is not None:
        disposition_value = str(disposition_form.data.get("audited_disposition", ""))
        disposition_errors = [str(e) for errors in disposition_form.errors.values() for e in errors]

    scores = selectors.encounter_scores(encounter=encounter)
    return {
        "encounter": encounter,
        "audit": encounter.audit,
        "can_edit": can_edit,
        "inpatient": inpatient,
        "blocks": blocks,
        "findings": finding_views,
        "all_systems": CodeLine.System.choices,
        "poa_choices": [(v, POA_LABELS[v]) for v in POA_VALUES],
        "add_values": add_values,
        "add_errors": add_errors,
        "dispositions": dispositions,
        "disposition_value": disposition_value,
        "disposition_errors": disposition_errors,
        "original_disposition": DISPOSITION_LABELS.get(encounter.discharge_disposition, ""),
        "audited_disposition_label": DISPOSITION_LABELS.get(
            encounter.audited_disposition or encounter.discharge_disposition, ""
        ),
        "drg_panel": drg_panel,
        "em_lines": em_lines,
        "em_ratings": EM_RATINGS,
        "em_elements": EM_ELEMENTS,
        "search_urls": search_urls,
        "encounter_scores": [
            (g, ScoreCell(scores.code_accuracy[g]), ScoreCell(scores.union_accuracy[g]))
            for g in GROUPS
        ],
        "scores": scores,
        "pdx": ScoreCell(scores.pdx_accuracy),
        "poa": ScoreCell(scores.poa_accuracy),
        "drg": ScoreCell(scores.drg_accuracy),
        "em": ScoreCell(scores.em_accuracy),
        "error_categories": library.error_categories,
        "root_causes": RootCause.choices,
        "rationale_templates": library.templates,
        "topics": library.topics,
        "notice": notice,
        "notice_level": notice_level,
        "reviewed": encounter.review_status == Encounter.ReviewStatus.DONE,
    }


def _workspace_response(request: OrgRequest, encounter: Encounter, **kwargs: Any) -> HttpResponse:
    context = _workspace_context(request, encounter, **kwargs)
    if _is_htmx(request):
        return render(request, "audits/encounter.html#workspace", context)
    previous, following = selectors.neighbours(encounter=encounter)
    context.update(
        {
            "nav": "encounters",
            "previous": previous,
            "following": following,
            "encounters_url": _audit_url("encounters", request, audit_id=encounter.audit.public_id),
        }
    )
    return render(request, "audits/encounter.html", context)


def _encounter(request: OrgRequest, encounter_id: UUID) -> Encounter:
    """The encounter, unless the member is reviewing it blind (an open overread): then its
    audited work stays hidden (403 on the workspace's actions)."""
    encounter = selectors.encounter_get(organization=request.organization, public_id=encounter_id)
    if blind_review_url(request.user, encounter):
        raise PermissionDenied("You are reviewing this encounter blind.")
    return encounter


@require_role(*AUDIT_READ_ROLES)
@require_safe
def encounter_workspace(request: OrgRequest, org_slug: str, encounter_id: UUID) -> HttpResponseBase:
    encounter = selectors.encounter_get(organization=request.organization, public_id=encounter_id)
    blind = blind_review_url(request.user, encounter)
    if blind:
        messages.info(
            request,
            "You are overreading this encounter blind: the first auditor's work stays hidden "
            "until you finish your review.",
        )
        return redirect(blind)
    log_view(
        organization=request.organization,
        actor=request.user,
        action="encounter.view",
        obj_type="encounter",
        obj_id=encounter.public_id,
        request=request,
    )
    return _workspace_response(request, encounter)


def _after_change(
    request: OrgRequest,
    encounter: Encounter,
    *,
    notice: str,
    level: str = "success",
    anchor: str = "",
    **kwargs: Any,
) -> HttpResponseBase:
    """htmx: the fresh workspace with a notice; without JS: back to the page (PRG)."""
    if _is_htmx(request):
        return _workspace_response(request, encounter, notice=notice, notice_level=level, **kwargs)
    messages.add_message(request, messages.ERROR if level == "error" else messages.SUCCESS, notice)
    url = _audit_url("encounter", request, encounter_id=encounter.public_id)
    return redirect(url + anchor)


def workspace_after_change(
    request: OrgRequest,
    encounter: Encounter,
    *,
    notice: str,
    level: str = "success",
    anchor: str = "",
) -> HttpResponseBase:
    """The workspace's answer to a finding action of another area (library: apply a
    template, set a topic): the fresh workspace for htmx, else back to the page."""
    return _after_change(request, encounter, notice=notice, level=level, anchor=anchor)


def _conflict(request: OrgRequest, encounter: Encounter) -> HttpResponseBase:
    encounter.refresh_from_db()
    return _after_change(request, encounter, notice=CONFLICT_MESSAGE, level="error")


def _audited_groups(encounter: Encounter) -> dict[str, list[tuple[int, AuditedLine]]]:
    """The audited version as (seq, AuditedLine) per group, in seq order."""
    groups: dict[str, list[tuple[int, AuditedLine]]] = {g: [] for g in GROUPS}
    for row in selectors.code_lines(encounter=encounter)[1]:
        groups[row.group].append(
            (
                row.seq,
                AuditedLine(
                    system=row.system,
                    code=row.code,
                    poa=row.poa,
                    modifiers=normalize_modifiers(row.modifiers),
                    units=row.units,
                ),
            )
        )
    return groups


def _save_lines(
    request: OrgRequest,
    encounter: Encounter,
    *,
    lock_version: int,
    groups: dict[str, list[AuditedLine]],
    audited_disposition: str | None = None,
) -> HttpResponseBase:
    # A multiset: two findings may look alike (the same code on two lines).
    before = Counter(
        encounter.findings.values_list("kind", "group", "original_code", "audited_code")
    )
    lines = [line for g in GROUPS for line in groups[g]]
    try:
        encounter_audited_update(
            encounter=encounter,
            lock_version=lock_version,
            lines=lines,
            audited_disposition=audited_disposition,
            actor=request.user,
        )
    except ConflictError:
        return _conflict(request, encounter)
    unmatched = before.copy()
    new = set()
    for f in encounter.findings.all():
        key = (f.kind, f.group, f.original_code, f.audited_code)
        if unmatched[key]:
            unmatched[key] -= 1
        else:
            new.add(f.identity)
    resolved = unmatched.total()
    parts = []
    if new:
        parts.append(f"{len(new)} new finding{'s' if len(new) != 1 else ''}")
    if resolved:
        parts.append(f"{resolved} finding{'s' if resolved != 1 else ''} resolved")
    notice = "Saved. " + ("; ".join(parts) + "." if parts else "Findings unchanged.")
    return _after_change(request, encounter, notice=notice, new_findings=new)


def _repeated_diagnosis(
    groups: dict[str, list[AuditedLine]], line: AuditedLine, *, replacing: int | None = None
) -> str:
    """Why a diagnosis cannot go on the audited version twice, or "" when it may.

    An ICD-10-CM code is reported once per claim (UB-04 / 837 carry each diagnosis once).
    Procedures and service lines may repeat: a PCS procedure done twice is coded twice
    (ICD-10-PCS guideline B3.2), and a CPT/HCPCS line may recur with other dates or units.
    """
    if SYSTEM_GROUP[line.system] != "DX":
        return ""
    for position, other in enumerate(groups["DX"]):
        if position != replacing and other.code == line.code:
            return (
                f"{display_code(line.system, line.code)} is already diagnosis {position + 1} "
                "of the audited version: a diagnosis is reported once."
            )
    return ""


def _checked_group(group: str) -> str:
    if group not in GROUPS:
        raise Http404("No such group")
    return group


def _invalid(request: OrgRequest, encounter: Encounter, **kwargs: Any) -> HttpResponse:
    """Re-render with what was typed and the errors beside it; nothing is saved or lost."""
    return _workspace_response(
        request,
        encounter,
        notice="Not saved: see the error beside the form.",
        notice_level="error",
        **kwargs,
    )


def _plain(groups: dict[str, list[tuple[int, AuditedLine]]]) -> dict[str, list[AuditedLine]]:
    return {g: [line for _, line in rows] for g, rows in groups.items()}


def _position(groups: dict[str, list[tuple[int, AuditedLine]]], group: str, seq: int) -> int:
    for index, (line_seq, _) in enumerate(groups[group]):
        if line_seq == seq:
            return index
    raise Http404("No such line")


@require_role(*AUDIT_WRITE_ROLES)
@require_POST
def line_add(request: OrgRequest, org_slug: str, encounter_id: UUID) -> HttpResponseBase:
    encounter = _encounter(request, encounter_id)
    form = AuditedLineForm(request.POST, inpatient=encounter.setting == Encounter.Setting.INPATIENT)
    if not form.is_valid():
        return _invalid(request, encounter, line_form=form, line_key="add")
    if form.cleaned_data["lock_version"] != encounter.lock_version:
        return _conflict(request, encounter)
    groups = _plain(_audited_groups(encounter))
    line = form.audited_line()
    if refused := _repeated_diagnosis(groups, line):
        form.add_error("code", refused)
        return _invalid(request, encounter, line_form=form, line_key="add")
    groups[SYSTEM_GROUP[line.system]].append(line)
    return _save_lines(
        request, encounter, lock_version=form.cleaned_data["lock_version"], groups=groups
    )


@require_role(*AUDIT_WRITE_ROLES)
@require_POST
def line_change(
    request: OrgRequest, org_slug: str, encounter_id: UUID, group: str, seq: int
) -> HttpResponseBase:
    group = _checked_group(group)
    encounter = _encounter(request, encounter_id)
    form = AuditedLineForm(request.POST, inpatient=encounter.setting == Encounter.Setting.INPATIENT)
    key = f"{group}-{seq}"
    valid = form.is_valid()
    if valid and SYSTEM_GROUP[form.cleaned_data["system"]] != group:
        form.add_error("system", f"A {GROUP_LABELS[group].lower()} line keeps its code system.")
        valid = False
    if not valid:
        return _invalid(request, encounter, line_form=form, line_key=key)
    if form.cleaned_data["lock_version"] != encounter.lock_version:
        return _conflict(request, encounter)
    current = _audited_groups(encounter)
    index = _position(current, group, seq)
    groups = _plain(current)
    line = form.audited_line()
    if refused := _repeated_diagnosis(groups, line, replacing=index):
        form.add_error("code", refused)
        return _invalid(request, encounter, line_form=form, line_key=key)
    groups[group][index] = line
    return _save_lines(
        request, encounter, lock_version=form.cleaned_data["lock_version"], groups=groups
    )


@require_role(*AUDIT_WRITE_ROLES)
@require_POST
def line_remove(
    request: OrgRequest, org_slug: str, encounter_id: UUID, group: str, seq: int
) -> HttpResponseBase:
    group = _checked_group(group)
    encounter = _encounter(request, encounter_id)
    form = LockedForm(request.POST)
    if not form.is_valid() or form.cleaned_data["lock_version"] != encounter.lock_version:
        return _conflict(request, encounter)
    current = _audited_groups(encounter)
    index = _position(current, group, seq)
    groups = _plain(current)
    del groups[group][index]
    return _save_lines(
        request, encounter, lock_version=form.cleaned_data["lock_version"], groups=groups
    )


@require_role(*AUDIT_WRITE_ROLES)
@require_POST
def line_move(
    request: OrgRequest, org_slug: str, encounter_id: UUID, group: str, seq: int
) -> HttpResponseBase:
    """Reorder within a group; moving a diagnosis to the top makes it the principal."""
    group = _checked_group(group)
    encounter = _encounter(request, encounter_id)
    form = LineMoveForm(request.POST)
    if not form.is_valid():
        return _invalid(request, encounter)
    if form.cleaned_data["lock_version"] != encounter.lock_version:
        return _conflict(request, encounter)
    current = _audited_groups(encounter)
    index = _position(current, group, seq)
    groups = _plain(current)
    lines = groups[group]
    target = {"up": index - 1, "down": index + 1, "top": 0}[form.cleaned_data["direction"]]
    target = min(max(target, 0), len(lines) - 1)
    if target != index:
        lines.insert(target, lines.pop(index))
    return _save_lines(
        request, encounter, lock_version=form.cleaned_data["lock_version"], groups=groups
    )


@require_role(*AUDIT_WRITE_ROLES)
@require_POST
def disposition_set(request: OrgRequest, org_slug: str, encounter_id: UUID) -> HttpResponseBase:
    """The audited discharge disposition (inpatient; blank = same as billed)."""
    encounter = _encounter(request, encounter_id)
    if encounter.setting != Encounter.Setting.INPATIENT:
        raise Http404("Discharge disposition applies to inpatient encounters only")
    form = DispositionForm(request.POST)
    if not form.is_valid():
        return _invalid(request, encounter, disposition_form=form)
    if form.cleaned_data["lock_version"] != encounter.lock_version:
        return _conflict(request, encounter)
    return _save_lines(
        request,
        encounter,
        lock_version=form.cleaned_data["lock_version"],
        groups=_plain(_audited_groups(encounter)),
        audited_disposition=form.cleaned_data["audited_disposition"],
    )


@require_role(*AUDIT_WRITE_ROLES)
@require_POST
def review_status_set(request: OrgRequest, org_slug: str, encounter_id: UUID) -> HttpResponseBase:
    encounter = _encounter(request, encounter_id)
    form = ReviewStatusForm(request.POST)
    status = (form.cleaned_data["status"] if form.is_valid() else "") or "done"
    encounter_review_status_set(encounter=encounter, status=status, actor=request.user)
    notice = "Marked reviewed." if status == "done" else "Reopened for review."
    return _after_change(request, encounter, notice=notice)


@require_role(*AUDIT_WRITE_ROLES)
@require_POST
def mark_reviewed(request: OrgRequest, org_slug: str, encounter_id: UUID) -> HttpResponseBase:
    """The auditor keeps the coder's coding of a not-yet-reviewed encounter (DESIGN §9):
    from now on it counts (no change: a clean encounter)."""
    encounter = _encounter(request, encounter_id)
    form = LockedForm(request.POST)
    if not form.is_valid():
        return _conflict(request, encounter)
    try:
        changed = encounter_mark_reviewed(
            encounter=encounter,
            lock_version=form.cleaned_data["lock_version"],
            actor=request.user,
        )
    except ConflictError:
        return _conflict(request, encounter)
    if not changed:
        return _after_change(request, encounter, notice="Already reviewed.")
    n = encounter.finding_count
    notice = "Marked reviewed: it counts from now on" + (
        f", with {n} finding{'s' if n != 1 else ''}." if n else ", a clean encounter."
    )
    return _after_change(request, encounter, notice=notice)


@require_role(*AUDIT_WRITE_ROLES)
@require_POST
def finding_notes(request: OrgRequest, org_slug: str, finding_id: UUID) -> HttpResponseBase:
    """Error category, root cause and rationale of one finding."""
    finding = selectors.finding_get(organization=request.organization, public_id=finding_id)
    encounter = _encounter(request, finding.encounter.public_id)
    form = FindingNotesForm(request.POST)
    anchor = f"#finding-{finding.public_id}"
    conflict = ""
    if form.is_valid():
        try:
            finding_annotate(
                finding=finding,
                error_category=form.cleaned_data["error_category"],
                root_cause=form.cleaned_data["root_cause"],
                rationale=form.cleaned_data["rationale"],
                actor=request.user,
                expected_version=form.cleaned_data["notes_version"],
            )
        except NotesConflictError as exc:
            conflict = str(exc)
            finding.refresh_from_db()
        if not _is_htmx(request):
            if conflict:
                messages.error(request, conflict)
            else:
                messages.success(request, "Finding notes saved.")
            return redirect(
                _audit_url("encounter", request, encounter_id=encounter.public_id) + anchor
            )
    elif not _is_htmx(request):
        return _invalid(request, encounter, notes_forms={finding.pk: form})
    view = FindingView(
        finding=finding,
        original="",
        audited="",
        detail="",
        rows=[],
        form=form
        if not form.is_valid()
        else FindingNotesForm(
            initial={
                "error_category": finding.error_category,
                "root_cause": finding.root_cause,
                "rationale": finding.rationale,
            }
        ),
        saved=form.is_valid() and not conflict,
        conflict=conflict,
        mine={k: str(form.cleaned_data.get(k) or "") for k in ("error_category", "rationale")}
        if conflict
        else None,
    )
    context = {
        "fv": view,
        "can_edit": True,
        "error_categories": ERROR_CATEGORIES,
        "root_causes": RootCause.choices,
    }
    return render(request, "audits/encounter.html#finding-notes", context)


# --------------------------------------------------------------------------- E/M leveling


@require_role(*AUDIT_WRITE_ROLES)
@require_safe
def em_level_preview(request: OrgRequest, org_slug: str) -> HttpResponse:
    """What a leveling supports, as the auditor picks the ratings (htmx, nothing saved)."""
    form = EmLevelingForm(request.GET)
    family = request.GET.get("family") or em_rules.ESTABLISHED
    leveling = form.leveling() if form.is_valid() else None
    context = {
        "result": leveling,
        "errors": [] if form.is_valid() or not request.GET else form.non_field_errors(),
        "audited": normalize_code(request.GET.get("audited") or ""),
        "family": family,
    }
    return render(request, "audits/encounter.html#em-result", context)


@require_role(*AUDIT_WRITE_ROLES)
@require_POST
def finding_em_level(request: OrgRequest, org_slug: str, finding_id: UUID) -> HttpResponseBase:
    """Save the auditor's office E/M leveling on a finding about an E/M line."""
    finding = selectors.finding_get(organization=request.organization, public_id=finding_id)
    encounter = _encounter(request, finding.encounter.public_id)
    view = _em_view(finding)
    if view is None:
        raise Http404("This finding is not about an office E/M code")
    form = EmLevelingForm(request.POST)
    anchor = f"#finding-{finding.public_id}"
    if not form.is_valid():
        errors = " ".join(str(e) for e in form.non_field_errors()) or " ".join(
            f"{name}: {e}" for name, errs in form.errors.items() for e in errs
        )
        return _after_change(
            request, encounter, notice=f"E/M leveling not saved: {errors}", level="error",
            anchor=anchor,
        )  # fmt: skip
    leveling = form.leveling(family=view.family, billed=view.billed)
    finding_em_level_set(
        finding=finding,
        leveling=leveling,
        append_rationale=form.cleaned_data["append"],
        actor=request.user,
    )
    notice = f"E/M leveling saved: it supports {leveling.code or 'no level'}."
    if leveling.code and view.audited and leveling.code != view.audited:
        notice += f" The audited code is {view.audited}."
    return _after_change(request, encounter, notice=notice, anchor=anchor)
