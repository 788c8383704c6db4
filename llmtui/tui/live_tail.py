"""The end of a streaming reply: text that grows a frame at a time, repainting only what moved.

A `Static` re-wraps and re-renders all of its text when it changes; at 20 frames a second
over a paragraph of ten rows that was most of the UI's CPU while a reply streamed (profiled:
5.7 s of 13.6 s). Appending text can only change the last wrapped row of the last line (the
rows before it are settled: greedy wrapping never takes a word back), so this widget keeps
the wrapped rows, re-wraps the last line alone, and asks Textual to repaint the rows that
differ, usually one.

Inline Markdown that is already closed shows as it will in the finished block — **bold**
and *italic* without their markers — so the text does not change look when its block
moves to the Markdown; lines inside a code fence stay as written.
"""

from __future__ import annotations

import re

from textual.content import Content
from textual.geometry import Region, Size
from textual.strip import Strip
from textual.widget import Widget

from llmtui.tui.rows import row_strip, same_row

STEP = 4  # rows the widget's height grows by at a time
FENCE = "```"
MARKUP = re.compile(r"[*_`]")  # what `styled` may style
WORD = re.compile(r"\S")
# (pattern, style, whether to look inside): code spans are left exactly as written.
INLINE = [
    (re.compile(r"`[^`]+`"), "", False),
    (re.compile(r"(\*\*|__)(?=\S)(.+?)(?<=\S)\1"), "bold", True),
    (re.compile(r"(?<![*\w])([*_])(?=[^\s*_])(.+?)(?<=[^\s*_])\1(?![*\w])"), "italic", True),
]


def _pieces(text: str, rules: list[tuple[re.Pattern[str], str, bool]]) -> list[tuple[str, str]]:
    if not rules:
        return [(text, "")]
    (pattern, style, inside), rest = rules[0], rules[1:]
    pieces: list[tuple[str, str]] = []
    end = 0
    for match in pattern.finditer(text):
        pieces += _pieces(text[end : match.start()], rest)
        if inside:
            pieces += [(t, f"{style} {s}".strip()) for t, s in _pieces(match.group(2), rest)]
        else:
            pieces.append((match.group(0), ""))
        end = match.end()
    return pieces + _pieces(text[end:], rest)


def styled(line: str) -> Content:
    """One line of Markdown with its closed bold and italic spans styled, markers removed."""
    return Content.assemble(
        *((text, style) if style else text for text, style in _pieces(line, INLINE) if text)
    )


def wrap(line: Content, width: int) -> list[Content]:
    """A line as the rows it takes at `width` (at least one, empty for an empty line)."""
    return line.wrap(width) or [Content("")]


def lines_of(text: str, fenced: bool = False) -> list[Content]:
    """The text's lines, styled outside code fences (`fenced`: it starts inside one)."""
    lines = []
    for line in text.split("\n"):
        lines.append(Content(line) if fenced or FENCE in line else styled(line))
        fenced ^= line.count(FENCE) % 2 == 1
    return lines


class LiveTail(Widget):
    """Text, wrapped, that only grows at its end (or starts again with `reset`).

    Its height grows STEP rows at a time: a change of height is a layout of the screen and
    a scroll of the transcript (each a repaint of all of it), so one per STEP wrapped rows,
    and the frames between repaint a row or two."""

    DEFAULT_CSS = "LiveTail { height: auto; }"

    def __init__(self, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.text = ""
        self._rows: list[Content] = []
        self._last_line = 0  # index in _rows of the first row of the text's last line
        self._width = 0  # what _rows were wrapped to; 0 before the first layout
        self._reserved = STEP  # rows of height: len(_rows) rounded up to a multiple of STEP

    @property
    def rows(self) -> list[str]:
        """The text as wrapped for the last layout's width."""
        return [row.plain for row in self._rows]

    def reset(self, text: str = "") -> None:
        """Show `text` in place of everything shown so far."""
        self.text, self._rows, self._last_line = "", [], 0
        self.append(text)
        self.refresh()

    def append(self, text: str) -> None:
        before = len(self.text)
        self.text += text
        if text and self._width:
            self._wrap_from(before, self._width)
        if self._reserve() or not (self._width or before):
            self.refresh(layout=True)  # taller, or text before the first layout

    def _reserve(self) -> bool:
        """Round the height up to whole STEPs of rows, one at least; True if that changed it.
        Never less than one STEP, so that a tail emptied when a block goes to the Markdown
        keeps its place for the next block: no second layout per block."""
        reserved = max(1, -(-len(self._rows) // STEP)) * STEP
        changed, self._reserved = reserved != self._reserved, reserved
        return changed

    def _wrap_from(self, before: int, width: int) -> None:
        """Wrap again the line that held text[before], and the lines after it; repaint the
        rows that changed."""
        start = self._last_line
        first = self.text.rfind("\n", 0, before) + 1
        fenced = self.text.count(FENCE, 0, first) % 2 == 1
        line = self.text[first:]
        new: list[Content] = []
        if (
            "\n" not in line
            and (fenced or not MARKUP.search(line))
            and (offset := self._last_row_start(first, before)) is not None
        ):
            # A line shown as written (no markup to style) is wrapped again from its last
            # row alone: greedy wrapping never takes a row back. A model's paragraph can be
            # thousands of characters long, and wrapping all of it at every frame made a
            # frame cost more the longer it grew.
            start = len(self._rows) - 1
            new = wrap(Content(self.text[offset:]), width)
        else:
            for piece in lines_of(line, fenced):
                self._last_line = start + len(new)
                new.extend(wrap(piece, width))
        old = self._rows[start:]
        self._rows[start:] = new
        same = 0
        while same < min(len(old), len(new)) and same_row(old[same], new[same]):
            same += 1
        if same < max(len(old), len(new)):
            self.refresh(Region(0, start + same, width, max(len(old), len(new)) - same))

    def _last_row_start(self, first: int, before: int) -> int | None:
        """Where in the text the last row starts, if that is where a word starts (for the
        wrapping, a word is its spaces before the first one of the line, and its spaces
        after): then it wraps from there as it did in its line. A row that starts inside a
        word is part of a fold, which cuts spaces too. `first`: where the row's line starts;
        `before`: where the text ended."""
        if not self._rows:
            return None
        text = self.text
        offset = text.rfind(self._rows[-1].plain, first, before)
        if offset == first:
            # The line's only row; else a row that is not its text (a wide character a
            # row of one cell cannot hold shows as a space) matched too early.
            return offset if len(self._rows) - 1 == self._last_line else None
        starts_word = offset < before and not text[offset].isspace() and text[offset - 1].isspace()
        return offset if starts_word and WORD.search(text, first, offset) else None

    def get_content_height(self, container: Size, viewport: Size, width: int) -> int:
        # Layouts (the transcript's `stream` among them) ask for the height at a width:
        # the first layout, or a resize, wraps everything at the width given.
        if width != self._width:
            self._width, self._rows, self._last_line = width, [], 0
            if width and self.text:
                self._wrap_from(0, width)
            self._reserve()
        return self._reserved

    def render_line(self, y: int) -> Strip:
        row = self._rows[y] if y < len(self._rows) else Content("")
        return row_strip(row, self.content_size.width, self.visual_style)
