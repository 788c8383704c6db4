"""The workbench's main screen: Textual's, with two repaint costs of a streaming reply cut.

Measured on a reply replayed at 60 tok/s (bench/tui.py --replay), the UI's CPU went from
8.1-8.6% of a core to 5.5-5.8%; each change is Textual-internal, so each is pinned by a test
(tests/test_screen.py) that fails if a Textual release changes what it overrides.

- A partial repaint (one row of the live tail, at every frame) rendered every widget whose
  container overlaps the dirty rows, each one whole: thirteen widgets, ~1.9 ms a frame.
  `RowCompositor` renders only the widgets that show something there, and only those rows:
  five widgets (the tail and its ancestors), one row each, ~1.0 ms.
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
        for widget, (region, clip) in self.visible_widgets.items():
            shown = region.intersection(clip)
            if not shown.overlaps(crop):
                continue
            # Whole rows of what shows: the compositor cuts lines at widget edges, so a
            # strip must start where the widget (or its clip) does.
            rows = shown.intersection(Region(shown.x, crop.y, shown.width, crop.height))
            lines = rows.translate(-region.offset)
            yield region, rows, widget.render_lines(lines)


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
