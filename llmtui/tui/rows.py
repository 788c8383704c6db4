"""Rows of `Content` as line-API widgets paint them (the live tail, the live figures)."""

from __future__ import annotations

from textual.content import Content
from textual.strip import Strip
from textual.style import Style


def row_strip(row: Content, width: int, style: Style) -> Strip:
    """`row` painted `width` cells wide in `style`. The padding takes `style.rich_style`
    (cached on the style), not the widget's `rich_style`: that walks every ancestor's
    styles, a third of a frame's render when it was asked for each row."""
    return Strip(row.render_segments(style)).adjust_cell_length(width, style.rich_style)


def same_row(a: Content, b: Content) -> bool:
    # Content's == compares the text alone; a row that turns bold must be repainted.
    return a.plain == b.plain and a.spans == b.spans
