"""Analytics screens: the dashboard and the drill-down behind every chart mark.

Coders never see these (they see their own scorecard); managers, auditors, educators and
viewers do. Every number is computed by `analytics.selectors` from the released encounters
of the organization within the filter bar's slice.
"""

from __future__ import annotations

from typing import Final
from uuid import UUID

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import Http404, HttpResponse, QueryDict
from django.http.response import HttpResponseBase
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_POST, require_safe

from auditcoach.accounts.models import Role
from auditcoach.accounts.permissions import ANALYTICS_ROLES, OrgRequest, has_role, require_role
from auditcoach.analytics import dashboard, selectors, services
from auditcoach.analytics import exports as analytics_exports
from auditcoach.analytics.forms import FILTER_FIELDS, FilterForm, filter_query
from auditcoach.analytics.models import DashboardView
from auditcoach.audits.models import Finding, RootCause
from auditcoach.coaching.views import code_text
from auditcoach.exports import export_control, export_format, export_response, in_chunks

FINDINGS_PER_PAGE: Final = 50
DRILL_TEXT = ("cycle", "pattern", "topic", "kind", "group", "root_cause")
DRILL_FLAGS = ("repeat", "disputed", "overturned")


def filter_form(request: OrgRequest) -> FilterForm:
    return FilterForm(request.GET or None, organization=request.organization)


def _drill(request: OrgRequest) -> selectors.Drill:
    def text(name: str) -> str:
        return request.GET.get(name, "")[:60]

    def flag(name: str) -> bool:
        return request.GET.get(name) == "1"

    return selectors.Drill(
        cycle=text("cycle"),
        pattern=text("pattern"),
        topic=text("topic"),
        kind=text("kind"),
        group=text("group"),
        root_cause=text("root_cause"),
        repeat=flag("repeat"),
        disputed=flag("disputed"),
        overturned=flag("overturned"),
    )


def _describe(drill: selectors.Drill) -> list[str]:
    """The drill-down's constraints in words, for the page's heading."""
    words = []
    if drill.cycle:
        words.append(f"cycle {drill.cycle}")
    if drill.pattern:
        words.append(f"pattern {drill.pattern}")
    if drill.topic:
        words.append(f"topic {drill.topic}")
    if drill.kind:
        words.append(f"kind {drill.kind}")
    if drill.group:
        words.append(f"group {drill.group}")
    if drill.root_cause:
        label = dict(RootCause.choices).get(drill.root_cause, drill.root_cause)
        words.append(f"root cause {label}")
    if drill.repeat:
        words.append("repeat findings")
    if drill.disputed:
        words.append("disputed")
    if drill.overturned:
        words.append("overturned")
    return words


def _with_codes(rows: list[Finding]) -> list[Finding]:
    """The findings with their codes as coders write them (the page's and the export's)."""
    for f in rows:
        f.original_text = code_text(f.group, f.original_code)  # type: ignore[attr-defined]
        f.audited_text = code_text(f.group, f.audited_code)  # type: ignore[attr-defined]
    return rows


@require_role(*ANALYTICS_ROLES)
@require_safe
def findings(request: OrgRequest, org_slug: str) -> HttpResponseBase:
    """The findings behind a chart mark: the dashboard's filters plus the mark's own."""
    form = filter_form(request)
    filters = form.metric_filters()
    drill = _drill(request)
    qs = selectors.drill_findings(organization=request.organization, filters=filters, drill=drill)
    if export_format(request):
        return export_response(
            request,
            list_name="findings",
            title="Findings",
            columns=analytics_exports.FINDING_COLUMNS,
            rows=in_chunks(qs, _with_codes),
            count=qs.count(),
        )
    page = Paginator(qs, FINDINGS_PER_PAGE).get_page(request.GET.get("page"))
    rows = _with_codes(list(page.object_list))
    extra = {name: getattr(drill, name) for name in DRILL_TEXT}
    extra |= {name: "1" for name in DRILL_FLAGS if getattr(drill, name)}
    context = {
        "nav": "analytics",
        "form": form,
        "rows": rows,
        "page": page,
        "query": filter_query(filters, **extra),
        "dashboard_query": filter_query(filters),
        "described": _describe(drill),
        "export": export_control(request),
    }
    return render(request, "analytics/findings.html", context)


# --------------------------------------------------------------------------- dashboard


def _view_get(request: OrgRequest, public_id: str) -> DashboardView:
    try:
        return selectors.dashboard_views(organization=request.organization, user=request.user).get(
            public_id=UUID(public_id)
        )
    except (ValueError, DashboardView.DoesNotExist) as exc:
        raise Http404("No such dashboard view") from exc


@require_role(*ANALYTICS_ROLES)
@require_safe
def dashboard_page(request: OrgRequest, org_slug: str) -> HttpResponse:
    """The organization's dashboard, or a saved view of it (`?view=`). The filter bar's
    values win over the saved view's filters."""
    organization = request.organization
    view = _view_get(request, request.GET["view"]) if request.GET.get("view") else None
    data: QueryDict = request.GET
    if view is not None and not any(request.GET.get(name) for name in FILTER_FIELDS):
        data = QueryDict(mutable=True)
        data.update(view.filters)
    form = FilterForm(data or None, organization=organization)
    filters = form.metric_filters()
    keys = list(view.widgets) if view is not None else list(dashboard.DEFAULT_WIDGETS)
    ctx = dashboard.Context(organization=organization, filters=filters, now=timezone.now())
    context = {
        "nav": "analytics",
        "form": form,
        "keep": [("view", str(view.public_id))] if view is not None else [],
        "widgets": dashboard.build(keys, ctx),
        "view": view,
        "views": list(selectors.dashboard_views(organization=organization, user=request.user)),
        "catalog": [
            {
                "key": key,
                "title": title,
                "on": key in keys,
                "position": keys.index(key) + 1 if key in keys else "",
            }
            for key, (title, _) in dashboard.WIDGETS.items()
        ],
        "can_save": has_role(request.membership, VIEW_WRITE_ROLES),
        "filter_values": [
            (name, getattr(filters, name)) for name in FILTER_FIELDS if getattr(filters, name)
        ],
        "query": filter_query(filters),
    }
    return render(request, "analytics/dashboard.html", context)


def _ordered_widgets(request: OrgRequest) -> list[str]:
    """The ticked widgets, ordered by their position boxes (then the catalogue's order)."""
    ticked = request.POST.getlist("widgets")
    order = list(dashboard.WIDGETS)

    def position(key: str) -> tuple[int, int]:
        raw = request.POST.get(f"position_{key}", "")
        return (int(raw) if raw.isdigit() else 999, order.index(key) if key in order else 999)

    return sorted(ticked, key=position)


VIEW_WRITE_ROLES: Final = tuple(r for r in ANALYTICS_ROLES if r != Role.VIEWER)
"""Who may save dashboard views: everyone who reads analytics except viewers, who write
nothing; they open shared views."""


@require_role(*VIEW_WRITE_ROLES)
@require_POST
def dashboard_save(request: OrgRequest, org_slug: str) -> HttpResponseBase:
    """Save the arrangement as a new view, or update the open one (its owner only)."""
    organization = request.organization
    view = None
    if request.POST.get("view") and request.POST.get("save_as") != "new":
        view = _view_get(request, request.POST["view"])
    filters = {name: request.POST.get(name, "") for name in FILTER_FIELDS}
    base = reverse("analytics:dashboard", kwargs={"org_slug": org_slug})
    try:
        saved = services.dashboard_view_save(
            organization=organization,
            owner=request.user,
            name=request.POST.get("name", ""),
            widgets=_ordered_widgets(request),
            filters=filters,
            shared=request.POST.get("shared") == "1",
            view=view,
        )
    except services.DashboardViewError as exc:
        messages.error(request, str(exc))
        return redirect(f"{base}?view={view.public_id}" if view else base)
    messages.success(request, f"Saved the view “{saved.name}”.")
    return redirect(f"{base}?view={saved.public_id}")


@require_role(*VIEW_WRITE_ROLES)
@require_POST
def dashboard_delete(request: OrgRequest, org_slug: str, view_id: UUID) -> HttpResponseBase:
    view = _view_get(request, str(view_id))
    base = reverse("analytics:dashboard", kwargs={"org_slug": org_slug})
    try:
        services.dashboard_view_delete(view=view, actor=request.user)
    except services.DashboardViewError as exc:
        messages.error(request, str(exc))
        return redirect(f"{base}?view={view.public_id}")
    messages.success(request, f"Deleted the view “{view.name}”.")
    return redirect(base)


@require_role(*ANALYTICS_ROLES)
@require_safe
def encounters(request: OrgRequest, org_slug: str) -> HttpResponseBase:
    """The released encounters behind a count (the filters, and a cycle)."""
    form = filter_form(request)
    filters = form.metric_filters()
    cycle = request.GET.get("cycle", "")[:60]
    qs = selectors.released_encounters(organization=request.organization, filters=filters)
    if cycle:
        qs = qs.filter(cycle=cycle)
    qs = qs.select_related("coder__user", "audit", "provider", "facility").order_by(
        "-cycle", "external_id"
    )
    if export_format(request):
        return export_response(
            request,
            list_name="encounters",
            title="Encounters",
            columns=analytics_exports.ENCOUNTER_COLUMNS,
            rows=in_chunks(qs),
            count=qs.count(),
        )
    page = Paginator(qs, FINDINGS_PER_PAGE).get_page(request.GET.get("page"))
    context = {
        "nav": "analytics",
        "rows": list(page.object_list),
        "page": page,
        "cycle": cycle,
        "query": filter_query(filters, cycle=cycle),
        "dashboard_query": filter_query(filters),
        "export": export_control(request),
    }
    return render(request, "analytics/encounters.html", context)
