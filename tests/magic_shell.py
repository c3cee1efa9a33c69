"""A real IPython shell for magic tests: run_cell raises when the cell fails (STYLE habit 10)."""

from __future__ import annotations

import contextlib
import io

from IPython.core.interactiveshell import InteractiveShell


class TestingShell(InteractiveShell):
    """InteractiveShell whose run_cell raises the cell's error instead of only printing it."""

    __test__ = False  # not a pytest test class

    def run_cell(self, raw_cell, *args, **kwargs):
        result = super().run_cell(raw_cell, *args, **kwargs)
        result.raise_error()
        return result

    def capture(self, raw_cell) -> tuple[object, str, str]:
        """Run a cell; return (result, stdout, stderr)."""
        out, err = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            result = self.run_cell(raw_cell)
        return result.result, out.getvalue(), err.getvalue()

    def failure(self, raw_cell) -> tuple[Exception, str]:
        """Run a cell that must fail; return (the exception, what the user saw)."""
        out, err = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            result = InteractiveShell.run_cell(self, raw_cell)
        assert result.error_in_exec is not None, "the cell should have failed"
        return result.error_in_exec, out.getvalue() + err.getvalue()


def loaded_shell() -> TestingShell:
    """The process's TestingShell, history off, with `%load_ext kfx_notebook` done once."""
    sh = TestingShell.instance()
    sh.history_manager.enabled = False
    if "KustoMagics" not in sh.magics_manager.registry:
        sh.run_line_magic("load_ext", "kfx_notebook")
    return sh
