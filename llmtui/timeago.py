"""How long ago something happened, in words: for every face (a list of models, of
conversations)."""

from __future__ import annotations

import time


def ago(timestamp: float, now: float | None = None) -> str:
    """'3 minutes ago', as `ollama list` prints MODIFIED."""
    seconds = max(0.0, (now if now is not None else time.time()) - timestamp)
    for unit, size in (
        ("year", 31_536_000),
        ("month", 2_592_000),
        ("week", 604_800),
        ("day", 86_400),
        ("hour", 3_600),
        ("minute", 60),
    ):
        if seconds >= size:
            count = int(seconds // size)
            return f"{count} {unit}{'s' if count > 1 else ''} ago"
    return "Less than a minute ago" if seconds >= 1 else "Less than a second ago"
