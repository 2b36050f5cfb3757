"""The view as an analyst uses it, in the system's Chromium (headless, through its chromedriver;
nothing is downloaded): search and filter, open an article and its story, read the chart,
follow the Atom link, times in the browser's own zone, and all of it at phone width too.

Skips only when Debian's chromium or chromium-driver is not installed (.ci/run installs them).
Set WEB_SHOTS=DIR to keep a screenshot of each page.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.web.site import Corpus, WebProcess

CHROMIUM = shutil.which("chromium")
DRIVER = shutil.which("chromedriver")
pytestmark = pytest.mark.skipif(
    CHROMIUM is None or DRIVER is None,
    reason="needs Debian's chromium and chromium-driver (apt-get install chromium chromium-driver)",
)
ZONE = "Asia/Kolkata"  # the analyst's zone: not the server's (UTC)
PHONE = (390, 844)


def browser(width: int, height: int) -> Any:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                f"--window-size={width},{height}", "--lang=en-GB"):  # fmt: skip
        options.add_argument(arg)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    service = Service(executable_path=str(DRIVER), env={**os.environ, "TZ": ZONE})
    return webdriver.Chrome(options=options, service=service)


@pytest.fixture(scope="module", params=["desktop", "phone"])
def driver(request: pytest.FixtureRequest) -> Iterator[Any]:
    size = PHONE if request.param == "phone" else (1280, 900)
    chrome = browser(*size)
    chrome.form_factor = request.param
    yield chrome
    chrome.quit()


def shot(driver: Any, name: str) -> None:
    where = os.environ.get("WEB_SHOTS")
    if where:
        Path(where).mkdir(parents=True, exist_ok=True)
        # The whole page, not only the first screen: widen the window to the page's height.
        height = driver.execute_script("return document.documentElement.scrollHeight")
        width = driver.get_window_size()["width"]
        driver.set_window_size(width, min(max(height + 120, 600), 4000))
        driver.save_screenshot(str(Path(where) / f"{name}-{driver.form_factor}.png"))
        driver.set_window_size(width, PHONE[1] if driver.form_factor == "phone" else 900)


def fits(driver: Any) -> bool:
    """Nothing sticks out sideways (tables scroll inside their own box)."""
    return bool(
        driver.execute_script(
            "return document.documentElement.scrollWidth <= window.innerWidth + 1"
        )
    )


def csp_errors(driver: Any) -> list[str]:
    return [e["message"] for e in driver.get_log("browser") if "Content Security" in e["message"]]


def test_search_filter_open_an_article_and_its_story(
    driver: Any, site: WebProcess, corpus: Corpus
) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select, WebDriverWait

    driver.get(site.base + "/")
    box = driver.find_element(By.ID, "q")
    box.send_keys("semicon*")
    Select(driver.find_element(By.ID, "sector")).select_by_visible_text("Semiconductors")
    Select(driver.find_element(By.ID, "source")).select_by_visible_text("DD News")
    driver.find_element(By.CSS_SELECTOR, "form.search button").click()
    WebDriverWait(driver, 10).until(lambda d: "source=ddnews" in d.current_url)
    results = driver.find_elements(By.CSS_SELECTOR, "li.result")
    assert [r.find_element(By.CSS_SELECTOR, "h2").text for r in results] == [
        "India-Japan semiconductor pact signed in New Delhi"
    ]
    marks = results[0].find_elements(By.TAG_NAME, "mark")
    assert marks and marks[0].text == "semiconductor" and marks[0].is_displayed()
    # The date is in the browser's zone (India, UTC+5:30), not the server's UTC.
    shown = results[0].find_element(By.TAG_NAME, "time").text
    assert "UTC" not in shown and ("IST" in shown or "GMT+5:30" in shown), shown
    assert fits(driver)
    shot(driver, "search")

    results[0].find_element(By.CSS_SELECTOR, "h2 a").click()
    WebDriverWait(driver, 10).until(lambda d: "/articles/" in d.current_url)
    assert driver.find_element(By.TAG_NAME, "h1").text.startswith("India-Japan semiconductor")
    why = driver.find_element(By.CSS_SELECTOR, "p.why").text
    assert "bilateral term 'India-Japan'" in why
    assert "analyst-delhi" in driver.find_element(By.CSS_SELECTOR, "table.alerts").text
    assert fits(driver)
    shot(driver, "article")

    driver.find_element(By.LINK_TEXT, "Stories").click()
    WebDriverWait(driver, 10).until(lambda d: d.current_url.endswith("/stories"))
    listed = driver.find_elements(By.CSS_SELECTOR, "li.story-item")
    assert [s.find_element(By.TAG_NAME, "h2").text for s in listed] == [
        "India-Japan semiconductor pact signed in New Delhi"
    ]
    assert fits(driver)
    shot(driver, "stories")
    driver.back()
    driver.find_element(By.LINK_TEXT, "The whole story").click()
    WebDriverWait(driver, 10).until(lambda d: "/stories/" in d.current_url)
    rows = driver.find_elements(By.CSS_SELECTOR, "table.timeline tbody tr")
    assert ["The Japan Times" in rows[0].text, "DD News" in rows[1].text] == [True, True]
    shot(driver, "story")
    assert csp_errors(driver) == []


def test_read_the_chart_and_follow_the_atom_link(driver: Any, site: WebProcess) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    driver.get(site.base + "/trends?weeks=8")
    chart = driver.find_element(By.CSS_SELECTOR, "svg.chart")
    assert chart.is_displayed() and chart.size["width"] > 200
    spike = driver.find_element(By.CSS_SELECTOR, 'g[data-series="space"] rect.spike')
    assert spike.value_of_css_property("fill") == "rgb(198, 40, 40)"  # red, the others blue
    assert fits(driver)
    shot(driver, "trends")

    driver.get(site.base + "/search?q=rail")
    link = driver.find_element(By.CSS_SELECTOR, "a.feed")
    link.click()
    WebDriverWait(driver, 10).until(lambda d: "/feeds/search.atom?q=rail" in d.current_url)
    assert "Shinkansen high-speed rail corridor" in driver.page_source
    assert "<feed" in driver.page_source or "feed xmlns" in driver.page_source
    assert csp_errors(driver) == []


def test_sources_and_rule_preview(driver: Any, site: WebProcess) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    driver.get(site.base + "/sources")
    states = [e.text for e in driver.find_elements(By.CSS_SELECTOR, "table.sources .state")]
    assert states == ["never polled"] * 3
    assert fits(driver)
    shot(driver, "sources")
    driver.get(site.base + "/rules/try")
    box = driver.find_element(By.ID, "q")
    box.send_keys('"rare earth" OR Shinkansen')
    box.submit()
    WebDriverWait(driver, 10).until(lambda d: "q=" in d.current_url)
    rows = driver.find_elements(By.CSS_SELECTOR, "table.preview tbody tr")
    assert len(rows) == 2 and "rare earth" in rows[0].text
    assert fits(driver)
    shot(driver, "preview")


def test_a_hostile_title_runs_nothing(driver: Any, site: WebProcess, corpus: Corpus) -> None:
    from selenium.webdriver.common.by import By

    driver.get(f"{site.base}/articles/{corpus.ids['hostile']}")
    assert driver.find_element(By.TAG_NAME, "h1").text.startswith('<script>alert("t")</script>')
    # An alert() would have opened a dialog, which makes every command fail; this one works.
    assert driver.execute_script("return document.querySelectorAll('img').length") == 0
    assert csp_errors(driver) == []
    shot(driver, "hostile")
