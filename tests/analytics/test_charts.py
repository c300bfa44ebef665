"""The SVG charts: well-formed, every mark a link with its tooltip, marks inside the plot."""

import xml.etree.ElementTree as ET

from hypothesis import given
from hypothesis import strategies as st

from auditcoach.analytics.charts import Bar, Point, bar_chart, line_chart, sparkline

SVG = "{http://www.w3.org/2000/svg}"


def parse(markup: str) -> ET.Element:
    # The markup has no xmlns (inline SVG in HTML); add it to parse as XML.
    return ET.fromstring(markup.replace("<svg ", f'<svg xmlns="{SVG[1:-1]}" ', 1))


def test_bars_link_to_what_is_behind_them_and_scale_to_the_largest() -> None:
    svg = bar_chart(
        [
            Bar("ADDED:DX:I50", 12, href="/f?p=ADDED:DX:I50", detail="12 findings"),
            Bar("REVISED:DX:E11", 6, href="/f?p=REVISED:DX:E11"),
            Bar("<script>", 3),
        ],
        label="Top patterns",
        fmt=lambda v: f"{v:.0f}",
    )
    root = parse(svg)
    links = root.findall(f"{SVG}a")
    assert [a.get("href") for a in links] == ["/f?p=ADDED:DX:I50", "/f?p=REVISED:DX:E11"]
    assert links[0].find(f"{SVG}title").text == "ADDED:DX:I50: 12 — 12 findings"  # type: ignore[union-attr]
    widths = [
        float(r.get("width", 0))
        for r in root.iter(f"{SVG}rect")
        if "chart-bar" in (r.get("class") or "")
    ]
    assert widths[0] == 2 * widths[1] == 4 * widths[2]  # proportional to 12, 6, 3
    assert "<script>" not in svg  # labels are escaped
    assert "&lt;script&gt;" in svg


def test_line_chart_marks_signals_limits_centre_and_gaps() -> None:
    points = [
        Point("2026-Q1", 0.10, low=0.05, high=0.15, href="/c/1", ucl=0.2, lcl=0.0),
        Point("2026-Q2", None),
        Point("2026-Q3", 0.30, href="/c/3", signal=True, ucl=0.25, lcl=0.0),
        Point("2026-Q4", 0.12, href="/c/4", ucl=0.22, lcl=0.01),
    ]
    root = parse(line_chart(points, label="p-chart", center=0.15))
    assert [a.get("href") for a in root.findall(f"{SVG}a")] == ["/c/1", "/c/3", "/c/4"]
    signals = [c for c in root.iter(f"{SVG}circle") if "is-signal" in (c.get("class") or "")]
    assert len(signals) == 1
    titles = [t.text for t in root.iter(f"{SVG}title")]
    assert "2026-Q3: 30.0% — signal" in titles
    assert "2026-Q1: 10.0% (95% CI 5.0%–15.0%)" in titles
    limits = [line for line in root.iter(f"{SVG}line") if line.get("class") == "chart-limit"]
    assert len(limits) == 6  # ucl and lcl for the three points that have them
    assert (
        len([line for line in root.iter(f"{SVG}line") if line.get("class") == "chart-center"]) == 1
    )
    # The gap at Q2 breaks the line: no segment joins Q1 to Q3.
    assert len(root.findall(f"{SVG}polyline")) == 1


@given(
    st.lists(
        st.one_of(st.none(), st.floats(min_value=0, max_value=1, allow_nan=False)),
        min_size=1,
        max_size=30,
    )
)
def test_every_point_lies_inside_the_plot(values: list[float | None]) -> None:
    root = parse(line_chart([Point(str(i), v) for i, v in enumerate(values)], label="x"))
    _, _, width, height = (float(v) for v in root.get("viewBox", "").split())
    for c in root.iter(f"{SVG}circle"):
        assert 0 <= float(c.get("cx", -1)) <= width
        assert 0 <= float(c.get("cy", -1)) <= height


def test_empty_inputs_draw_nothing() -> None:
    assert bar_chart([], label="x") == ""
    assert line_chart([], label="x") == ""
    assert sparkline([None, 0.5], label="x") == ""
    assert "polyline" in sparkline([0.1, None, 0.3], label="trend")
