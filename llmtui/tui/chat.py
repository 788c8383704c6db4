"""The chat transcript: replies streamed as Markdown, a frame at a time."""

from __future__ import annotations

from typing import ClassVar
from weakref import WeakKeyDictionary

from textual import events
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical, VerticalScroll
from textual.geometry import Size
from textual.message import Message as TextualMessage
from textual.scrollbar import ScrollBar
from textual.widget import Widget
from textual.widgets import Label, Markdown, Static, TextArea
from textual.widgets.markdown import MarkdownFence

from llmtui.chat import Outcome, Turn
from llmtui.engine import Done
from llmtui.tui.live_tail import LiveTail
from llmtui.tui.overrides import anchor_released, row_scrollbar
from llmtui.tui.scrollbar import RowScrollBar


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
        # The unsent text below the history: kept while Up recalls earlier prompts, and
        # while Ctrl+T puts the last prompt in the field; Down past the last prompt brings
        # it back.
        self.draft = ""

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

    def take_back(self, text: str) -> None:
        """Put `text` (a prompt taken back) in the field; what was typed there is kept as
        the draft, not lost."""
        if self.text.strip():
            self.draft = self.text
            self.notify("your unsent text is kept: Down on the last line brings it back")
        self._recall = len(self.sent)
        self._show(text)

    def _show(self, text: str) -> None:
        self.text = text
        self.move_cursor(self.document.end)

    def action_cursor_up(self, select: bool = False) -> None:
        if select or self.cursor_location[0] != 0 or not self.sent:
            super().action_cursor_up(select)
            return
        if self._recall == len(self.sent):
            self.draft = self.text  # leaving the draft for the history
        self._recall = max(0, self._recall - 1)
        self._show(self.sent[self._recall])

    def action_cursor_down(self, select: bool = False) -> None:
        last = self.cursor_location[0] == self.document.line_count - 1
        if select or not last or not (self._recall < len(self.sent) or self.draft):
            super().action_cursor_down(select)
            return
        self._recall = min(len(self.sent), self._recall + 1)
        if self._recall < len(self.sent):
            self._show(self.sent[self._recall])
        else:
            text, self.draft = self.draft, ""
            self._show(text)


class Freezable(Widget):
    """A message the transcript can freeze while it is far out of view: its insides
    hidden (no widgets to lay out), its height kept."""

    _frozen_height: int | None = None
    _hidden: tuple[Widget, ...] = ()

    def freeze(self, height: int) -> None:
        self._frozen_height = height - self.styles.gutter.height
        self._hidden = tuple(child for child in self.children if child.display)
        for child in self._hidden:
            child.display = False
        self.refresh(layout=True)

    def thaw(self) -> None:
        self._frozen_height = None
        for child in self._hidden:
            child.display = True
        self._hidden = ()
        self.refresh(layout=True)

    def get_content_height(self, container: Size, viewport: Size, width: int) -> int:
        # The transcript's `stream` layout asks this, and ignores styles set in code.
        if self._frozen_height is not None:
            return self._frozen_height
        return super().get_content_height(container, viewport, width)


class Reply(Freezable, Vertical):
    """One assistant reply, streamed: finished blocks as Markdown, the live tail as text.

    Profiling showed that re-rendering the growing Markdown at every frame cost the UI most
    of a core (each frame a layout of the whole screen). Here a block (paragraph, list, code
    fence) goes to the Markdown once, when it is complete; the block still being written is
    text (`LiveTail`, bold and italic styled as they close), repainting a row or two per
    frame."""

    DEFAULT_CSS = """
    Reply { height: auto; margin: 0 0 1 0; layout: stream; }
    Reply > Markdown { margin: 0; padding: 0 1; layout: stream; }
    Reply > .tail { padding: 0 1; }
    Reply > .stats { color: $text-muted; padding: 0 1; }
    Reply.-failed > .stats { color: $error; }
    """

    def __init__(self) -> None:
        super().__init__()
        self.markdown = Markdown()
        self.tail = LiveTail(classes="tail")
        # Shown when the reply ends: while it streams, a widget under the tail would be
        # one more to render at every frame.
        self.stats = Label("", classes="stats")
        self.stats.display = False
        self._fences = 0  # code fences opened in the finished blocks
        self.text = ""

    def compose(self) -> ComposeResult:
        yield self.markdown
        yield self.tail
        yield self.stats

    async def write(self, text: str) -> None:
        self.text += text
        tail = self.tail.text + text
        cut = self._block_end(tail)
        if not cut:
            self.tail.append(text)
            return
        # The block moves from the tail to the Markdown in one repaint (and one layout).
        # Not through `Markdown.get_stream`: its task, there to merge fragments that come
        # faster than they render, would show the block a frame after the tail lost it;
        # whole blocks come a second or so apart.
        with self.app.batch_update():
            self._fences += tail[:cut].count("```")
            await self.markdown.append(tail[:cut])
            self.tail.reset(tail[cut:])

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
        self.tail.display = False
        self.stats.display = True
        self.text = text
        await self.markdown.update(text or "*(no answer)*")
        if done is not None:
            ttft = done.time_to_first_token / 1e6
            place = f" · {done.place}" if done.place else ""
            self.stats.update(
                f"{done.eval_count} tokens · {done.eval_rate:.1f} tok/s · "
                f"first token {ttft:.0f} ms · {done.done_reason}{place}"
            )

    async def failed(self, error: str) -> None:
        """The request failed: what arrived stays, the error is said, and that the turn is
        not part of what the model is sent."""
        await self.finish(None, self.text or f"*{error}*")
        self.stats.update("failed · not sent to the model again · Ctrl+R retries")
        self.add_class("-failed")


class UserTurn(Freezable, Markdown):
    DEFAULT_CSS = """
    UserTurn { background: $boost; padding: 0 1; margin: 0 0 1 0; border-left: thick $accent; }
    """

    def __init__(self, text: str, turn: Turn | None = None) -> None:
        super().__init__(text)
        self.text = text
        self.turn = turn  # its turn in the session, once sent


class Note(Freezable, Static):
    """What a slash command said (/show ...): on screen, not in the conversation."""

    DEFAULT_CSS = """
    Note { color: $text-muted; text-style: italic; padding: 0 1; margin: 0 0 1 0; }
    """

    def __init__(self, text: str) -> None:
        super().__init__(text, markup=False)
        self.text = text


class ModelSwitch(Freezable, Static):
    """Where the conversation went on with another model."""

    DEFAULT_CSS = """
    ModelSwitch { color: $text-muted; text-align: center; margin: 0 0 1 0; }
    """

    def __init__(self, model: str) -> None:
        super().__init__(f"── now chatting with {model} ──")
        self.model = model


class Transcript(VerticalScroll, can_focus=True):
    """Follows the reply (anchored) until the user scrolls up; End follows it again.

    Focused, it has a cursor on a message or a code block: Up/Down move it, Ctrl+C copies
    what is under it to the clipboard by OSC 52, which reaches the local clipboard over SSH.

    Messages more than a screen above the view are frozen: they keep their height and hide
    what is inside them, and thaw when the view comes within a screen of them. Every layout
    of the screen (one or two per paragraph of a streaming reply) walks every widget shown,
    so each earlier reply, some 25 Markdown widgets, made each layout slower: with six
    replies above, 16-27 ms instead of 7, and a reply replayed at 60 tok/s cost the UI
    11.7-13.4% of a core instead of 6.5% (9.7-10.4% with them frozen). A frozen message is
    one widget to lay out."""

    # `stream` arranges a growing column of children without re-measuring each one, which
    # is what a reply growing a frame at a time needs. The scrollbar is always there: one
    # that came when a reply overflowed took a column, and a paragraph streamed at one
    # width was laid out one narrower when it finished (77 -> 76).
    # The cursor tints what it is on (a prompt's edge lights up too). An outline did not
    # show: a reply's and a code block's children cover all of it, so they take the tint (a
    # tint of a transparent background shows nothing, so it is a background). An edge of
    # the reply's own would make it render a column at every repaint while it streams.
    DEFAULT_CSS = """
    Transcript { height: 1fr; layout: stream; overflow-y: scroll; }
    Transcript .-cursor, Transcript .-cursor > * { background: $secondary 10%; }
    Transcript:focus .-cursor, Transcript:focus .-cursor > * { background: $accent 16%; }
    Transcript:focus UserTurn.-cursor { border-left: thick $foreground; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("up", "move(-1)", "Previous", id="transcript.up"),
        Binding("down", "move(1)", "Next", id="transcript.down"),
        Binding("ctrl+c,ctrl+y", "copy", "Copy", id="transcript.copy"),
        Binding("end", "follow", "Follow reply", id="transcript.follow"),
        Binding("ctrl+e", "edit", "Edit from here", id="transcript.edit"),
        Binding("delete", "delete", "Delete prompt and reply", id="transcript.delete"),
    ]

    class EditFrom(TextualMessage):
        """Edit this prompt and go on from it: what followed goes (a branch)."""

        def __init__(self, turn: UserTurn) -> None:
            super().__init__()
            self.turn = turn

    class Delete(TextualMessage):
        """Delete this prompt and its reply from the conversation."""

        def __init__(self, turn: UserTurn) -> None:
            super().__init__()
            self.turn = turn

    def _turn(self) -> UserTurn | None:
        """The prompt the cursor is on, or whose reply (or code block) it is on."""
        item = self.cursor
        if item is None:
            return None
        holders = (n for n in item.ancestors_with_self if isinstance(n, UserTurn | Reply))
        message = next(holders, None)
        if isinstance(message, Reply):
            siblings = list(self.children)
            before = siblings[: siblings.index(message)]
            message = next((w for w in reversed(before) if isinstance(w, UserTurn)), None)
        return message if isinstance(message, UserTurn) else None

    def action_edit(self) -> None:
        if (turn := self._turn()) is not None:
            self.post_message(self.EditFrom(turn))

    def action_delete(self) -> None:
        if (turn := self._turn()) is not None:
            self.post_message(self.Delete(turn))

    class Typed(TextualMessage):
        """A key to type into the input: the user started typing in the transcript."""

        def __init__(self, character: str | None) -> None:
            super().__init__()
            self.character = character

    def on_key(self, event: events.Key) -> None:
        if event.is_printable or event.key == "enter":
            event.stop()
            event.prevent_default()
            self.post_message(self.Typed(event.character if event.is_printable else None))

    class FollowChanged(TextualMessage):
        """The view stopped following the reply (scrolled up), or follows it again."""

    _was_following = True

    def __init__(self, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        # Each frozen message's rows in the transcript, and the width it was frozen at.
        self._frozen: WeakKeyDictionary[Freezable, tuple[int, int]] = WeakKeyDictionary()
        self._frozen_width = 0

    @property
    def vertical_scrollbar(self) -> ScrollBar:
        size = self.scrollbar_size_vertical
        return row_scrollbar(self, lambda: RowScrollBar(vertical=True, name="vertical",
                                                        thickness=size))  # fmt: skip

    def watch_scroll_y(self, old: float, new: float) -> None:
        super().watch_scroll_y(old, new)
        if self.following != self._was_following:
            self._was_following = self.following
            self.post_message(self.FollowChanged())
        screen = self.scrollable_content_region.height
        for message, (top, bottom) in list(self._frozen.items()):
            if bottom >= new - screen and top <= new + 2 * screen:
                self.thaw(message)

    def on_resize(self) -> None:
        if self.size.width != self._frozen_width:  # the frozen heights were for that width
            for message in list(self._frozen):
                self.thaw(message)

    def freeze_above(self) -> None:
        """Freeze the messages that end more than a screen above the view."""
        limit = self.scroll_y - self.scrollable_content_region.height
        for message in self.children:
            span = message.virtual_region
            if not isinstance(message, Freezable) or not span or span.bottom >= limit:
                break
            if message not in self._frozen:
                message.freeze(span.height)
                self._frozen[message] = (span.y, span.bottom)
                self._frozen_width = self.size.width

    def thaw(self, message: Freezable) -> None:
        if self._frozen.pop(message, None) is not None:
            message.thaw()

    class Copied(TextualMessage):
        def __init__(self, what: str, text: str) -> None:
            super().__init__()
            self.what, self.text = what, text

    def items(self) -> list[Widget]:
        """What the cursor can be on, top to bottom: messages and their code blocks."""
        return list(self.query("UserTurn, Reply, MarkdownFence"))

    @property
    def cursor(self) -> Widget | None:
        return next(iter(self.query(".-cursor")), None)

    def on_focus(self) -> None:
        if self.cursor is None and (items := self.items()):
            self.place(items[-1])

    def place(self, item: Widget) -> None:
        if (old := self.cursor) is not None:
            old.remove_class("-cursor")
        item.add_class("-cursor")
        message = next((n for n in item.ancestors_with_self if n in self._frozen), None)
        if isinstance(message, Freezable):
            self.thaw(message)
            # Its insides have a place only after the next layout.
            self.call_after_refresh(self.scroll_to_widget, item, animate=False)
        else:
            self.scroll_to_widget(item, animate=False)

    def action_move(self, step: int) -> None:
        items = self.items()
        if not items:
            return
        index = items.index(self.cursor) + step if self.cursor in items else len(items) - 1
        if step < 0:
            self.release_anchor()  # reading back: stop following the reply
        self.place(items[max(0, min(len(items) - 1, index))])

    def action_copy(self) -> None:
        item = self.cursor
        if isinstance(item, MarkdownFence):
            self.post_message(self.Copied("the code block", item.code))
        elif isinstance(item, UserTurn):
            self.post_message(self.Copied("the prompt", item.text))
        elif isinstance(item, Reply):
            self.post_message(self.Copied("the reply", item.text))

    def action_follow(self) -> None:
        self.anchor()

    async def show(self, turns: list[Turn]) -> None:
        """`turns` afresh (a kept conversation opened), each with how it ended."""
        await self.remove_children()
        widgets: list[Widget] = []
        replies: list[tuple[Reply, Turn]] = []
        model = None
        for turn in turns:
            if model is not None and turn.model != model:
                widgets.append(ModelSwitch(turn.model))
            model = turn.model
            reply = Reply()
            widgets += [UserTurn(turn.prompt, turn), reply]
            replies.append((reply, turn))
        await self.mount_all(widgets)
        for reply, turn in replies:
            if turn.outcome is Outcome.FAILED:
                await reply.failed(turn.error or "failed")
            else:
                await reply.finish(turn.done, turn.reply)
        self.anchor()

    @property
    def following(self) -> bool:
        """False once the user scrolls up, until they scroll (or press End) to the bottom.
        Textual keeps this as the anchor's release; the scroll position alone lags a
        frame behind a growing reply, so it would say "not following" at every frame."""
        return not anchor_released(self)
