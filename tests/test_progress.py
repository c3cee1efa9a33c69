"""Progress bars leave nothing behind: drawn only for slow work, removed at the end, never a saved widget."""

from __future__ import annotations

import threading

import pytest

from kfx_notebook import progress

from .magic_shell import TestingShell


def _until(condition, what: str):
    """Wait (up to a generous bound, not a timing assertion) for the watcher thread to act."""
    for _ in range(400):
        if condition():
            return
        threading.Event().wait(0.025)
    pytest.fail(f"never happened: {what}")


def test_quick_work_draws_nothing(capsys):
    with progress.activity("querying Shop", kernel=False) as shown:
        pass
    assert shown == {} and capsys.readouterr().err == ""


def test_slow_work_in_a_terminal_draws_text_and_clears_it(monkeypatch, capsys):
    monkeypatch.setattr(progress, "DELAY", 0.0)
    with progress.activity("ingesting into Shop.Big", kernel=False) as shown:
        _until(lambda: "bar" in shown, "the bar opened")
    err = capsys.readouterr().err
    assert "ingesting into Shop.Big" in err
    assert err.rstrip(" ").endswith("\r"), "leave=False: the line is blanked at the end"


def test_slow_work_in_a_kernel_leaves_a_hidden_view_and_no_text(monkeypatch):
    """The bar's output holds only the widget mime type, and ends as a view with no model."""
    from IPython.utils.capture import capture_output

    TestingShell.instance()  # display() needs a shell
    monkeypatch.setattr(progress, "DELAY", 0.0)
    with capture_output() as captured:
        with progress.activity("querying Shop", kernel=True) as shown:
            _until(lambda: "handle" in shown, "the widget was displayed")
        handle = shown["handle"]
    published = [o.data for o in captured.outputs]
    assert published and all(set(data) == {progress.WIDGET_MIME} for data in published), published
    assert published[0][progress.WIDGET_MIME]["model_id"] != ""
    assert handle.display_id and progress.GONE[progress.WIDGET_MIME]["model_id"] == ""
    assert published[-1] == progress.GONE, "the finished bar's output is replaced by a view with no model"
