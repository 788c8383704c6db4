"""Unexpected errors go, with their tracebacks, to a log file in the state dir: never to the
terminal (the workbench's screen, or a one-line CLI error), where Python's last-resort
handler would print them."""

from __future__ import annotations

import functools
import logging

from llmtui import paths


@functools.cache
def install() -> logging.Logger:
    """The `llmtui` logger, writing to the error log (once per process)."""
    logger = logging.getLogger("llmtui")
    path = paths.error_log_path()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        handler: logging.Handler = logging.FileHandler(path, encoding="utf-8", delay=True)
    except OSError:
        handler = logging.NullHandler()  # an unwritable state dir: lose the log, not the app
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    logger.propagate = False
    return logger
