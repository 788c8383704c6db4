"""The transcript's vertical scrollbar, painted from rows kept between repaints.

Textual's scrollbar renders a Rich renderable, then passes each row through the styles
cache: ~1.4 ms for 36 rows, ~3 ms inside the repaint after a layout. A streaming reply
moves the bar at every growth of the reply (each a layout), and that was the largest part
of the repaint: more than the transcript's text. The bar has one column of one glyph per
row, so this one makes the same segments (`render_bar`, with the colours and mouse
actions Textual gives them) once per position and hands out its rows.
"""

from __future__ import annotations

from rich.color import Color
from rich.style import Style
from textual.geometry import Region
from textual.scrollbar import ScrollBar, ScrollBarRender
from textual.strip import Strip

# render_bar's own defaults, for a style without a colour
BACK = Color.parse("#555555")
BAR = Color.parse("bright_magenta")


class RowScrollBar(ScrollBar):
    def __init__(self, vertical: bool = True, name: str | None = None, *, thickness: int = 1):
        super().__init__(vertical, name, thickness=thickness)
        self._key: tuple[object, ...] = ()
        self._rows: list[Strip] = []

    def render_lines(self, crop: Region) -> list[Strip]:
        bar = self.render()
        if not self.vertical or not isinstance(bar, ScrollBarRender):
            return super().render_lines(crop)
        style = bar.style if isinstance(bar.style, Style) else Style.parse(bar.style)
        filters = self.get_line_filters()
        width, height = self.size
        key = (width, height, bar.virtual_size, bar.window_size, bar.position, style, *filters)
        if key != self._key:
            background = self.background_colors[1]
            base = self.visual_style.rich_style  # what Rich renders the bar over
            segments = bar.render_bar(
                size=height,
                virtual_size=bar.virtual_size,
                window_size=bar.window_size,
                position=bar.position,
                thickness=width,
                vertical=True,
                back_color=style.bgcolor or BACK,
                bar_color=style.color or BAR,
            )
            rows = []
            for segment in segments.segments:
                strip = Strip([segment], width).apply_style(base)
                for line_filter in filters:
                    strip = strip.apply_filter(line_filter, background)
                rows.append(strip)
            self._key, self._rows = key, rows
        return [row.crop(crop.x, crop.right) for row in self._rows[crop.y : crop.bottom]]
