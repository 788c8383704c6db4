"""The chat transcript: replies streamed as Markdown, a frame at a time."""

from __future__ import annotations

from typing import ClassVar

from textual import events
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical, VerticalScroll
from textual.message import Message as TextualMessage
from textual.widgets import Label, Markdown, Static, TextArea
from textual.widgets.markdown import MarkdownStream

from llmtui.engine import Done


class PromptInput(TextArea):
    """Enter sends; Ctrl+J inserts a newline; Up/Down on the first/last line recall prompts."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("enter", "send", "Send", id="chat.send", priority=True),
        Binding("ctrl+j", "newline", "Newline", id="chat.newline", show=False),
    ]

    class Send(TextualMessage):
        def __init__(self, text: str) -> None:
            super().__init__()
            self.text = text

    def __init__(self, **kwargs: object) -> None:
        super().__init__(soft_wrap=True, **kwargs)  # type: ignore[arg-type]
        self.sent: list[str] = []
        self._recall = 0

    def action_send(self) -> None:
        text = self.text.strip()
        if not text:
            return
        self.sent.append(text)
        self._recall = len(self.sent)
        self.clear()
        self.post_message(self.Send(text))

    def action_newline(self) -> None:
        self.insert("\n")

    async def _on_key(self, event: events.Key) -> None:
        row = self.cursor_location[0]
        if event.key == "up" and row == 0 and self.sent:
            self._recall = max(0, self._recall - 1)
            self.text = self.sent[self._recall]
            event.prevent_default()
        elif event.key == "down" and row == self.document.line_count - 1 and self.sent:
            self._recall = min(len(self.sent), self._recall + 1)
            self.text = self.sent[self._recall] if self._recall < len(self.sent) else ""
            event.prevent_default()
        else:
            await super()._on_key(event)


class Reply(Vertical):
    """One assistant reply, streamed: finished blocks as Markdown, the live tail as text.

    Profiling showed that re-rendering the growing Markdown at every frame cost the UI most
    of a core (each frame a layout of the whole screen). Here a block (paragraph, list, code
    fence) goes to the Markdown once, when it is complete; the block still being written is
    plain text, repainted without a layout unless it wraps onto a new line."""

    DEFAULT_CSS = """
    Reply { height: auto; margin: 0 0 1 0; layout: stream; }
    Reply > Markdown { margin: 0; padding: 0 1; layout: stream; }
    Reply > .tail { padding: 0 1; }
    Reply > .stats { color: $text-muted; padding: 0 1; }
    """

    def __init__(self) -> None:
        super().__init__()
        self.markdown = Markdown()
        self.tail = Static("", classes="tail")
        self.stats = Label("", classes="stats")
        self._stream: MarkdownStream | None = None
        self._tail_text = ""
        self._tail_rows = 0
        self._fences = 0  # code fences opened in the finished blocks

    def compose(self) -> ComposeResult:
        yield self.markdown
        yield self.tail
        yield self.stats

    async def write(self, text: str) -> None:
        tail = self._tail_text + text
        cut = self._block_end(tail)
        if cut:
            if self._stream is None:
                self._stream = Markdown.get_stream(self.markdown)
            done, tail = tail[:cut], tail[cut:]
            self._fences += done.count("```")
            await self._stream.write(done)
        self._tail_text = tail
        width = max(1, self.tail.content_size.width or 80)
        rows = sum(max(1, -(-len(line) // width)) for line in tail.split("\n")) if tail else 0
        self.tail.update(tail, layout=rows != self._tail_rows)
        self._tail_rows = rows

    def _block_end(self, text: str) -> int:
        """Where the last complete block ends (after a blank line outside a code fence)."""
        end = text.rfind("\n\n")
        while end >= 0:
            if (self._fences + text.count("```", 0, end)) % 2 == 0:
                return end + 2
            end = text.rfind("\n\n", 0, end)
        return 0

    async def finish(self, done: Done | None, text: str) -> None:
        """Stop streaming and render the whole reply once, properly."""
        if self._stream is not None:
            await self._stream.stop()
            self._stream = None
        self.tail.display = False
        await self.markdown.update(text or "*(no answer)*")
        if done is not None:
            ttft = done.time_to_first_token / 1e6
            self.stats.update(
                f"{done.eval_count} tokens · {done.eval_rate:.1f} tok/s · "
                f"first token {ttft:.0f} ms · {done.done_reason}"
            )


class UserTurn(Markdown):
    DEFAULT_CSS = """
    UserTurn { background: $boost; padding: 0 1; margin: 0 0 1 0; border-left: thick $accent; }
    """


class Transcript(VerticalScroll):
    """Follows the reply (anchored) until the user scrolls up."""

    # `stream` arranges a growing column of children without re-measuring each one, which
    # is what a reply growing a frame at a time needs.
    DEFAULT_CSS = """
    Transcript { height: 1fr; layout: stream; }
    """
