"""How the command line prints numbers, durations and tables, in Ollama's style."""

from __future__ import annotations

from collections.abc import Sequence

from llmtui.engine import Done
from llmtui.engine.memory import human_bytes as human_size
from llmtui.timeago import ago

__all__ = [
    "ago",
    "duration",
    "human_size",
    "table",
    "timings",
]


def duration(ns: int) -> str:
    """Like Go's time.Duration: 1.234567s, 12.345ms, 850µs."""
    if ns >= 60_000_000_000:
        minutes, rest = divmod(ns, 60_000_000_000)
        return f"{minutes}m{rest / 1e9:.6g}s"
    if ns >= 1_000_000_000:
        return f"{ns / 1e9:.6g}s"
    if ns >= 1_000_000:
        return f"{ns / 1e6:.6g}ms"
    if ns >= 1_000:
        return f"{ns / 1e3:.6g}µs"
    return f"{ns}ns"


def table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """Columns padded to their widest cell, three spaces apart, like Ollama's tables."""
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    lines = [
        "   ".join(str(c).ljust(w) for c, w in zip(r, widths, strict=True)).rstrip()
        for r in [header, *rows]
    ]
    return "\n".join(lines)


def timings(done: Done) -> str:
    """The block `ollama run --verbose` prints after an answer."""
    return "\n".join(
        [
            f"total duration:       {duration(done.total_duration)}",
            f"load duration:        {duration(done.load_duration)}",
            f"prompt eval count:    {done.prompt_eval_count} token(s)",
            f"prompt eval duration: {duration(done.prompt_eval_duration)}",
            f"prompt eval rate:     {done.prompt_eval_rate:.2f} tokens/s",
            f"eval count:           {done.eval_count} token(s)",
            f"eval duration:        {duration(done.eval_duration)}",
            f"eval rate:            {done.eval_rate:.2f} tokens/s",
        ]
    )
