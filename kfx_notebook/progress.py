"""Progress bars that leave nothing behind: drawn only once work has run about a second, gone when it ends.

`activity` watches one blocking call (serializing, ingesting, querying). In a Jupyter kernel
the bar is a tqdm widget shown with only its widget mime type in an output this module owns
(a display id); when the work ends that output is updated to a widget view with no model,
which JupyterLab hides and no viewer draws — so a saved notebook holds nothing that needs a
live kernel (no "Error displaying widget: model not found"), and nbval, which compares no
widget mime type, sees the same outputs whether a bar was drawn or not. In a terminal tqdm
draws text on stderr and clears it (leave=False). tqdm is imported only when a bar is drawn.
"""

from __future__ import annotations

import contextlib
import contextvars
import threading

DELAY = 1.0     # seconds of work before a bar is worth showing
REFRESH = 0.25  # seconds between redraws of a running bar
WIDGET_MIME = "application/vnd.jupyter.widget-view+json"
GONE = {WIDGET_MIME: {"version_major": 2, "version_minor": 0, "model_id": ""}}  # a view with no model: hidden


@contextlib.contextmanager
def activity(desc: str, *, kernel: bool):
    """Run the `with` body; if it is still running after DELAY, show a bar until it ends, then remove it."""
    done = threading.Event()
    shown: dict = {}

    def watch():
        if done.wait(DELAY):
            return
        shown["bar"], shown["handle"] = _open(desc, kernel)
        while not done.wait(REFRESH):
            shown["bar"].refresh()

    # the watcher draws into the cell that started it (the kernel's parent header lives in a contextvar)
    watcher = threading.Thread(target=contextvars.copy_context().run, args=(watch,), daemon=True,
                               name=f"kfx-progress: {desc}")
    watcher.start()
    try:
        yield shown
    finally:
        done.set()
        watcher.join()
        if "bar" in shown:
            shown["bar"].close()
        if shown.get("handle") is not None:
            shown["handle"].update(GONE, raw=True)


def _open(desc: str, kernel: bool):
    """(bar, display handle or None): a widget in its own output in a kernel, else text on stderr."""
    if kernel:
        from IPython.display import display
        from tqdm.notebook import tqdm

        bar = tqdm(total=None, desc=desc, bar_format="{desc}: {elapsed}", leave=False, display=False)
        view = bar.container._repr_mimebundle_()[WIDGET_MIME]
        return bar, display({WIDGET_MIME: view}, raw=True, display_id=True)
    from tqdm import tqdm

    return tqdm(total=None, desc=desc, bar_format="{desc}: {elapsed}", leave=False), None
