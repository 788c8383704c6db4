"""The stats pane: speed, context and memory, updated a few times a second at most."""

from __future__ import annotations

import time

from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import Label, ProgressBar, Sparkline, Static

from llmtui.engine import Done, LiveStats
from llmtui.engine.memory import human_bytes

STATS_EVERY = 0.25  # seconds: live stats are drawn 4 times a second at most


class StatsPane(Vertical, can_focus=True):
    # Fixed heights, updated with layout=False: a text update otherwise asks for a layout of
    # the whole screen, ten times a second while a reply streams (measured: a large part of
    # the UI's CPU).
    DEFAULT_CSS = """
    StatsPane > #speed { height: 3; }
    StatsPane > #memory { height: 4; }
    StatsPane > Label { height: 1; }
    StatsPane > Sparkline { height: 3; margin: 0 0 1 0; }
    StatsPane > ProgressBar { height: 1; margin: 0 0 1 0; }
    """

    def __init__(self, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.rates: list[float] = []
        self.last_done: Done | None = None
        self.live: LiveStats | None = None
        self._shown = 0.0  # when live stats were last drawn

    def compose(self) -> ComposeResult:
        yield Static("no reply yet", id="speed")
        yield Label("tok/s of recent replies")
        yield Sparkline([], id="rates")
        yield Label("context", id="context-label")
        yield ProgressBar(total=1, show_eta=False, id="context")
        yield Static("", id="memory")

    def show_live(self, stats: LiveStats) -> None:
        self.live = stats
        now = time.monotonic()
        if now - self._shown < STATS_EVERY:
            return  # the next one shows it; the reply's end shows the final figures
        self._shown = now
        self._draw_live(stats)

    def _draw_live(self, stats: LiveStats) -> None:
        self._render_speed(stats.tokens_per_second, stats.eval_count)
        self.query_one("#context-label", Label).update(
            f"context {stats.context_used:,} / {stats.context_size:,}", layout=False
        )
        self.query_one("#context", ProgressBar).update(
            total=stats.context_size, progress=stats.context_used
        )
        layers = (
            "CPU"
            if stats.backend == "CPU"
            else (f"{stats.backend}, {stats.gpu_layers}/{stats.layers} layers offloaded")
        )
        self.query_one("#memory", Static).update(
            f"RSS {human_bytes(stats.rss)}\nmodel {human_bytes(stats.model_size)}"
            f"  KV cache {human_bytes(stats.kv_cache_size)}\nbackend {layers}\n"
            f"load {stats.load_duration / 1e9:.2f} s",
            layout=False,
        )

    def show_done(self, done: Done) -> None:
        self.last_done = done
        if self.live is not None:
            self._draw_live(self.live)  # the figures held back by STATS_EVERY
        if done.eval_count:
            self.rates.append(done.eval_rate)
            self.query_one("#rates", Sparkline).data = self.rates[-40:]
        self._render_speed(done.eval_rate, done.eval_count)

    def _render_speed(self, rate: float, tokens: int) -> None:
        done = self.last_done
        extra = ""
        if done is not None:
            extra = (f"\nfirst token {done.time_to_first_token / 1e6:.0f} ms"
                     f"\nprompt {done.prompt_eval_rate:.0f} tok/s")  # fmt: skip
        self.query_one("#speed", Static).update(
            f"{rate:.1f} tok/s · {tokens} tokens{extra}", layout=False
        )
