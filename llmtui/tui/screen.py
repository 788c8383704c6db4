"""The workbench's main screen: Textual's, with two repaint costs of a streaming reply cut.

Measured on a reply replayed at 60 tok/s (bench/tui.py --replay), the UI's CPU went from
8.1-8.6% of a core to 5.5-5.8%; each change is Textual-internal, so each is pinned by a test
(tests/test_screen.py) that fails if a Textual release changes what it overrides.

- A partial repaint (one row of the live tail, at every frame) rendered every widget whose
  container overlaps the dirty rows, each one whole: thirteen widgets, ~1.9 ms a frame.
  `RowCompositor` renders only the rows of a widget that show: not those outside the
  dirty ones, nor those that widgets in front cover. A frame renders one row of the tail
  (its four ancestors are behind it), and the repaint after a layout renders no message
  container under its blocks. With the tail's row style kept (live_tail.py), a reply
  replayed at 60 tok/s cost 5.6-7.1% of a core instead of 6.7-8.3% (three runs each,
  alternated).
- After a layout, Textual tells every widget whose size changed its new virtual size; that
  reactive asks for a layout, so each layout was followed by a second one of the whole
  screen (~7 ms, two per paragraph of a reply). A widget that cannot scroll has no use for
  its virtual size, so `WorkbenchScreen` drops the layouts those echoes ask for.
"""

from __future__ import annotations

from collections.abc import Iterable

from textual._compositor import Compositor
from textual.geometry import Region, Size
from textual.screen import Screen
from textual.strip import Strip
from textual.widget import Widget


class RowCompositor(Compositor):
    def _get_renders(
        self, crop: Region | None = None
    ) -> Iterable[tuple[Region, Region, list[Strip]]]:
        if crop is None:
            yield from super()._get_renders(crop)
            return
        painted = _Painted()
        for widget, (region, clip) in self.visible_widgets.items():
            shown = region.intersection(clip)
            needed = shown.intersection(crop)
            if not needed:
                continue
            # Whole rows of what shows (the compositor cuts lines at widget edges, so a
            # strip must start where the widget or its clip does), but only the rows where
            # a widget in front has not already painted all the widget has to show.
            for top, bottom in painted.paint(needed):
                rows = Region(shown.x, top, shown.width, bottom - top)
                yield region, rows, widget.render_lines(rows.translate(-region.offset))


class _Painted:
    """What widgets in front have painted of a crop, row by row. Painting is front to back
    and the first strip painted in a cell wins, so rows where a widget is hidden need not
    be rendered: the live tail's ancestors at every frame, the messages' containers after
    a layout."""

    def __init__(self) -> None:
        self._rows: dict[int, list[tuple[int, int]]] = {}  # row -> spans painted, merged

    def paint(self, area: Region) -> list[tuple[int, int]]:
        """Paint `area`; return the bands of rows (top, bottom) where it shows."""
        bands: list[tuple[int, int]] = []
        start, end = area.x, area.right
        for y in range(area.y, area.bottom):
            spans = self._rows.setdefault(y, [])
            if any(left <= start and end <= right for left, right in spans):
                continue
            merged: list[tuple[int, int]] = []
            for left, right in sorted([*spans, (start, end)]):
                if merged and left <= merged[-1][1]:
                    merged[-1] = (merged[-1][0], max(merged[-1][1], right))
                else:
                    merged.append((left, right))
            spans[:] = merged
            if bands and bands[-1][1] == y:
                bands[-1] = (bands[-1][0], y + 1)
            else:
                bands.append((y, y + 1))
        return bands


def _cannot_scroll(widget: Widget) -> bool:
    styles = widget.styles
    return (styles.overflow_x, styles.overflow_y) == ("hidden", "hidden")


class WorkbenchScreen(Screen[None]):
    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self._compositor = RowCompositor()

    def _refresh_layout(self, size: Size | None = None, scroll: bool = False) -> None:
        before = {widget for widget in self._compositor.widgets if widget._layout_required}
        super()._refresh_layout(size, scroll)
        for widget in self._compositor.widgets:
            if widget._layout_required and widget not in before and _cannot_scroll(widget):
                widget._layout_required = False
