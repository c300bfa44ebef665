"""People screens of analytics: the coders list, a coder's scorecard (and a coder's own,
`me/`), and the documentation-patterns (CDI) report.

Views parse the filters, authorize, call one builder (`analytics.scorecard`,
`analytics.documentation`) and turn its numbers into server-drawn charts whose every mark
links to the findings behind it (`analytics:findings`; for a coder looking at their own
scorecard, My feedback, since the drill-down is not theirs to open).
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any, Final
from urllib.parse import urlencode
from uuid import UUID

from django.http import Http404, HttpResponse
from django.http.response import HttpResponseBase
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.utils.safestring import SafeString
from django.views.decorators.http import require_safe

from auditcoach.accounts.models import Coder, Role
from auditcoach.accounts.permissions import (
    ANALYTICS_ROLES,
    READ_ROLES,
    RESPOND_ROLES,
    OrgRequest,
    require_role,
)
from auditcoach.accounts.selectors import coder_for_user
from auditcoach.analytics import charts
from auditcoach.analytics import exports as analytics_exports
from auditcoach.analytics.documentation import DOCUMENTATION, documentation_report
from auditcoach.analytics.forms import FilterForm, filter_query
from auditcoach.analytics.scorecard import (
    PatternRow,
    Scorecard,
    Trend,
    coder_scorecard,
    coder_summaries,
)
from auditcoach.analytics.selectors import MetricFilters
from auditcoach.audits.views import ScoreCell
from auditcoach.engine.stats import Proportion
from auditcoach.exports import export_control, export_format, export_response
from auditcoach.library.selectors import topic_labels

TREND_MARKS: Final = {  # arrow and tone; the words are the Trend's own (scorecard.TREND_WORDS)
    "better": ("↓", "good"),
    "worse": ("↑", "bad"),
    "new": ("↑", "bad"),
    "same": ("→", ""),
    "": ("", "muted"),
}


def _trend(t: Trend) -> dict[str, Any]:
    arrow, tone = TREND_MARKS[t.direction]
    return {
        "arrow": arrow,
        "word": t.word,
        "tone": tone,
        "significant": t.significant,
        "latest": ScoreCell(t.latest),
        "before": ScoreCell(t.before),
        "p_value": t.test.p_value if t.test else None,
    }


def _pct(p: Proportion) -> str:
    return "—" if not p.n else charts.percent(p.successes / p.n)


class Links:
    """Where a mark of a page leads: the analytics drill-down with the page's filters plus
    the mark's own, or (a coder on their own scorecard) My feedback."""

    def __init__(self, request: OrgRequest, filters: MetricFilters, *, own: bool = False):
        self.own = own
        self.filters = filters
        slug = request.organization.slug
        self.base = reverse(
            "coaching:feedback" if own else "analytics:findings", kwargs={"org_slug": slug}
        )

    def __call__(self, filters: MetricFilters | None = None, /, **extra: str) -> str:
        if self.own:
            pattern = extra.get("pattern", "")
            return f"{self.base}?{urlencode({'show': 'all', 'pattern': pattern} if pattern else {'show': 'all'})}"
        return f"{self.base}?{filter_query(filters or self.filters, **extra)}"


# --------------------------------------------------------------------------- coders


@require_role(*ANALYTICS_ROLES)
@require_safe
def coders(request: OrgRequest, org_slug: str) -> HttpResponseBase:
    """Every coder on one line: accuracy (pooled and latest cycle), repeats, trend,
    education; each links to the coder's scorecard."""
    form = FilterForm(request.GET or None, organization=request.organization)
    filters = form.metric_filters()
    link = Links(request, filters)
    summaries = coder_summaries(
        organization=request.organization, today=timezone.localdate(), filters=filters
    )
    rows = []
    for s in summaries:
        rows.append(
            {
                "s": s,
                "href": reverse(
                    "analytics:scorecard",
                    kwargs={"org_slug": org_slug, "coder_id": s.coder.public_id},
                ),
                "latest_href": link(replace(filters, coder=s.coder.name), cycle=s.latest_cycle),
                "repeat_href": link(
                    replace(filters, coder=s.coder.name), cycle=s.latest_cycle, repeat="1"
                ),
                "spark": charts.sparkline(
                    s.accuracy_series, label=f"{s.coder.label}: code accuracy by cycle"
                ),
                "accuracy": ScoreCell(s.accuracy),
                "latest": ScoreCell(s.latest_accuracy),
                "repeat": ScoreCell(s.latest_repeat_rate),
            }
        )
    if export_format(request):
        return export_response(
            request,
            list_name="coders",
            title="Coders",
            columns=analytics_exports.CODER_COLUMNS,
            rows=summaries,
            count=len(rows),
        )
    context = {
        "nav": "coders",
        "form": form,
        "rows": rows,
        "filtered": filters != MetricFilters(),
        "export": export_control(request),
    }
    return render(request, "analytics/coders.html", context)


# --------------------------------------------------------------------------- scorecard


def _accuracy_chart(card: Scorecard, link: Links, attr: str, label: str) -> SafeString:
    points = []
    for c in card.cycles:
        p: Proportion = getattr(c, attr)
        low_high = p.interval
        points.append(
            charts.Point(
                label=c.cycle,
                value=p.value,
                low=low_high[0] if low_high else None,
                high=low_high[1] if low_high else None,
                href=link(cycle=c.cycle),
                detail=f"{p.successes} of {p.n} audited codes right; {c.encounters} encounters",
            )
        )
    lows = [pt.low for pt in points if pt.low is not None]
    y_min = max(0.0, min(0.9, int(min(lows, default=0.0) * 10) / 10))
    return charts.line_chart(points, label=label, y_min=y_min, y_max=1.0)


def _p_chart(card: Scorecard, link: Links) -> SafeString:
    points = [
        charts.Point(
            label=c.cycle,
            value=c.chart.p if c.chart else None,
            ucl=c.chart.ucl if c.chart else None,
            lcl=c.chart.lcl if c.chart else None,
            signal=bool(c.chart and c.chart.signal),
            href=link(cycle=c.cycle),
            detail=(
                f"{c.chart.code_errors} errors in {c.chart.audited_codes} audited codes"
                if c.chart
                else ""
            ),
        )
        for c in card.cycles
    ]
    return charts.line_chart(
        points, label="p-chart: code errors per audited code", center=card.center
    )


def _pattern_rows(rows: list[PatternRow], card: Scorecard, link: Links, field: str) -> list[Any]:
    out = []
    for p in rows:
        out.append(
            {
                "key": p.key,
                "total": p.total,
                "href": link(**{field: p.key}),
                "cells": [
                    (n, link(cycle=c.cycle, **{field: p.key}) if n else "")
                    for n, c in zip(p.counts, card.cycles, strict=True)
                ],
                "spark": charts.sparkline(
                    [i.value for i in p.incidence], label=f"{p.key}: incidence by cycle"
                ),
                "trend": _trend(p.trend),
            }
        )
    return out


def _scorecard_context(request: OrgRequest, card: Scorecard, *, own: bool) -> dict[str, Any]:
    link = Links(request, card.filters, own=own)
    repeat_bars = [
        charts.Bar(
            label=c.cycle,
            value=c.repeat_rate.value or 0.0,
            href=link(cycle=c.cycle, repeat="1"),
            detail=f"{c.repeats} of {c.findings} findings repeat one of the 2 cycles before",
            tone="bad" if c.repeats else "muted",
        )
        for c in card.cycles
    ]
    return {
        "topic_labels": topic_labels(organization=request.organization),
        "card": card,
        "own": own,
        "accuracy_chart": _accuracy_chart(
            card, link, "code_accuracy", "Code accuracy by cycle (DX, PX and lines)"
        ),
        "dx_chart": _accuracy_chart(card, link, "dx_accuracy", "DX code accuracy by cycle"),
        "p_chart": _p_chart(card, link),
        "p_legend": charts.legend(
            [
                ("chart-center", "centre p̄"),
                ("chart-limit", "control limits"),
                ("is-signal", "signal"),
            ]
        ),
        "repeat_chart": charts.bar_chart(
            repeat_bars, label="Repeat-finding rate by cycle", label_width=90, max_value=1.0
        ),
        "cycle_rows": [
            {
                "c": c,
                "href": link(cycle=c.cycle),
                "repeat_href": link(cycle=c.cycle, repeat="1"),
                "code": ScoreCell(c.code_accuracy),
                "dx": ScoreCell(c.dx_accuracy),
                "record": ScoreCell(c.record_accuracy),
                "repeat": ScoreCell(c.repeat_rate),
            }
            for c in card.cycles
        ],
        "patterns": _pattern_rows(card.patterns, card, link, "pattern"),
        "topics": _pattern_rows(card.topics, card, link, "topic"),
        "strengths": [
            {"s": s, "href": link(pattern=s.pattern) if s.pattern else ""} for s in card.strengths
        ],
        "score_rows": [
            {
                "title": t[0].upper() + t[1:],
                "mine": ScoreCell(m),
                "theirs": ScoreCell(o),
                "at_or_above": m.n > 0 and o.n > 0 and m.successes * o.n >= o.successes * m.n,
            }
            for t, m, o in card.compared()
        ],
    }


@require_role(*READ_ROLES)
@require_safe
def scorecard(request: OrgRequest, org_slug: str, coder_id: UUID) -> HttpResponseBase:
    """One coder's scorecard, for the analytics roles. A coder gets a 404 for any coder
    (their own included: theirs is at `me/`), as for any object they may not see."""
    if request.membership.role == Role.CODER:
        raise Http404("No such coder")
    coder = (
        Coder.objects.filter(organization=request.organization, public_id=coder_id)
        .select_related("user")
        .first()
    )
    if coder is None:
        raise Http404("No such coder")
    card = coder_scorecard(
        organization=request.organization, coder=coder, today=timezone.localdate()
    )
    if export_format(request):
        lines = analytics_exports.pattern_lines(
            card, topic_labels(organization=request.organization)
        )
        return export_response(
            request,
            list_name=f"patterns-{coder.name}",
            title="Top patterns",
            columns=analytics_exports.pattern_columns(card),
            rows=lines,
            count=len(lines),
            obj_type="coder",
            obj_id=str(coder.public_id),
        )
    context = {
        "nav": "coders",
        **_scorecard_context(request, card, own=False),
        "export": export_control(request),
    }
    return render(request, "analytics/scorecard.html", context)


@require_role(*RESPOND_ROLES)
@require_safe
def my_scorecard(request: OrgRequest, org_slug: str) -> HttpResponse:
    """The signed-in coder's own scorecard; a login not linked to a roster entry sees a
    message instead."""
    coder = coder_for_user(organization=request.organization, user=request.user)
    if coder is None:
        return render(request, "analytics/scorecard.html", {"nav": "my_scorecard", "own": True})
    card = coder_scorecard(
        organization=request.organization, coder=coder, today=timezone.localdate()
    )
    context = {"nav": "my_scorecard", **_scorecard_context(request, card, own=True)}
    return render(request, "analytics/scorecard.html", context)


# --------------------------------------------------------------------------- documentation


@require_role(*ANALYTICS_ROLES)
@require_safe
def documentation(request: OrgRequest, org_slug: str) -> HttpResponseBase:
    """Documentation patterns for CDI: providers and topics of DOCUMENTATION findings."""
    form = FilterForm(request.GET or None, organization=request.organization)
    filters = form.metric_filters()
    report = documentation_report(organization=request.organization, filters=filters)
    if export_format(request):
        doc_lines = analytics_exports.doc_lines(
            report, topic_labels(organization=request.organization)
        )
        return export_response(
            request,
            list_name="documentation",
            title="Documentation",
            columns=analytics_exports.doc_columns(report),
            rows=doc_lines,
            count=len(doc_lines),
        )
    link = Links(request, filters)

    def href(provider: str | None = "", topic: str = "", cycle: str = "") -> str:
        if provider is None:  # encounters without a provider: no filter can single them out
            return ""
        f = replace(filters, provider=provider) if provider else filters
        return link(f, root_cause=DOCUMENTATION, topic=topic, cycle=cycle)

    points = []
    for c in report.cycles:
        interval = c.incidence.interval
        points.append(
            charts.Point(
                label=c.cycle,
                value=c.incidence.value,
                low=interval[0] if interval else None,
                high=interval[1] if interval else None,
                href=href(cycle=c.cycle),
                detail=(
                    f"{c.incidence.successes} of {c.incidence.n} encounters; "
                    f"{c.findings} documentation findings"
                ),
            )
        )
    provider_bars = [
        charts.Bar(
            label=p.provider or "(no provider)",
            value=p.findings,
            href=href(p.provider),
            detail=f"{_pct(p.share)} of the provider's {p.all_findings} findings",
            tone="warn",
        )
        for p in report.providers[:15]
    ]
    providers = [
        {
            "p": p,
            "share": ScoreCell(p.share),
            "rate": ScoreCell(p.rate),
            "href": href(p.provider),
            "cells": [
                (n, href(p.provider, cycle=c.cycle) if n else "")
                for n, c in zip(p.counts, report.cycles, strict=True)
            ],
            "spark": charts.sparkline(
                [i.value for i in p.incidence], label=f"{p.provider}: incidence by cycle"
            ),
            "trend": _trend(p.trend),
        }
        for p in report.providers
    ]
    topics = [
        {
            "t": t,
            "share": ScoreCell(t.share),
            "href": href(topic=t.topic) if t.topic else "",
            "cells": [
                (n, href(topic=t.topic, cycle=c.cycle) if n and t.topic else "")
                for n, c in zip(t.counts, report.cycles, strict=True)
            ],
            "spark": charts.sparkline(
                [i.value for i in t.incidence], label=f"{t.topic}: incidence by cycle"
            ),
            "trend": _trend(t.trend),
        }
        for t in report.topics
    ]
    matrix = [
        {
            "provider": provider,
            "href": href(provider),
            "cells": [
                (n, href(provider, topic=t) if n and t else "")
                for n, t in zip(counts, report.matrix_topics, strict=True)
            ],
        }
        for provider, counts in report.matrix
    ]
    context = {
        "nav": "documentation",
        "form": form,
        "filtered": filters != MetricFilters(),
        "report": report,
        "share": ScoreCell(report.share),
        "cycle_rows": [
            {"c": c, "rate": ScoreCell(c.incidence), "href": href(cycle=c.cycle)}
            for c in report.cycles
        ],
        "all_href": href(),
        "trend": _trend(report.trend),
        "trend_chart": charts.line_chart(
            points, label="Encounters with a documentation finding, by cycle"
        ),
        "provider_chart": charts.bar_chart(
            provider_bars, label="Documentation findings by provider", fmt=lambda v: f"{v:.0f}"
        ),
        "providers": providers,
        "topics": topics,
        "matrix": matrix,
        "topic_labels": topic_labels(organization=request.organization),
        "export": export_control(request),
    }
    return render(request, "analytics/documentation.html", context)
