"""The overread screens: plans, my overreads, the blind review, consistency, calibration.

Blindness is enforced here and in the selectors: while an overread is open only its
reviewer can open it (everyone else, the first auditor and managers included, gets a 404),
and the open review page reads the coder's original lines and the blind lines only, never
the encounter's audited version, findings or derived audited DRG. Once done, the reviewer,
the first auditor and managers see the two reviews side by side.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from uuid import UUID

from django.contrib import messages
from django.http import Http404, HttpResponse
from django.http.response import HttpResponseBase
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST, require_safe

from auditcoach.accounts.models import Role
from auditcoach.accounts.permissions import (
    AUDIT_WRITE_ROLES,
    MANAGE_ROLES,
    OrgRequest,
    require_role,
)
from auditcoach.auditlog.services import log_view
from auditcoach.audits.forms import POA_LABELS, POA_VALUES
from auditcoach.audits.models import CodeLine, Encounter
from auditcoach.engine.codes import display_code
from auditcoach.engine.metrics import Consistency
from auditcoach.engine.model import SYSTEM_GROUP
from auditcoach.overreads import selectors, services
from auditcoach.overreads.forms import (
    BlindDispositionForm,
    BlindLineForm,
    CalibrationForm,
    PlanForm,
)
from auditcoach.overreads.models import CalibrationSet, Overread, OverreadLine, OverreadPlan

GROUPS = (("DX", "Diagnoses"), ("PX", "Procedures"), ("LINE", "Service lines"))


def _plan(request: OrgRequest, plan_id: UUID) -> OverreadPlan:
    try:
        return selectors.plan_get(request.organization, plan_id)
    except OverreadPlan.DoesNotExist as exc:
        raise Http404 from exc


def _overread(request: OrgRequest, overread_id: UUID) -> Overread:
    """The overread if this person may see it now (see the module docstring), else 404."""
    try:
        overread = selectors.overread_get(request.organization, overread_id)
    except Overread.DoesNotExist as exc:
        raise Http404 from exc
    user = request.user
    if overread.reviewer_id == user.pk:
        return overread
    if overread.done and (
        overread.first_auditor_id == user.pk or request.membership.role == Role.MANAGER
    ):
        return overread
    raise Http404


def _open_for_edit(request: OrgRequest, overread_id: UUID) -> Overread:
    overread = _overread(request, overread_id)
    if overread.reviewer_id != request.user.pk:
        raise Http404
    return overread


# --------------------------------------------------------------------------- plans


def _plans_page(request: OrgRequest, form: PlanForm, status: int = 200) -> HttpResponse:
    return render(
        request,
        "overreads/plans.html",
        {
            "plans": selectors.plans(request.organization),
            "form": form,
            "cycles": selectors.encounter_cycles(request.organization),
            "nav": "overread_plans",
        },
        status=status,
    )


@require_role(*MANAGE_ROLES)
@require_safe
def plan_list(request: OrgRequest, org_slug: str) -> HttpResponse:
    return _plans_page(request, PlanForm(organization=request.organization))


@require_role(*MANAGE_ROLES)
@require_POST
def plan_create(request: OrgRequest, org_slug: str) -> HttpResponseBase:
    form = PlanForm(request.POST, organization=request.organization)
    if not form.is_valid():
        return _plans_page(request, form, status=400)
    data = form.cleaned_data
    try:
        plan = services.overread_plan_create(
            organization=request.organization,
            auditor=data["auditor"],
            cycle=data["cycle"],
            share=data["share"],
            reviewer=data["reviewer"],
            seed=data["seed"],
            actor=request.user,
        )
    except services.OverreadError as exc:
        form.add_error(None, str(exc))
        return _plans_page(request, form, status=400)
    messages.success(
        request, f"Plan saved: {plan.share}% of {plan.auditor.display_name}'s {plan.cycle}."
    )
    return redirect("overreads:plans", org_slug=org_slug)


@require_role(*MANAGE_ROLES)
@require_POST
def plan_apply(request: OrgRequest, org_slug: str, plan_id: UUID) -> HttpResponseBase:
    plan = _plan(request, plan_id)
    try:
        created = services.overread_plan_apply(plan=plan, actor=request.user)
    except services.OverreadError as exc:
        messages.error(request, str(exc))
        return redirect("overreads:plans", org_slug=org_slug)
    if created:
        reviewers = sorted({o.reviewer.display_name for o in created})
        messages.success(
            request,
            f"Picked {len(created)} encounter{'s' if len(created) != 1 else ''} "
            f"for overread by {', '.join(reviewers)}.",
        )
    else:
        messages.info(request, "Nothing new to pick: the plan's share is already met.")
    return redirect("overreads:plans", org_slug=org_slug)


# --------------------------------------------------------------------------- my overreads


@require_role(*AUDIT_WRITE_ROLES)
@require_safe
def queue(request: OrgRequest, org_slug: str) -> HttpResponse:
    mine = list(selectors.overreads_of_reviewer(request.organization, request.user))
    return render(
        request,
        "overreads/queue.html",
        {
            "open": [o for o in mine if not o.done],
            "finished": [o for o in mine if o.done],
            "of_my_work": selectors.overreads_of_first_auditor(request.organization, request.user)[
                :200
            ],
            "nav": "overreads",
        },
    )


# --------------------------------------------------------------------------- blind review


def _line_rows(lines: list[CodeLine] | list[OverreadLine]) -> list[dict[str, Any]]:
    return [
        {
            "line": line,
            "code": display_code(line.system, line.code),
            "principal": line.group == "DX" and i == 0,
        }
        for group, _ in GROUPS
        for i, line in enumerate(
            sorted((x for x in lines if x.group == group), key=lambda x: x.seq)
        )
    ]


def _grouped(lines: list[CodeLine] | list[OverreadLine]) -> list[dict[str, Any]]:
    rows = _line_rows(lines)
    return [
        {"group": group, "label": label, "rows": [r for r in rows if r["line"].group == group]}
        for group, label in GROUPS
    ]


def _review_page(
    request: OrgRequest,
    overread: Overread,
    *,
    add_form: BlindLineForm | None = None,
    line_errors: dict[str, list[str]] | None = None,
    status: int = 200,
) -> HttpResponse:
    encounter = overread.encounter
    inpatient = encounter.setting == Encounter.Setting.INPATIENT
    context: dict[str, Any] = {
        "overread": overread,
        "encounter": encounter,
        "inpatient": inpatient,
        "original": _grouped(selectors.original_lines(overread)),
        "blind": _grouped(list(overread.lines.all())),
        "systems": CodeLine.System.choices,
        "poa_choices": [(v, POA_LABELS[v]) for v in POA_VALUES],
        "add_form": add_form,
        "line_errors": line_errors or {},
        "is_reviewer": overread.reviewer_id == request.user.pk,
        "nav": "overreads",
    }
    if overread.done and overread.plan_id is not None:
        # Only now, with both reviews finished, does anyone see the first auditor's version.
        first = selectors.encounter_audited_lines(overread)
        context["first"] = _grouped(first)
        context["first_em"] = services.em_level_of(first)
    return render(request, "overreads/review.html", context, status=status)


@require_role(*AUDIT_WRITE_ROLES)
@require_safe
def review(request: OrgRequest, org_slug: str, overread_id: UUID) -> HttpResponse:
    overread = _overread(request, overread_id)
    log_view(
        organization=request.organization,
        actor=request.user,
        action="overread.view",
        obj_type="overread",
        obj_id=overread.public_id,
        request=request,
    )
    return _review_page(request, overread)


def _review_url(overread: Overread) -> str:
    return reverse(
        "overreads:review",
        kwargs={"org_slug": overread.organization.slug, "overread_id": overread.public_id},
    )


def _edit(
    request: OrgRequest,
    overread_id: UUID,
    change: Callable[[list[services.BlindLine], Overread], list[services.BlindLine] | str],
) -> HttpResponseBase:
    """Load the blind version, apply `change` (a new list, or an error message), save it."""
    overread = _open_for_edit(request, overread_id)
    if overread.done:
        messages.error(request, "This overread is done; its review can no longer change.")
        return redirect(_review_url(overread))
    outcome = change(services.blind_lines(overread), overread)
    if isinstance(outcome, str):
        messages.error(request, outcome)
        return redirect(_review_url(overread))
    services.overread_lines_replace(overread=overread, lines=outcome, actor=request.user)
    return redirect(_review_url(overread))


def _index(lines: list[services.BlindLine], group: str, seq: int) -> int | None:
    """Position in `lines` of the seq-th line of `group` (lines are in group order)."""
    n = 0
    for i, line in enumerate(lines):
        if SYSTEM_GROUP[line.system] == group:
            n += 1
            if n == seq:
                return i
    return None


@require_role(*AUDIT_WRITE_ROLES)
@require_POST
def line_add(request: OrgRequest, org_slug: str, overread_id: UUID) -> HttpResponseBase:
    overread = _open_for_edit(request, overread_id)
    if overread.done:
        raise Http404
    form = BlindLineForm(
        request.POST, inpatient=overread.encounter.setting == Encounter.Setting.INPATIENT
    )
    if not form.is_valid():
        return _review_page(request, overread, add_form=form, status=400)
    new = form.blind_line()
    return _edit(request, overread_id, lambda lines, _: [*lines, new])


@require_role(*AUDIT_WRITE_ROLES)
@require_POST
def line_change(
    request: OrgRequest, org_slug: str, overread_id: UUID, group: str, seq: int
) -> HttpResponseBase:
    overread = _open_for_edit(request, overread_id)
    if overread.done:
        raise Http404
    form = BlindLineForm(
        request.POST, inpatient=overread.encounter.setting == Encounter.Setting.INPATIENT
    )
    if not form.is_valid():
        errors = [str(e) for errs in form.errors.values() for e in errs]
        return _review_page(request, overread, line_errors={f"{group}-{seq}": errors}, status=400)
    new = form.blind_line()

    def change(lines: list[services.BlindLine], _: Overread) -> list[services.BlindLine] | str:
        i = _index(lines, group, seq)
        if i is None:
            return "That line is no longer there."
        lines[i] = new
        return lines

    return _edit(request, overread_id, change)


@require_role(*AUDIT_WRITE_ROLES)
@require_POST
def line_remove(
    request: OrgRequest, org_slug: str, overread_id: UUID, group: str, seq: int
) -> HttpResponseBase:
    def change(lines: list[services.BlindLine], _: Overread) -> list[services.BlindLine] | str:
        i = _index(lines, group, seq)
        if i is None:
            return "That line is no longer there."
        del lines[i]
        return lines

    return _edit(request, overread_id, change)


@require_role(*AUDIT_WRITE_ROLES)
@require_POST
def line_top(
    request: OrgRequest, org_slug: str, overread_id: UUID, group: str, seq: int
) -> HttpResponseBase:
    """Move a line first in its group (for DX: make it the principal diagnosis)."""

    def change(lines: list[services.BlindLine], _: Overread) -> list[services.BlindLine] | str:
        i = _index(lines, group, seq)
        if i is None:
            return "That line is no longer there."
        first = _index(lines, group, 1)
        assert first is not None
        lines.insert(first, lines.pop(i))
        return lines

    return _edit(request, overread_id, change)


@require_role(*AUDIT_WRITE_ROLES)
@require_POST
def complete(request: OrgRequest, org_slug: str, overread_id: UUID) -> HttpResponseBase:
    overread = _open_for_edit(request, overread_id)
    if overread.done:
        return redirect(_review_url(overread))
    form = BlindDispositionForm(request.POST)
    if not form.is_valid():
        for errors in form.errors.values():
            for e in errors:
                messages.error(request, str(e))
        return redirect(_review_url(overread))
    overread = services.overread_complete(
        overread=overread,
        actor=request.user,
        audited_disposition=form.cleaned_data["audited_disposition"],
    )
    messages.success(request, f"Overread of {overread.encounter.external_id} done.")
    return redirect(_review_url(overread))


# --------------------------------------------------------------------------- consistency


def _pct(value: float | None) -> str:
    return "—" if value is None else f"{value * 100:.1f}%"


def _coef(value: float | None) -> str:
    """A kappa or alpha to 3 decimals, with a true minus sign; — when undefined."""
    if value is None:
        return "—"
    text = f"{value:.3f}"
    return "0.000" if text == "-0.000" else text.replace("-", "−")


def consistency_line(label: str, c: Consistency) -> dict[str, str | int]:
    """One table row of the consistency page, formatted as shown."""
    ci = c.code_agreement.interval
    return {
        "label": label,
        "overreads": c.overreads,
        "agreement": _pct(c.code_agreement.value),
        "counts": f"{c.code_agreement.successes}/{c.code_agreement.n}",
        "interval": "—" if ci is None else f"{ci[0] * 100:.1f}–{ci[1] * 100:.1f}%",
        "drg_kappa": _coef(c.drg_kappa),
        "findings_kappa": _coef(c.findings_kappa),
        "em_weighted_kappa": _coef(c.em_weighted_kappa),
        "em_alpha": _coef(c.em_alpha),
    }


@require_role(*MANAGE_ROLES)
@require_safe
def consistency_view(request: OrgRequest, org_slug: str) -> HttpResponse:
    cycle = request.GET.get("cycle", "").strip()
    report = selectors.consistency_report(request.organization, cycle=cycle)
    return render(
        request,
        "overreads/consistency.html",
        {
            "overall_rows": [consistency_line("All overreads", report.overall)],
            "by_auditor": [consistency_line(k, v) for k, v in report.by_auditor.items()],
            "by_topic": [
                consistency_line(k or "(no topic)", v) for k, v in report.by_topic.items()
            ],
            "cycle": cycle,
            "cycles": selectors.cycles(request.organization),
            "nav": "overread_consistency",
        },
    )


# --------------------------------------------------------------------------- calibration


def _calibration_page(
    request: OrgRequest, form: CalibrationForm, status: int = 200
) -> HttpResponse:
    return render(
        request,
        "overreads/calibration_list.html",
        {
            "sets": selectors.calibration_sets(request.organization),
            "form": form,
            "nav": "overread_calibration",
        },
        status=status,
    )


@require_role(*MANAGE_ROLES)
@require_safe
def calibration_list(request: OrgRequest, org_slug: str) -> HttpResponse:
    return _calibration_page(request, CalibrationForm(organization=request.organization))


@require_role(*MANAGE_ROLES)
@require_POST
def calibration_create(request: OrgRequest, org_slug: str) -> HttpResponseBase:
    form = CalibrationForm(request.POST, organization=request.organization)
    if not form.is_valid():
        return _calibration_page(request, form, status=400)
    data = form.cleaned_data
    try:
        cset = services.calibration_set_create(
            organization=request.organization,
            name=data["name"],
            encounters=data["encounters"],
            auditors=data["auditors"],
            actor=request.user,
        )
    except services.OverreadError as exc:
        form.add_error(None, str(exc))
        return _calibration_page(request, form, status=400)
    messages.success(request, f"Calibration set “{cset.name}” sent to its auditors.")
    return redirect("overreads:calibration_detail", org_slug=org_slug, set_id=cset.public_id)


@require_role(*MANAGE_ROLES)
@require_safe
def calibration_detail(request: OrgRequest, org_slug: str, set_id: UUID) -> HttpResponse:
    try:
        cset = selectors.calibration_get(request.organization, set_id)
    except CalibrationSet.DoesNotExist as exc:
        raise Http404 from exc
    report = selectors.calibration_report(cset)
    rows = [
        {
            "encounter": e,
            "cells": [report.cells.get(e.pk, {}).get(u.pk) for u in report.auditors],
        }
        for e in report.encounters
    ]
    return render(
        request,
        "overreads/calibration_detail.html",
        {
            "cset": cset,
            "report": report,
            "rows": rows,
            "drg_alpha": _coef(report.drg_alpha),
            "findings_alpha": _coef(report.findings_alpha),
            "em_alpha": _coef(report.em_alpha),
            "nav": "overread_calibration",
        },
    )
