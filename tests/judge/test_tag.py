"""Sector tags as an analyst reads them: what the article is about, with the evidence, a primary
sector, and other senses of a word set aside (shipped feeds.yaml)."""

from __future__ import annotations

import pytest

from monitor.article import Article
from monitor.config import load_config
from monitor.judge.sort import Judge
from tests.articles import entry
from tests.conftest import REPO


@pytest.fixture(scope="module")
def judge() -> Judge:
    return Judge(load_config(REPO / "feeds.yaml").config)


def tagged(judge: Judge, title: str, summary: str, text: str = "") -> Article:
    a = entry(title, summary, text)
    assert judge.judge(a), a.relevance_reason
    return a


def test_chips_in_a_food_story_are_not_semiconductors(judge: Judge) -> None:
    snack = tagged(
        judge,
        "Japanese snack maker Calbee to build potato chip plant in Gujarat",
        "Calbee will invest ¥8 billion in a factory making potato chips and other snacks for "
        "Indian shoppers.",
    )
    assert "semiconductors" not in snack.sectors
    assert snack.relevance_reason["sector_senses"] == (
        "read in another sense: 'chip', 'chip plant*', 'chips'"
    )
    fab = tagged(
        judge,
        "Japanese toolmaker to supply chips plant in Gujarat",
        "Tokyo Electron will supply equipment for the chips made at Tata's fab in Dholera.",
    )
    assert "semiconductors" in fab.sectors


def test_primary_sector_and_evidence(judge: Judge) -> None:
    a = tagged(
        judge,
        "India, Japan sign yen loan for Chennai metro",
        "The JICA loan will fund three new metro lines in Tamil Nadu.",
        "The JICA loan will fund three new metro lines in Tamil Nadu.\n"
        "Officials also discussed semiconductors, clean energy and skill development.",
    )
    reason = a.relevance_reason
    assert reason["primary_sector"] in ("infrastructure_rail", "trade_investment")
    assert set(a.sectors) >= {"infrastructure_rail", "trade_investment"}
    # a list of topics in passing is not a sector
    assert not {"semiconductors", "clean_energy", "people_skills"} & set(a.sectors)
    assert "'metro' in the title" in reason["sector_evidence"]["infrastructure_rail"]


def test_a_word_in_passing_does_not_tag(judge: Judge) -> None:
    a = tagged(
        judge,
        "Takaichi and Modi agree to deepen defence cooperation",
        "The two leaders met in Tokyo and agreed to expand joint exercises.",
        "The two leaders met in Tokyo and agreed to expand joint exercises.\n"
        "They spoke for 40 minutes.\n"
        "The ministers also held a working lunch.\n"
        "Both sides noted the visit of Indian students to Japan earlier this year.\n"
        "A joint statement will follow.\n"
        "Officials said the next summit would be held in New Delhi.",
    )
    assert "defence_maritime" in a.sectors
    assert "people_skills" not in a.sectors  # 'students' once, deep in the body
