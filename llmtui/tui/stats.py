"""The stats pane: speed, context and memory, updated a few times a second at most."""

from __future__ import annotations

import time
from itertools import zip_longest

from textual.app import ComposeResult
from textual.containers import Vertical
from textual.content import Content
from textual.geometry import Region
from textual.strip import Strip
from textual.widget import Widget
from textual.widgets import Label, Sparkline

from llmtui.engine import Done, LiveStats
from llmtui.engine.memory import human_bytes
from llmtui.tui.rows import row_strip, same_row

STATS_EVERY = 0.25  # seconds: live stats are drawn 4 times a second at most
LIVE_ROWS = 9


def context_bar(used: int, size: int, width: int) -> Content:
    """The context used as a bar of `width` cells, in the theme's colours."""
    filled = round(width * min(1.0, used / size)) if size else 0
    # Assembled, not from markup: parsing the markup was half of each draw.
    return Content.assemble(("━" * filled, "$accent"), ("━" * (width - filled), "$foreground 20%"))


class Figures(Widget):
    """Lines of figures that repaints only the rows whose text changed.

    Measured while a reply streamed: a ProgressBar and five labels cost ~11 ms a draw (a
    repaint of the box around all of them and the chat beside), one `Static` with every
    line ~4 ms (at four draws a second, 1.6% of a core, a fifth of the UI's cost); most
    lines (memory, backend, first token) do not change between draws."""

    def __init__(self, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.lines: list[Content] = []

    def show(self, lines: list[Content]) -> None:
        width = self.size.width
        for y, (old, new) in enumerate(zip_longest(self.lines, lines)):
            if old is None or new is None or not same_row(old, new):
                self.refresh(Region(0, y, width, 1))
        self.lines = lines

    def render_line(self, y: int) -> Strip:
        width = self.content_size.width
        line = self.lines[y] if y < len(self.lines) else Content("")
        return row_strip(line.truncate(width, ellipsis=True), width, self.visual_style)


class StatsPane(Vertical, can_focus=True):
    """The live figures, the speed of recent replies as a sparkline."""

    DEFAULT_CSS = f"""
    StatsPane > #live {{ height: {LIVE_ROWS}; margin: 0 0 1 0; }}
    StatsPane > Label {{ height: 1; }}
    StatsPane > Sparkline {{ height: 3; }}
    """

    def __init__(self, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.rates: list[float] = []
        self.last_done: Done | None = None
        self.live: LiveStats | None = None
        self._shown = 0.0  # when live stats were last drawn
        self._figures: tuple[float, int] | None = None  # the speed last drawn

    def compose(self) -> ComposeResult:
        yield Figures(id="live")
        yield Label("tok/s of recent replies")
        yield Sparkline([], id="rates")

    def on_mount(self) -> None:
        self.query_one(Figures).show([Content("no reply yet")])

    def show_live(self, stats: LiveStats) -> None:
        self.live = stats
        now = time.monotonic()
        if now - self._shown < STATS_EVERY:
            return  # the next one shows it; the reply's end shows the final figures
        self._shown = now
        # After the frame that shows the reply's text, not in it: one repaint covers the
        # box around everything dirty, and the box around the chat's last row and this
        # pane is most of the screen.
        self.call_after_refresh(self._draw, stats.tokens_per_second, stats.eval_count)

    def show_done(self, done: Done) -> None:
        self.last_done = done
        if done.eval_count:
            self.rates.append(done.eval_rate)
            self.query_one("#rates", Sparkline).data = self.rates[-40:]
        self._draw(done.eval_rate, done.eval_count)

    def on_resize(self) -> None:
        # The context bar is as wide as the pane: drawn again when shown, zoomed or resized.
        if self._figures is not None:
            self._draw(*self._figures)

    def _draw(self, rate: float, tokens: int) -> None:
        self._figures = (rate, tokens)
        live = self.query_one(Figures)
        lines = [Content(f"{rate:.1f} tok/s · {tokens} tokens")]
        if (done := self.last_done) is not None:
            lines.append(Content(f"first token {done.time_to_first_token / 1e6:.0f} ms · "
                                 f"prompt {done.prompt_eval_rate:.0f} tok/s"))  # fmt: skip
        else:
            lines.append(Content("first token - · prompt -"))
        if (stats := self.live) is not None:
            size, used = stats.context_size, stats.context_used
            share = f"{used / size:.0%}" if size else "-"
            lines += [
                Content(f"context {used:,} / {size:,} · {share}"),
                context_bar(used, size, max(1, live.content_size.width)),
                Content(f"RSS {human_bytes(stats.rss)}"),
                Content(
                    f"model {human_bytes(stats.model_size)}  "
                    f"KV cache {human_bytes(stats.kv_cache_size)}"
                ),
                Content(f"backend {stats.offload()} · load {stats.load_duration / 1e9:.2f} s"),
                Content(stats.attention()),
                # One line either way: the pane's rows are fixed (LIVE_ROWS).
                Content(
                    f"threads {stats.thread_use()}"
                    + (" · OpenMP: models take turns" if stats.shared_thread else "")
                ),
            ]
        live.show(lines)
