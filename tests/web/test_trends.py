"""Trends: articles per sector and per outlet each week, as numbers (API) and as the chart an
analyst looks at, where a spike stands out."""

from __future__ import annotations

import json
from datetime import timedelta

from selectolax.lexbor import LexborHTMLParser as HTMLParser

from tests.web.http import get
from tests.web.site import Corpus, WebProcess, this_monday


def test_weekly_counts_per_sector_and_outlet(site: WebProcess, corpus: Corpus) -> None:
    got = json.loads(get(site.base + "/api/trends?weeks=8").text)
    monday = this_monday(corpus.now).date()
    assert got["weeks"] == [(monday - timedelta(weeks=7 - i)).isoformat() for i in range(8)]
    assert got["sectors"]["space"] == [0, 1, 1, 1, 0, 0, 4, 0]
    # minerals (10 days ago) and the seven space pieces; the two outlets' two each.
    assert {k: sum(v) for k, v in got["outlets"].items()} == {
        "orf": 8,
        "ddnews": 2,
        "japantimes": 2,
    }


def test_the_chart_shows_the_spike_at_a_glance(site: WebProcess, corpus: Corpus) -> None:
    doc = HTMLParser(get(site.base + "/trends?weeks=8").text)
    sector_chart, outlet_chart = doc.css("svg.chart")
    space = sector_chart.css_first('g[data-series="space"]')
    last_week = (this_monday(corpus.now) - timedelta(weeks=1)).date().isoformat()
    spikes = [r.attributes["data-week"] for r in space.css("rect.spike")]
    assert spikes == [last_week]
    heights = {
        r.attributes["data-week"]: float(r.attributes["height"] or 0) for r in space.css("rect")
    }
    assert heights[last_week] == max(heights.values()) > 0
    assert space.css_first("text.label").text() == "Space"
    outlets = [g.css_first("text.label").text() for g in outlet_chart.css("g.series")]
    assert outlets[0] == "ORF"  # the busiest outlet first
    assert get(site.base + "/trends?weeks=1000").status == 400
