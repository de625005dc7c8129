"""Time to interactive of the UI's pages in headless Chromium, next to the API's own time.

Serves the API (`policykb serve`) over a copy of a knowledge base of the sample corpus and the
Streamlit UI beside it, then walks a visitor's steps several times: fresh page load, query submit,
filter click, item open, Insights, contribute submit, approve. Each step is timed in the page
itself: from the action (or the start of the navigation) to the last change of the page once the
expected text is shown and the page has stopped changing for 0.5 s, with Streamlit's "running"
indicator gone (a script in every document watches the DOM, so the time does not include
Selenium reading the page). The API's time for the step's main request is measured separately
with httpx, after the step.

    .venv/bin/python bench/ui_speed.py --home index [--runs 3] [--shots docs/screenshots]   # index: `make run`
    .venv/bin/python bench/ui_speed.py --home index --root /tmp/older-checkout   # its ui/ and src/ instead
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from policykb.ui.client import ApiClient  # noqa: E402

TOKEN = "bench-moderator-token-0123"
QUESTION = "how do regions help cluster SMEs go international?"


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# In every document: the time of the last change to the page (ms since the navigation started).
# Also how many script runs the page has seen start (Streamlit marks its app "running").
WATCH = """
window.__pkLast = performance.now();
window.__pkRuns = 0;
new MutationObserver(records => {
  window.__pkLast = performance.now();
  for (const r of records) {
    if (r.attributeName === 'data-test-script-state' && r.target.getAttribute(r.attributeName) === 'running') {
      window.__pkRuns += 1;
    }
  }
}).observe(document, {subtree: true, childList: true, characterData: true, attributes: true});
"""
STATE = """return [document.body ? document.body.textContent.includes(arguments[0]) : false,
  (document.querySelector('[data-test-script-state]') || {getAttribute: () => ''}).getAttribute('data-test-script-state'),
  performance.now(), window.__pkLast, window.__pkRuns]"""
QUIET = 0.5  # seconds without a change to the page: the step is over


def browser():  # -> WebDriver
    from selenium import webdriver
    from selenium.webdriver.chrome.options import Options
    from selenium.webdriver.chrome.service import Service

    options = Options()
    options.binary_location = "/usr/bin/chromium"
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--window-size=1400,1000", f"--user-data-dir={tempfile.mkdtemp(prefix='pk-chrome-')}"):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(executable_path="/usr/bin/chromedriver"), options=options)
    driver.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument", {"source": WATCH})
    return driver


def timed(driver, action, text: str, navigation: bool = False) -> float:  # noqa: ANN001
    """Seconds from `action()` (or from the start of the navigation it makes) to the last change of
    the page, once `text` is on it, the script run the action started is over and nothing has changed
    for `QUIET` s."""
    started, runs = (0.0, 0) if navigation else driver.execute_script("return [performance.now(), window.__pkRuns]")
    action()
    deadline = time.monotonic() + 60
    while True:
        time.sleep(0.05)
        try:
            shown, script, now, last, seen = driver.execute_script(STATE, text)
        except Exception:  # noqa: BLE001 - the document is being replaced
            continue
        idle = script == "notRunning" and (navigation or seen > runs)  # an in-page step reruns the script
        if shown and idle and last is not None and now - last >= QUIET * 1000:
            return (last - started) / 1000
        if time.monotonic() > deadline:
            raise TimeoutError(f"{text!r} not shown within 60 s")


def find(driver, css: str):  # noqa: ANN001, ANN201
    """The first element matching `css`, waiting for it."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(driver, 60, poll_frequency=0.05).until(lambda d: d.find_element(By.CSS_SELECTOR, css))


def api_time(base: str, path: str, params: dict | None = None, method: str = "GET", **kwargs) -> float:  # noqa: ANN003
    started = time.perf_counter()
    kwargs.setdefault("timeout", 60)
    httpx.request(method, f"{base}{path}", params=params, **kwargs).raise_for_status()
    return time.perf_counter() - started


def walk(ui: str, api: str) -> dict[str, tuple[float, float]]:
    """One visitor's steps: {step: (seconds until interactive, seconds of the API's own request)}."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    driver = browser()
    out: dict[str, tuple[float, float]] = {}
    try:
        out["fresh page load"] = (timed(driver, lambda: driver.get(ui), "Browsing", navigation=True),
                                  api_time(api, "/search", {"q": ""}))
        box = find(driver, 'input[placeholder^="e.g. how do"]')
        box.click()
        box.send_keys(QUESTION)  # typed before the clock starts: the step is the Enter key
        out["query submit"] = (timed(driver, lambda: box.send_keys(Keys.ENTER), "results for"),
                               api_time(api, "/search", {"q": QUESTION}))
        pill = next(b for b in driver.find_elements(By.CSS_SELECTOR, '[data-testid="stSidebar"] button')
                    if b.text.startswith("Regional ·"))
        out["filter click"] = (timed(driver, pill.click, "results for"),
                               api_time(api, "/search", {"q": QUESTION, "level": "regional"}))
        first = find(driver, '[class*="st-key-hit-"] [data-testid="stPageLink-NavLink"]')
        item_id = first.get_attribute("href").split("id=")[-1]
        out["item open"] = (timed(driver, first.click, "Similar items"),
                            api_time(api, f"/items/{item_id}") + api_time(api, f"/items/{item_id}/similar"))
        out["Insights"] = (timed(driver, lambda: driver.get(f"{ui}/insights"), "By start year", navigation=True),
                           api_time(api, "/counts", {}))
        timed(driver, lambda: driver.get(f"{ui}/contribute"), "Submit for review", navigation=True)
        title = driver.find_elements(By.CSS_SELECTOR, 'input[type="text"]')[0]
        title.send_keys(f"Cluster export vouchers for SMEs, bench {time.time():.0f}")
        title.send_keys(Keys.TAB)
        timed(driver, lambda: None, "Before you submit", navigation=True)  # a wait, not a step
        button = next(b for b in driver.find_elements(By.TAG_NAME, "button") if "Submit for review" in b.text)
        out["contribute submit"] = (timed(driver, button.click, "your contribution was received"),
                                    api_time(api, "/contributions", method="POST",
                                             json={"title": f"Bench API timing {time.time():.0f}"}))
        timed(driver, lambda: driver.get(f"{ui}/moderate"), "Moderator token", navigation=True)
        token = next(i for i in driver.find_elements(By.CSS_SELECTOR, 'input[type="password"]'))
        token.send_keys(TOKEN)
        token.send_keys(Keys.ENTER)
        timed(driver, lambda: None, "Approve and publish", navigation=True)
        approve = next(b for b in driver.find_elements(By.TAG_NAME, "button") if "Approve and publish" in b.text)
        queue = httpx.get(f"{api}/moderation/contributions", headers={"Authorization": f"Bearer {TOKEN}"}).json()
        out["approve"] = (timed(driver, approve.click, "it is published and searchable now"), float("nan"))
        if queue["items"]:
            out["approve"] = (out["approve"][0], api_time(
                api, f"/moderation/contributions/{queue['items'][-1]['id']}/approve", method="POST",
                headers={"Authorization": f"Bearer {TOKEN}"}))
    finally:
        driver.quit()
    return out


def screenshots(ui: str, folder: Path) -> None:
    """The README's pictures: a search with a filter, its phone view, an item and Insights."""
    folder.mkdir(parents=True, exist_ok=True)
    driver = browser()
    try:
        for name, url, text, size in (
                ("search", f"{ui}/?q=how+do+regions+help+cluster+SMEs+go+international%3F&level=regional",
                 "results for", (1400, 1300)),
                ("search-phone", f"{ui}/?q=innovation+vouchers+for+small+firms", "results for", (390, 844)),
                ("item", f"{ui}/item?id=case-green-transition-cluster", "Similar items", (1400, 1300)),
                ("insights", f"{ui}/insights?q=cluster+internationalisation", "By start year", (1400, 1500))):
            driver.set_window_size(*size)
            timed(driver, lambda u=url: driver.get(u), text, navigation=True)
            time.sleep(1.0)  # charts and fonts settle
            driver.save_screenshot(str(folder / f"{name}.png"))
    finally:
        driver.quit()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--home", type=Path, default=ROOT / "index", help="a knowledge base of the sample corpus")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--shots", type=Path, help="also save the README's screenshots into this folder")
    parser.add_argument("--root", type=Path, default=ROOT,
                        help="a checkout of policykb whose ui/ and src/ to serve (default: this one), for before/after")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="pk-ui-speed-"))
    home = work / "kb"
    shutil.copytree(args.home, home)  # contributions and approvals must not touch the source
    env = {**os.environ, "POLICYKB_HOME": str(home), "POLICYKB_MODERATOR_TOKENS": f"bench:{TOKEN}",
           "POLICYKB_CONTRIBUTIONS_PER_HOUR": "1000", "PYTHONPATH": str(args.root.resolve() / "src")}
    api_port, ui_port = free_port(), free_port()
    api = f"http://127.0.0.1:{api_port}"
    server = subprocess.Popen([sys.executable, "-m", "policykb.cli.main", "serve", "--port", str(api_port)], env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    ui_env = {**env, "POLICYKB_UI_API_URL": api}
    streamlit = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", str(args.root / "ui" / "app.py"), "--server.headless", "true",
         "--server.address", "127.0.0.1", "--server.port", str(ui_port), "--browser.gatherUsageStats", "false",
         "--server.fileWatcherType", "none"], env=ui_env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        with ApiClient(api, timeout=5) as client:
            client.wait_until_healthy(120, running=lambda: server.poll() is None)
        deadline = time.monotonic() + 60
        while httpx.get(f"http://127.0.0.1:{ui_port}/_stcore/health", timeout=5).text != "ok":
            if time.monotonic() > deadline:
                raise SystemExit("the UI did not start")
            time.sleep(0.2)
        api_time(api, "/search", {"q": QUESTION}, timeout=600)  # the models load at the first question
        walk(f"http://127.0.0.1:{ui_port}", api)  # warm-up: caches, Streamlit's first compile
        runs = [walk(f"http://127.0.0.1:{ui_port}", api) for _ in range(args.runs)]
        if args.shots:
            screenshots(f"http://127.0.0.1:{ui_port}", args.shots)
    finally:
        for process in (streamlit, server):
            process.terminate()
            process.wait(timeout=10)
        shutil.rmtree(work, ignore_errors=True)
    print(f"{'step':<20}{'interactive (median)':>22}{'API alone':>12}{'UI beyond the API':>20}   runs (s)")
    for step in runs[0]:
        ui = statistics.median(r[step][0] for r in runs)
        alone = statistics.median(r[step][1] for r in runs)
        print(f"{step:<20}{ui:>20.2f} s{alone:>10.2f} s{ui - alone:>18.2f} s   "
              + ", ".join(f"{r[step][0]:.2f}" for r in runs))


if __name__ == "__main__":
    main()
