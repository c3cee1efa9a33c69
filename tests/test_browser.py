"""The teaching notebooks in JupyterLab in a real browser: Run All, then check what a user sees.

JupyterLab serves a temporary copy of notebooks/ on a free loopback port with a token;
Playwright drives Debian's chromium (`executable_path`, never a downloaded browser). Each
notebook is opened, every cell run, and the page must show rendered tables, receipts, error
blocks with their caret, the form answering a click, chart images — and no widget repr, no
widget error, no Python traceback. Screenshots of each notebook after Run All go to
test-artifacts/screenshots/ (git-ignored) for people to look at.

Without /usr/bin/chromium (a fresh clone on a machine without it) the tests skip and say how
to install it; CI installs it (.ci/run), so there they run, and fail if it is missing.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = Path("/usr/bin/chromium")
SCREENSHOTS = ROOT / "test-artifacts" / "screenshots"
NOTEBOOKS = sorted(p.name for p in (ROOT / "notebooks").glob("*.ipynb"))
RUN_ALL_SECONDS = 240  # an upper bound for a loaded 2-core machine, not a speed target

# In CI (CI=true, where .ci/run installs chromium) a missing browser fails instead of skipping.
pytestmark = pytest.mark.skipif(not CHROMIUM.exists() and os.environ.get("CI") != "true",
                                reason="needs Debian's chromium at /usr/bin/chromium: apt-get install -y chromium")

# user settings for the lab under test: every cell in the DOM (no windowing), no news or update pop-ups
SETTINGS = {
    "@jupyterlab/notebook-extension/tracker.jupyterlab-settings": {"windowingMode": "none"},
    "@jupyterlab/apputils-extension/notification.jupyterlab-settings": {"fetchNews": "false",
                                                                         "checkForUpdates": False},
}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    """(base url, token) of a JupyterLab over a copy of the notebooks, stopped after the module."""
    home = tmp_path_factory.mktemp("lab")
    work = home / "notebooks"
    shutil.copytree(ROOT / "notebooks", work, ignore=shutil.ignore_patterns("products-app", "*.duckdb"))
    settings = home / "settings"
    for name, values in SETTINGS.items():
        (settings / name).parent.mkdir(parents=True, exist_ok=True)
        (settings / name).write_text(json.dumps(values))
    port, token = _free_port(), secrets.token_hex(16)
    env = {**os.environ, "JUPYTER_CONFIG_DIR": str(home / "config"), "JUPYTERLAB_SETTINGS_DIR": str(settings),
           "JUPYTERLAB_WORKSPACES_DIR": str(home / "workspaces"), "JUPYTER_RUNTIME_DIR": str(home / "runtime")}
    env.pop("KustoConnectionString", None)
    log = open(home / "lab.log", "wb")
    server = subprocess.Popen(
        [sys.executable, "-m", "jupyter", "lab", "--no-browser", "--expose-app-in-browser", "--allow-root",
         "--ServerApp.ip=127.0.0.1", f"--ServerApp.port={port}", "--ServerApp.port_retries=0",
         f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={work}"],
        cwd=work, env=env, stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        _wait_for(lambda: server.poll() is not None or _answers(f"{base}/api/status?token={token}"), 90,
                  lambda: f"JupyterLab did not start: {(home / 'lab.log').read_text()[-2000:]}")
        assert server.poll() is None, f"JupyterLab exited: {(home / 'lab.log').read_text()[-2000:]}"
        yield base, token
    finally:
        server.terminate()
        try:
            server.wait(20)
        except subprocess.TimeoutExpired:
            server.kill()
        log.close()


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status == 200
    except OSError:
        return False


def _wait_for(condition, seconds: float, message):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.25)
    pytest.fail(message())


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=str(CHROMIUM),
            args=["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"])
        yield chromium
        chromium.close()


RUN_ALL = """async () => {
    const app = window.jupyterapp;
    const panel = app.shell.currentWidget;
    await panel.context.ready;
    await panel.sessionContext.ready;
    await app.commands.execute('notebook:run-all-cells');
}"""

FINISHED = """() => {
    const panel = window.jupyterapp.shell.currentWidget;
    const kernel = panel.sessionContext.session && panel.sessionContext.session.kernel;
    const prompts = [...document.querySelectorAll('.jp-CodeCell .jp-InputPrompt')].map(p => p.textContent);
    return !!kernel && kernel.status === 'idle' && prompts.length > 0
        && prompts.every(p => /\\[\\d+\\]/.test(p));
}"""


def _open_and_run(lab, browser, name: str):
    base, token = lab
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    page.goto(f"{base}/lab/tree/{name}?token={token}&reset")
    page.wait_for_function("() => window.jupyterapp && window.jupyterapp.shell.currentWidget "
                           "&& window.jupyterapp.shell.currentWidget.sessionContext", timeout=60_000)
    page.wait_for_selector(".jp-Notebook .jp-CodeCell", timeout=60_000)
    page.evaluate(RUN_ALL)
    page.wait_for_function(FINISHED, timeout=RUN_ALL_SECONDS * 1000, polling=500)
    return page


def _screenshot(page, name: str, suffix: str = "") -> None:
    """The whole notebook: the viewport is made as tall as the notebook's scrolled content first."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    height = page.evaluate("() => Math.max(...[...document.querySelectorAll("
                           "'.jp-NotebookPanel .jp-WindowedPanel-outer, .jp-NotebookPanel .jp-Notebook')]"
                           ".map(e => e.scrollHeight))")
    page.set_viewport_size({"width": 1280, "height": min(max(int(height) + 250, 900), 16_000)})
    page.evaluate("() => document.querySelectorAll('.jp-NotebookPanel .jp-WindowedPanel-outer')"
                  ".forEach(e => { e.scrollTop = 0; })")
    page.wait_for_timeout(500)
    page.screenshot(path=str(SCREENSHOTS / f"{Path(name).stem}{suffix}.png"))
    page.set_viewport_size({"width": 1280, "height": 900})


def _close(page) -> None:
    """Shut the notebook's kernel down (so kernels do not pile up) and close the page."""
    page.evaluate("async () => { await window.jupyterapp.shell.currentWidget.sessionContext.shutdown(); }")
    page.close()


def _outputs_text(page) -> str:
    return page.evaluate("() => [...document.querySelectorAll('.jp-OutputArea-output')]"
                         ".map(o => o.textContent).join('\\n')")


def _assert_clean(page, text: str) -> None:
    assert "VBox(" not in text and "HBox(" not in text, "a widget shown as its repr"
    assert "Error displaying widget" not in text
    assert "Traceback (most recent call last)" not in text, "a Python traceback reached the page"
    assert page.locator(".jp-Notebook .jp-CodeCell").count() > 0


# what each notebook must show after Run All, beyond the checks every notebook gets
EXPECTED = {
    "01-input-binding.ipynb": dict(tables=3, texts=["product: 1 row x 3 columns", "ingested 4 rows"], carets=1,
                                   form=True),
    "02-output-binding.ipynb": dict(tables=1, texts=["ingested ", "dry run: would ingest"], carets=0),
    "03-export-to-function-app.ipynb": dict(tables=0, texts=["function_app.py", "HTTP/1.1 200"], carets=0),
    "04-local-endpoint.ipynb": dict(tables=1, texts=["Data Source=http://127.0.0.1:"], carets=0),
    "05-charts.ipynb": dict(tables=4, texts=["ingested 42 rows"], carets=0, images=4),
}


def test_every_teaching_notebook_has_expectations():
    assert sorted(EXPECTED) == NOTEBOOKS


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_notebook_runs_all_and_renders_in_jupyterlab(lab, browser, name):
    expected = EXPECTED[name]
    page = _open_and_run(lab, browser, name)
    try:
        text = _outputs_text(page)
        _screenshot(page, name)
        _assert_clean(page, text)
        for words in expected["texts"]:
            assert words in text, f"{words!r} not on the page"
        assert page.locator(".jp-OutputArea-output table.dataframe").count() >= expected["tables"]
        assert page.locator(".jp-RenderedText[data-mime-type='application/vnd.jupyter.stderr']"
                            ":has-text('kfx-notebook note')").count() == 0, "a note rendered as an error"
        errors = page.locator(".jp-RenderedText[data-mime-type='application/vnd.jupyter.stderr']")
        carets = [t for t in errors.all_text_contents() if any(line.strip() == "^" for line in t.splitlines())]
        assert len(carets) >= expected["carets"], "the error block has no caret under the KQL"
        images = page.locator(".jp-OutputArea-output img[src^='data:image/png']")
        assert images.count() >= expected.get("images", 0)
        for i in range(images.count()):
            assert images.nth(i).evaluate("img => img.complete && img.naturalWidth > 300")
        if expected.get("form"):
            _use_the_form(page, name)
    finally:
        _close(page)


def _use_the_form(page, name: str) -> None:
    """Type a value into the --interactive form, click Run, see the new frame replace the old one."""
    form = page.locator(".jp-OutputArea-output .widget-vbox").first
    form.wait_for(timeout=30_000)
    assert "Pear" in form.text_content(), "the form shows the first frame (productId=2)"
    field = form.locator("input[type='number']").first
    field.fill("3")
    field.press("Enter")
    form.locator("button", has_text="Run").click()
    page.wait_for_function("form => form.textContent.includes('Fig')", arg=form.element_handle(), timeout=30_000)
    assert "Pear" not in form.text_content(), "the new frame replaced the old one"
    form.scroll_into_view_if_needed()
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    form.screenshot(path=str(SCREENSHOTS / f"{Path(name).stem}-form-after-run.png"))
