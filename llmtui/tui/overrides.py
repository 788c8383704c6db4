"""Where the workbench replaces Textual's internals: each override says what it replaces
and why. Textual is pinned to the versions these were tested with (pyproject.toml).

Each change is Textual-internal, so each is pinned by a test (tests/test_screen.py,
tests/test_keys.py) that fails with Textual's own code.

- Errors (`AppOverrides`): an exception in one of the app's handlers ended the app, with
  exit code 0 (a model switch that asked a question from outside a worker closed the
  workbench and lost the chat). The app's handlers, and its workers, now log the traceback
  to llmtui.log and show the error, and the app keeps running; an error anywhere else still
  ends it as Textual does (that widget no longer handles messages), logged the same way,
  and `llmtui` exits with 1.
- Keys in order (`AppOverrides`, the app): Textual runs a priority binding as its key
  reaches the app, while the keys before it still wait in the focused widget's queue, and
  it runs every other binding when the key has bubbled back up to the app, while the widget
  already handles the next key. A prompt typed in one burst (tmux `send-keys`, a paste
  without bracketed paste, keys over SSH) then lost its end to Enter, a Backspace deleted
  the character typed after it. The app now hands a key on only once the one before it has
  been handled, by the widget and by every binding on its way up.

- Layouts: the `stream` layout of the transcript and of each reply measures again only the
  children on the way up from a widget that asked for a layout. Textual recorded only the
  first step of that way, so a block added to a reply's Markdown in the frame the live
  tail shrank left the Markdown at its old height: every block after the first was cut
  off until the reply ended. `WorkbenchScreen._on_layout` records every step.
- A partial repaint (one row of the live tail, at every frame) rendered every widget whose
  container overlaps the dirty rows, each one whole: thirteen widgets, ~1.9 ms a frame.
  `RowCompositor` renders only the rows of a widget that show: not those outside the
  dirty ones, nor those that widgets in front cover. A frame renders one row of the tail
  (its four ancestors are behind it), and the repaint after a layout renders no message
  container under its blocks.
- After a layout, Textual tells every widget whose size changed its new virtual size; that
  reactive asks for a second layout of the whole screen (~10 ms, at each growth of a
  reply). Only a widget whose scrollbars come or go needs it (its content is narrower),
  so `WorkbenchScreen` drops the others: a reply replayed at 60 tok/s into the transcript
  was laid out 98 times instead of 55.
- Each widget a layout resized (and the scrollbar it moved) asks, from inside the layout,
  to be repainted, and Textual repainted them a frame later: at every growth of a reply
  the transcript was painted twice, ~120 rows after the layout's ~190. The layout's own
  repaint came after those widgets were told their new sizes, so it painted them as they
  are: `WorkbenchScreen` drops the requests of widgets whose whole shown part it painted.

- The transcript's scrollbar (`row_scrollbar`): Textual makes a widget's scrollbar on first
  use in `Widget.vertical_scrollbar`, with no way to give another class; this makes a
  `RowScrollBar` (scrollbar.py: ~1.4 ms a repaint less) the same way.
- Following the reply (`anchor_released`): Textual keeps whether the user scrolled away
  from an anchored widget's end, and says only `is_anchored` (set by `anchor()`, which
  scrolling up does not clear); the transcript's "the reply goes on below" bar needs the
  release itself. The scroll position alone lags a frame behind a growing reply.
- Highlights from a Pygments lexer (`LexerTextArea`): TextArea highlights only through
  tree-sitter grammars; the Modelfile language has a Pygments lexer (the same that
  `pygmentize -l modelfile` uses), so `_build_highlight_map` is replaced to fill TextArea's
  highlight map from it.

Where an attribute these rely on is gone (another Textual), each falls back to Textual's
own behaviour: its own scrollbar, following judged by the scroll position, no highlights.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable, Iterable

from rich.style import Style
from textual import events, messages
from textual._compositor import Compositor
from textual.app import App, ReturnType
from textual.geometry import Region, Size
from textual.message import Message
from textual.screen import Screen
from textual.scrollbar import ScrollBar
from textual.strip import Strip
from textual.timer import Timer
from textual.widget import Widget
from textual.widgets import TextArea
from textual.worker import Worker, WorkerState

from llmtui import errorlog, paths


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


def _scrollbars(widget: Widget) -> tuple[bool, bool]:
    return widget.show_vertical_scrollbar, widget.show_horizontal_scrollbar


def _painted_whole(painted: list[Region], placed: tuple[Region, Region] | None) -> bool:
    """Whether one of the `painted` regions holds all that shows of a widget placed
    at (region, clip)."""
    if placed is None:
        return False
    region, clip = placed
    shown = region.intersection(clip)
    return bool(shown) and any(area.contains_region(shown) for area in painted)


class WorkbenchScreen(Screen[None]):
    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self._compositor = RowCompositor()
        # While a layout runs: the regions its repaint painted.
        self._layout_painted: list[Region] | None = None

    def _refresh_layout(self, size: Size | None = None, scroll: bool = False) -> None:
        widgets = self._compositor.widgets
        before = {widget for widget in widgets if widget._layout_required}
        # Scrollbars are in the map but not in `widgets`.
        waiting = {widget for widget in self._compositor.full_map if widget._repaint_required}
        bars = {widget: _scrollbars(widget) for widget in widgets if not _cannot_scroll(widget)}
        self._layout_painted = []
        try:
            super()._refresh_layout(size, scroll)
            painted = self._layout_painted
        finally:
            self._layout_painted = None
        for widget in self._compositor.widgets:
            if (
                widget._layout_required
                and widget not in before
                and (widget not in bars or _scrollbars(widget) == bars[widget])
            ):
                widget._layout_required = False
        for widget, placed in self._compositor.visible_widgets.items():
            if (
                widget._repaint_required
                and widget not in waiting
                and _painted_whole(painted, placed)
            ):
                widget._repaint_required = False
                widget._repaint_regions.clear()

    def _compositor_refresh(self) -> None:
        if self._layout_painted is not None:
            self._layout_painted.extend(self._compositor._dirty_regions)
        super()._compositor_refresh()

    async def _on_layout(self, message: messages.Layout) -> None:
        # Textual's handler, with one fix. For each container with `auto` height up from
        # the widget that changed, it records which child led there, and the `stream`
        # layout (transcript, replies) measures again only those children, reusing every
        # other child's last height. Textual asks whether the child is a *container* with
        # records (it always is, one step up), not whether the container holds it, so
        # only the first step is recorded: a block added to a reply's Markdown left the
        # Markdown at its old height, and the blocks after the first were cut off.
        message.stop()
        message.prevent_default()
        widget = message.widget
        required = False
        for ancestor in widget.ancestors:
            if not isinstance(ancestor, Widget):
                break
            children = self._layout_widgets.setdefault(ancestor, set())
            if widget not in children:
                children.add(widget)
                required = True
            if not ancestor.styles.auto_dimensions:
                break
            widget = ancestor
        if required and not self._layout_required:
            self._layout_required = True
            self.check_idle()


# A key whose marker has not come back by then is taken as handled, so no later key waits on
# it for ever; so is one whose widget went away meanwhile (Enter closes a dialog, say), as
# messages no longer bubble from a widget that is gone.
KEY_TIMEOUT = 0.5  # seconds
KEY_CHECK = 0.05  # seconds between checks while keys wait


class KeyHandled(Message):
    """Sent behind a key to the widget it went to: a message bubbles from queue to queue,
    so it reaches the app after the key has been handled, and after the bindings of every
    widget on the key's way up (checked when the key reaches the app) have run."""

    def __init__(self, serial: int) -> None:
        super().__init__()
        self.serial = serial


class KeyCheck(Message):
    """Time to see whether the key on its way was lost (see KEY_TIMEOUT)."""


class AppOverrides(App[ReturnType]):
    """An app that hands each key (or paste) on only once the one before it was handled,
    and that outlives an error in its own handlers."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self._keys_waiting: deque[events.Event] = deque()
        # The widget the last key went to, and when, until its marker comes back.
        self._key_target: Widget | None = None
        self._key_sent_at = 0.0
        self._key_serial = 0  # a marker that comes back after its key timed out is not the last
        self._key_check: Timer | None = None
        self._sending = False

    # -- errors ------------------------------------------------------------------------

    async def _dispatch_message(self, message: Message) -> None:
        try:
            await super()._dispatch_message(message)
        except Exception as error:  # Textual would end its message loop, and the app
            self.report_error(error)

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        # Workers declared with exit_on_error=False: their failure is reported here.
        if event.state is WorkerState.ERROR and event.worker.error is not None:
            self.report_error(event.worker.error)

    def report_error(self, error: BaseException) -> None:
        """Log `error` with its traceback and show it; the app goes on."""
        errorlog.install().error("unexpected error in the workbench", exc_info=error)
        self.notify(
            f"{type(error).__name__}: {error} (the traceback is in {paths.error_log_path()})",
            title="unexpected error",
            severity="error",
            timeout=20,
        )

    def _handle_exception(self, error: Exception) -> None:
        errorlog.install().error("the workbench ended on an error", exc_info=error)
        super()._handle_exception(error)

    # -- keys --------------------------------------------------------------------------

    async def on_event(self, event: events.Event) -> None:
        if isinstance(event, (events.Key, events.Paste)) and not event.is_forwarded:
            self._keys_waiting.append(event)
            await self._send_keys()
            return
        await super().on_event(event)

    async def _send_keys(self) -> None:
        # Never two at once: the loop awaits Textual's handling of each key, and a second
        # caller meanwhile would hand the next key on first (keys swapped: "Hello" typed
        # under load came out "Hlelo").
        if self._sending:
            return
        self._sending = True
        try:
            while self._keys_waiting and self._key_target is None:
                event = self._keys_waiting.popleft()
                # Textual's own handling: priority bindings, else the key goes to the focused
                # widget's queue (marked as forwarded); nothing happens after that.
                await super().on_event(event)
                if event.is_forwarded:
                    self._key_target = self.focused or self.screen
                    self._key_sent_at = time.monotonic()
                    self._key_serial += 1
                    self._key_target.post_message(KeyHandled(self._key_serial))
        finally:
            self._sending = False
        if self._keys_waiting and self._key_check is None:
            # The timer posts a message: a timer's callback runs in the timer's own task,
            # beside the app's message loop, which is where keys must be handed on.
            self._key_check = self.set_interval(KEY_CHECK, lambda: self.post_message(KeyCheck()))
        elif not self._keys_waiting and self._key_check is not None:
            self._key_check.stop()
            self._key_check = None

    async def on_key_handled(self, message: KeyHandled) -> None:
        message.stop()
        if message.serial == self._key_serial:
            self._key_target = None
            await self._send_keys()

    async def on_key_check(self, message: KeyCheck) -> None:
        message.stop()
        target = self._key_target
        if (
            target is None
            or not target.is_attached
            or (time.monotonic() - self._key_sent_at >= KEY_TIMEOUT)
        ):
            self._key_target = None
            await self._send_keys()


# -- widgets ------------------------------------------------------------------------------


def row_scrollbar(widget: Widget, make: Callable[[], ScrollBar]) -> ScrollBar:
    """`widget`'s vertical scrollbar, made by `make` the first time it is asked for (what
    `Widget.vertical_scrollbar` does with Textual's own)."""
    if not hasattr(widget, "_vertical_scrollbar") or not hasattr(widget.app, "_start_widget"):
        return Widget.vertical_scrollbar.fget(widget)  # type: ignore[attr-defined,no-any-return]
    if widget._vertical_scrollbar is None:
        bar = make()
        bar.display = False
        widget._vertical_scrollbar = bar
        widget.app._start_widget(widget, bar)
    return widget._vertical_scrollbar


def anchor_released(widget: Widget) -> bool:
    """Whether the user scrolled away from an anchored widget's end (until they scroll, or
    it is anchored, back)."""
    released = getattr(widget, "_anchor_released", None)
    if released is None:
        return widget.scroll_y < widget.max_scroll_y
    return bool(released)


class LexerTextArea(TextArea):
    """A TextArea whose highlights come from `highlight_spans` (a Pygments lexer's)."""

    def highlight_spans(self) -> Iterable[tuple[int, int, int, str]]:
        """(row, start byte, end byte, highlight name) for the text now."""
        return ()

    def syntax_styles(self) -> dict[str, Style] | None:
        """The TextArea theme's syntax styles, to add highlight names of one's own (None
        before the theme is set, or where Textual keeps no theme object)."""
        theme = getattr(self, "_theme", None)
        return None if theme is None else theme.syntax_styles

    def rehighlight(self) -> None:
        """Build the highlights again (what `highlight_spans` gives has changed)."""
        self._build_highlight_map()
        self.refresh()

    def _build_highlight_map(self) -> None:
        highlights = getattr(self, "_highlights", None)
        cache = getattr(self, "_line_cache", None)
        if highlights is None or cache is None:
            super()._build_highlight_map()
            return
        cache.clear()
        highlights.clear()
        for row, start, end, name in self.highlight_spans():
            highlights[row].append((start, end, name))
