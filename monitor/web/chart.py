"""Weekly counts as a server-rendered SVG: one row of bars per series, spikes marked.

Reads: counts per week. Writes: nothing; returns SVG markup (every label escaped).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date
from statistics import median

from monitor.web.html import Html, join, render

ROW = 34  # px per series
LABEL = 170  # px for the series' name
BAR_AREA = 520


def is_spike(count: int, others: Sequence[int]) -> bool:
    """A week with at least three articles and twice the usual week's (the median of the rest)."""
    usual = median(others) if others else 0
    return count >= 3 and count >= 2 * max(usual, 1)


def weekly_bars(
    title: str,
    weeks: Sequence[date],
    series: Mapping[str, Mapping[date, int]],
    labels: Mapping[str, str],
) -> Html:
    """An SVG with a row per series (busiest first), a bar per week, the row's total at its end."""
    order = sorted(series, key=lambda k: (-sum(series[k].values()), k))
    width = LABEL + BAR_AREA + 60
    height = ROW * max(len(order), 1) + 24
    step = BAR_AREA / max(len(weeks), 1)
    rows: list[Html] = []
    for i, key in enumerate(order):
        counts = [series[key].get(w, 0) for w in weeks]
        top = max(counts) or 1
        y = 8 + i * ROW
        bars = []
        for j, (week, count) in enumerate(zip(weeks, counts, strict=True)):
            h = round((ROW - 10) * count / top, 1)
            others = counts[:j] + counts[j + 1 :]
            bars.append(
                render(
                    '<rect class="{cls}" x="{x}" y="{y}" width="{w}" height="{h}" '
                    'data-week="{week}" data-count="{count}">'
                    "<title>{label}, week of {week}: {count}</title></rect>",
                    cls="bar spike" if is_spike(count, others) else "bar",
                    x=round(LABEL + j * step + 1, 1),
                    y=round(y + ROW - 10 - h, 1),
                    w=round(max(step - 2, 1), 1),
                    h=max(h, 0.5) if count else 0,
                    week=week.isoformat(),
                    count=count,
                    label=labels.get(key, key),
                )
            )
        rows.append(
            render(
                '<g class="series" data-series="{key}">'
                '<text x="0" y="{ty}" class="label">{label}</text>{bars}'
                '<text x="{tx}" y="{ty}" class="total">{total}</text></g>',
                key=key,
                label=labels.get(key, key),
                ty=y + ROW / 2,
                tx=LABEL + BAR_AREA + 8,
                bars=join(bars),
                total=sum(counts),
            )
        )
    axis = ""
    if weeks:
        axis = render(
            '<text x="{x0}" y="{y}" class="axis">{first}</text>'
            '<text x="{x1}" y="{y}" class="axis end">{last}</text>',
            x0=LABEL,
            x1=LABEL + BAR_AREA,
            y=height - 4,
            first=weeks[0].isoformat(),
            last=weeks[-1].isoformat(),
        )
    return render(
        '<svg class="chart" viewBox="0 0 {w} {h}" role="img" aria-label="{title}" '
        'xmlns="http://www.w3.org/2000/svg"><title>{title}</title>{rows}{axis}</svg>',
        w=width,
        h=height,
        title=title,
        rows=join(rows) if rows else render('<text x="0" y="20">No articles in this period</text>'),
        axis=axis,
    )
