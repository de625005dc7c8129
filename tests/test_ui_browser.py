"""End to end in headless Chromium: search, filter (counts change), open an item, contribute, approve as a
moderator, find the contribution. Screenshots of every page go to `screenshots/` (git-ignored)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from .test_ui import TOKEN, free_port, running_api

ROOT = Path(__file__).resolve().parents[1]
SHOTS = ROOT / "screenshots"
CHROMIUM, CHROMEDRIVER = "/usr/bin/chromium", "/usr/bin/chromedriver"
WAIT = 30

if not (Path(CHROMIUM).exists() and Path(CHROMEDRIVER).exists()) and not os.environ.get("CI"):
    pytest.skip("needs Debian's chromium and chromium-driver (`make test` installs them; in CI this test must run)",
                allow_module_level=True)

if not os.environ.get("CI"):
    pytest.importorskip("selenium", reason="selenium comes with the test extra: pip install -e '.[test]'")
from selenium import webdriver
from selenium.webdriver.chrome.options import Options
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support.ui import WebDriverWait


@pytest.fixture
def ui(settings, corpus, tmp_path) -> Iterator[str]:
    """The API over the test corpus and `streamlit run ui/app.py` pointing at it; yields the UI's URL."""
    with running_api(settings.model_copy(update={"moderator_tokens": [f"tester:{TOKEN}"]}), corpus) as api_url:
        port = free_port()
        env = {**os.environ, "POLICYKB_UI_API_URL": api_url}
        log = (tmp_path / "streamlit.log").open("w")
        process = subprocess.Popen(
            [sys.executable, "-m", "streamlit", "run", "ui/app.py", "--server.headless", "true",
             "--server.address", "127.0.0.1", "--server.port", str(port), "--browser.gatherUsageStats", "false",
             "--client.toolbarMode", "minimal", "--server.fileWatcherType", "none"],
            cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
        try:
            base = f"http://127.0.0.1:{port}"
            deadline = time.monotonic() + 60
            while True:
                try:
                    if httpx.get(f"{base}/_stcore/health", timeout=2).text == "ok":
                        break
                except httpx.HTTPError:
                    pass
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("streamlit did not start:\n" + (tmp_path / "streamlit.log").read_text())
                time.sleep(0.2)
            yield base
        finally:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
            log.close()


@pytest.fixture
def browser(tmp_path) -> Iterator[WebDriver]:
    options = Options()
    options.binary_location = CHROMIUM
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--window-size=1400,1000", f"--user-data-dir={tmp_path / 'chromium-profile'}"):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=options)
    try:
        yield driver
    finally:
        driver.quit()


# -- helpers --------------------------------------------------------------------------------------


def until(driver: WebDriver, condition: Callable[[WebDriver], object], what: str) -> object:
    return WebDriverWait(driver, WAIT, poll_frequency=0.2).until(condition, message=f"waiting for {what}")


def idle(driver: WebDriver) -> None:
    """Wait until the script run is over (Streamlit's 'Running...' status widget is gone)."""
    time.sleep(0.3)
    until(driver, lambda d: not d.find_elements(By.CSS_SELECTOR, '[data-testid="stStatusWidget"]'), "the app to idle")


def see(driver: WebDriver, text: str) -> None:
    until(driver, lambda d: text in d.find_element(By.TAG_NAME, "body").text, repr(text))


def shot(driver: WebDriver, name: str) -> None:
    """Save a full-height screenshot of the page (the main area scrolls inside Streamlit)."""
    idle(driver)
    time.sleep(0.5)  # charts and fonts settle
    height = driver.execute_script(
        "const m = document.querySelector('[data-testid=\"stMain\"]');"
        "return Math.max(m ? m.scrollHeight : 0, document.body.scrollHeight);")
    driver.set_window_size(1400, min(max(1000, int(height) + 40), 3000))
    time.sleep(0.4)
    SHOTS.mkdir(exist_ok=True)
    driver.save_screenshot(str(SHOTS / f"{name}.png"))
    driver.set_window_size(1400, 1000)


def button(driver: WebDriver, text: str, within: str = "body") -> WebElement:
    def find(d: WebDriver) -> WebElement | bool:
        for element in d.find_elements(By.CSS_SELECTOR, f"{within} button"):
            if element.is_displayed() and text in element.text:
                return element
        return False

    return until(driver, find, f"a button {text!r}")  # type: ignore[return-value]


def field(driver: WebDriver, label: str, tag: str = "input") -> WebElement:
    """The input (or textarea) of the widget whose label is `label`."""
    def find(d: WebDriver) -> WebElement | bool:
        for widget in d.find_elements(By.CSS_SELECTOR, '[data-testid="stWidgetLabel"]'):
            if widget.text.strip() == label:
                container = widget.find_element(By.XPATH, "./ancestor::div[contains(@class, 'stElementContainer') "
                                                          "or contains(@data-testid, 'stElementContainer')][1]")
                found = container.find_elements(By.TAG_NAME, tag)
                if found:
                    return found[0]
        return False

    return until(driver, find, f"the field {label!r}")  # type: ignore[return-value]


def link(driver: WebDriver, text: str) -> WebElement:
    """A visible link whose text contains `text`."""
    return until(driver, lambda d: next((a for a in d.find_elements(By.TAG_NAME, "a")
                                         if a.is_displayed() and text in a.text), False),
                 f"a link {text!r}")  # type: ignore[return-value]


def navigate(driver: WebDriver, title: str) -> None:
    link = until(driver, lambda d: next((a for a in d.find_elements(By.CSS_SELECTOR, '[data-testid="stSidebarNav"] a')
                                          if a.text.strip().endswith(title)), False), f"the {title} page link")
    link.click()  # type: ignore[union-attr]
    idle(driver)


def type_into(element: WebElement, text: str) -> None:
    element.click()
    element.send_keys(Keys.CONTROL, "a")
    element.send_keys(text)
    element.send_keys(Keys.ENTER)


# -- the journey ----------------------------------------------------------------------------------


def test_search_filter_item_contribute_approve_find(ui: str, browser: WebDriver) -> None:
    if SHOTS.exists():
        shutil.rmtree(SHOTS)
    browser.get(ui)
    see(browser, "Browsing 5 items")

    # search
    search_box = until(browser, lambda d: d.find_element(By.CSS_SELECTOR, 'input[placeholder^="e.g. how do"]'),
                       "the search box")
    type_into(search_box, "cluster trade missions")  # type: ignore[arg-type]
    see(browser, "results for “cluster trade missions”")
    see(browser, "4 results")  # the relevant items only (the fifth shares no word and little meaning)
    see(browser, "Policy example · 3")
    shot(browser, "search")

    # a filter changes the counts of the other facets, and the URL
    button(browser, "Internationalisation · 3", '[data-testid="stSidebar"]').click()
    see(browser, "Policy example · 2")
    assert "challenge=internationalisation" in browser.current_url
    shot(browser, "search-filtered")
    filtered = browser.current_url
    browser.get(f"{filtered}&territory=AT")  # a shared link with one filter too many
    see(browser, "No close match")
    see(browser, "Remove Strategic challenge: Internationalisation → 1 result")
    shot(browser, "search-empty")
    browser.get(filtered)  # the shared link restores the search
    see(browser, "Policy example · 2")

    # open an item
    link(browser, "Cluster internationalisation vouchers").click()
    see(browser, "Similar items")
    see(browser, "Type of support")
    shot(browser, "item")

    # insights follow the filter
    navigate(browser, "Insights")
    see(browser, "By strategic challenge")
    see(browser, "Internationalisation")
    shot(browser, "insights")

    # contribute
    navigate(browser, "Contribute")
    type_into(field(browser, "Title *"), "Baltic cluster export vouchers")
    see(browser, "Suggested facets")
    summary = field(browser, "Summary", "textarea")
    summary.send_keys("Vouchers pay cluster SMEs for trade fair visits abroad.")
    summary.send_keys(Keys.TAB)
    territory = field(browser, "Territory")
    type_into(territory, "Lithuania")
    territory.send_keys(Keys.ESCAPE)  # close the drop-down before the screenshot
    see(browser, "Lithuania")
    idle(browser)
    shot(browser, "contribute")
    button(browser, "Submit for review").click()
    see(browser, "your contribution was received")
    shot(browser, "contribute-done")

    # approve as moderator
    navigate(browser, "Moderate")
    type_into(field(browser, "Moderator token"), TOKEN)
    see(browser, "1 pending contribution")
    see(browser, "Baltic cluster export vouchers")
    shot(browser, "moderate")
    button(browser, "Approve and publish").click()
    see(browser, "it is published and searchable now")
    see(browser, "No pending contributions")
    shot(browser, "moderate-approved")

    # and find it by searching
    browser.get(f"{ui}/?q=Baltic+export+vouchers")
    see(browser, "results for “Baltic export vouchers”")
    link(browser, "Baltic cluster export vouchers")
    shot(browser, "search-found")


def test_a_phone_sees_results_first_and_whole_titles(ui: str, browser: WebDriver) -> None:
    browser.set_window_size(390, 844)
    browser.get(f"{ui}/?q=cluster+internationalisation+vouchers+for+trade+missions&mode=keyword")
    see(browser, "results for")
    idle(browser)
    assert browser.title.startswith("“cluster internationalisation vouchers") and browser.title.endswith(
        "· Search · policykb")  # the tab names the page and the query
    sidebar = browser.find_element(By.CSS_SELECTOR, '[data-testid="stSidebar"]')
    assert sidebar.get_attribute("data-collapsed") == "true" and sidebar.rect["x"] < 0  # filters start closed
    titles = browser.find_elements(By.CSS_SELECTOR, '[class*="st-key-hit-"] [data-testid="stPageLink-NavLink"] p')
    assert titles
    cut = browser.execute_script(
        "return arguments[0].filter(e => e.scrollWidth > e.clientWidth + 1).map(e => e.textContent)", titles)
    assert cut == []  # every title wraps instead of being cut
    SHOTS.mkdir(exist_ok=True)
    browser.save_screenshot(str(SHOTS / "phone-search.png"))
    # filters: one tap opens them, then one tap per filter (the panel stays open for the next one)
    browser.find_element(By.CSS_SELECTOR, '[data-testid="stExpandSidebarButton"]').click()
    until(browser, lambda d: sidebar.get_attribute("data-collapsed") == "false", "the filters to open")
    for tap in (1, 2):
        pills = [b for b in browser.find_elements(
            By.CSS_SELECTOR, '[data-testid="stSidebar"] [data-testid="stButtonGroup"] button')
            if b.is_displayed() and b.get_attribute("kind") != "pillsActive" and b.get_attribute("aria-pressed") != "true"]
        before = browser.current_url
        next(p for p in pills if p.location["y"] > 0).click()
        until(browser, lambda d: d.current_url != before, f"filter tap {tap} to apply")
        idle(browser)
    assert sidebar.get_attribute("data-collapsed") == "false"
