"""The explorer served as a Voilà app, driven in headless Chromium through Playwright.

Uses Debian's ``chromium`` (Playwright's own browser download cannot work here). Skipped
when no Chromium is found, unless ``WORKBENCH_REQUIRE_BROWSER=1`` (CI sets it), when a
missing browser is a failure.

Voilà serves the copy of ``explorer.ipynb`` inside the test's own built project (the
``project`` fixture), with ``$WORKBENCH_ROOT`` pointing there, so its kernel opens that built
study and never the checkout. The screenshots go to the test's temporary folder, or to the
folder ``$WORKBENCH_SCREENSHOTS`` names (to keep them, e.g. in CI); never into the checkout.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from contextlib import contextmanager
from pathlib import Path

import pytest

from workbench.project import ROOT_ENVIRONMENT_VARIABLE

pytestmark = pytest.mark.slow

CHROMIUM = os.environ.get("WORKBENCH_CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")
CHROMIUM_FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextmanager
def serve_voila(target: Path, *, project: Path, log: Path, env: dict | None = None, patience: float = 60):
    """``target`` (a notebook, or a folder of them) served by Voilà on a free localhost port, its
    kernels finding ``project`` (``$WORKBENCH_ROOT``, plus ``env``); yields its address, and stops
    the server (its whole process group) afterwards. Voilà's output goes to ``log``."""
    port = free_port()
    with log.open("w") as output:
        server = subprocess.Popen(
            [str(Path(sys.executable).parent / "voila"), str(target), "--no-browser", f"--port={port}",
             "--Voila.ip=127.0.0.1", "--KernelManager.transport=ipc"],
            stdout=output, stderr=subprocess.STDOUT, start_new_session=True,
            cwd=target if target.is_dir() else target.parent,
            env={**os.environ, ROOT_ENVIRONMENT_VARIABLE: str(project), **(env or {})},
        )
        address = f"http://127.0.0.1:{port}/"
        try:
            deadline = time.monotonic() + patience
            while True:
                try:
                    urllib.request.urlopen(address, timeout=5).close()  # noqa: S310 - our own localhost server
                    break
                except OSError:
                    if server.poll() is not None or time.monotonic() > deadline:
                        pytest.fail(f"Voilà did not start:\n{log.read_text()}")
                    time.sleep(0.5)
            yield address
        finally:
            os.killpg(server.pid, signal.SIGTERM)
            try:
                server.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(server.pid, signal.SIGKILL)


@pytest.fixture
def voila(project):
    """The explorer notebook of the test's built project served by Voilà on a free localhost
    port, its kernel finding that project; yields its address."""
    if CHROMIUM is None:
        if os.environ.get("WORKBENCH_REQUIRE_BROWSER") == "1":
            pytest.fail("no Chromium found: install Debian's chromium package (apt-get install chromium)")
        pytest.skip("no Chromium found (install Debian's chromium package to run the browser test)")
    notebook = project / "notebooks" / "explorer.ipynb"
    assert (project / "data" / "processed" / "demo").is_dir() and notebook.is_file(), "the project fixture is built"
    with serve_voila(notebook, project=project, log=project / "voila.log") as address:
        yield address


def test_explorer_in_a_real_browser_updates_when_a_control_changes(voila, project, screenshots):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS, headless=True)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1800})
            page.goto(voila, wait_until="domcontentloaded")
            page.wait_for_selector(".workbench-explorer .workbench-table", timeout=120_000)
            survey_table = page.locator(".workbench-table").first
            before = survey_table.inner_text()
            profile_before = page.locator(".workbench-explorer img").first.get_attribute("src")
            assert "Info - staff" in before
            page.screenshot(path=str(screenshots / "explorer-start.png"), full_page=True)

            characteristic = page.locator(".widget-dropdown select").first
            characteristic.select_option(label="Measurement")
            page.wait_for_function("previous => document.querySelector('.workbench-table').innerText !== previous",
                                   arg=before, timeout=60_000)
            after = survey_table.inner_text()
            assert "Measurement" in after and "Info - staff" not in after
            page.wait_for_function("previous => document.querySelector('.workbench-explorer img').src !== previous",
                                   arg=profile_before, timeout=60_000)
            page.get_by_text("Interview quotes: Measurement").wait_for(timeout=10_000)
            page.screenshot(path=str(screenshots / "explorer-measurement.png"), full_page=True)
        finally:
            browser.close()
    assert (screenshots / "explorer-measurement.png").stat().st_size > 50_000
