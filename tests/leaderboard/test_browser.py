"""The app served by `theorybench leaderboard --serve` and loaded in headless Chromium."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

selenium = pytest.importorskip("selenium")
from selenium import webdriver  # noqa: E402
from selenium.webdriver.chrome.service import Service  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = shutil.which("chromedriver")
pytestmark = pytest.mark.skipif(
    CHROMIUM is None or CHROMEDRIVER is None,
    reason="needs Debian's chromium and chromium-driver (apt-get install chromium chromium-driver; .ci/run installs them)",
)

CHROMIUM_FLAGS = (
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
    "--disable-sync", "--no-first-run", "--window-size=1400,1100",
)
#: Page URL paths and what each must show: a table, and a plotly chart on the task and implementation pages.
PAGES = {"": ("table",), "suite": ("table",), "task": ("table", "chart"), "implementation": ("table", "chart"),
         "compare": ("table",), "submissions": ("table",)}
SELECTORS = {"table": '[data-testid="stDataFrame"]', "chart": ".js-plotly-plot"}
LOAD_TIMEOUT_S = 60


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _wait_healthy(url: str, server: subprocess.Popen, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise AssertionError(f"the server exited with status {server.returncode}")
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.5)
    raise AssertionError(f"{url} did not become healthy within {timeout_s} s")


@pytest.fixture(scope="module")
def served_app(filled_store, tmp_path_factory):
    port = _free_port()
    log = tmp_path_factory.mktemp("server") / "streamlit.log"
    command = [sys.executable, "-m", "theorybench.cli", "leaderboard", "--serve", "--store", filled_store.url,
               "--port", str(port), "--address", "127.0.0.1"]
    with open(log, "w") as output:
        server = subprocess.Popen(command, stdout=output, stderr=subprocess.STDOUT, env=dict(os.environ))
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_healthy(url, server, LOAD_TIMEOUT_S)
        yield url
    finally:
        server.terminate()
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in CHROMIUM_FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={tmp_path_factory.mktemp('chromium-profile')}")
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    yield driver
    driver.quit()


@pytest.mark.parametrize("page", list(PAGES))
def test_page_renders_in_chromium(served_app, browser, page, tmp_path):
    browser.get(f"{served_app}/{page}")
    wait = WebDriverWait(browser, LOAD_TIMEOUT_S)
    for element in PAGES[page]:
        wait.until(lambda driver, selector=SELECTORS[element]: driver.find_elements(By.CSS_SELECTOR, selector))
    # Streamlit streams elements; the page is done when the status widget stops showing "running".
    wait.until(lambda driver: not driver.find_elements(By.CSS_SELECTOR, '[data-testid="stStatusWidget"]'))
    screenshot = tmp_path / f"{page or 'overview'}.png"
    assert browser.save_screenshot(str(screenshot))
    assert screenshot.stat().st_size > 10_000
    exceptions = browser.find_elements(By.CSS_SELECTOR, '[data-testid="stException"]')
    assert not exceptions, exceptions[0].text
    for element in PAGES[page]:
        assert browser.find_elements(By.CSS_SELECTOR, SELECTORS[element]), f"no {element} on /{page}"
