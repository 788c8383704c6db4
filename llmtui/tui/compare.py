"""The compare view: 2 to 4 columns, each a chat session, one prompt box for all of them.

Each column streams as the chat does (a bridge from the model's thread, a reply drawn a
frame at a time, one frame timer for every column); its border says its live figures and,
at the end, its statistics. After each round a summary line compares them. In blind mode
the columns are letters, in a new order each round, until the user votes.
"""

from __future__ import annotations

import asyncio
import gc
import time
from collections.abc import Callable
from pathlib import Path
from typing import ClassVar

from textual import events, on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.content import Content
from textual.css.query import NoMatches
from textual.message import Message as TextualMessage
from textual.timer import Timer
from textual.widget import Widget
from textual.widgets import Footer, Label, Static

from llmtui import atomic
from llmtui.chat import ChatSession, SessionError, Turn
from llmtui.chat.backend import EventCallback
from llmtui.chat.compare import (
    IN_TURN,
    LETTERS,
    TOGETHER,
    Column,
    Comparison,
    cell_of,
    choose_schedule,
    summary,
)
from llmtui.chat.export import to_markdown
from llmtui.chat.leaderboard import BAD, TIE, Vote
from llmtui.chat.store import Conversation, ConversationStore
from llmtui.engine import Done, EngineError, Failed
from llmtui.engine.request import RequestHandle
from llmtui.engine.system import available_memory, physical_cores
from llmtui.tui.bridge import Drained, ReplyBridge, frame_interval
from llmtui.tui.chat import PromptInput, Reply, Transcript, UserTurn
from llmtui.tui.compare_dialogs import DiffView
from llmtui.tui.overrides import WorkbenchScreen

NARROW = 110  # columns below which the columns become tabs
LIVE_EVERY = 0.25  # seconds between updates of a column's live figures


class CompareColumn(Vertical):
    """One column: its transcript, its reply streaming, and a row of its figures under
    them (a row of its own: a new border subtitle repaints the whole column, and at
    every update of each column that was most of the screen)."""

    class Ended(TextualMessage):
        """The column's reply ended (done, stopped or failed)."""

        def __init__(self, column: CompareColumn) -> None:
            super().__init__()
            self.column = column

    def __init__(self, index: int, column: Column) -> None:
        super().__init__(classes="column")
        self.index = index
        self.column = column
        self.reply: Reply | None = None
        self.bridge: ReplyBridge | None = None
        self.handle: RequestHandle | None = None
        self.waiting = False  # its turn has not come yet (in turn)
        self.asked: Turn | None = None  # its turn in this round, once its request started
        self._shown = 0.0  # when the live figures were last drawn

    @property
    def session(self) -> ChatSession:
        return self.column.session

    def compose(self) -> ComposeResult:
        yield Transcript()
        yield Label("", classes="live")

    @property
    def figures(self) -> str:
        return str(self.query_one(".live", Label).render())

    def show_figures(self, text: str) -> None:
        self.query_one(".live", Label).update(text)

    @property
    def transcript(self) -> Transcript:
        return self.query_one(Transcript)

    @property
    def streaming(self) -> bool:
        return self.waiting or (self.handle is not None and self.handle.result is None)

    async def show_prompt(self, text: str, waiting: bool) -> None:
        """The prompt and its reply to come (in turn: a word that it waits)."""
        transcript = self.transcript
        transcript.freeze_above()
        transcript.anchor()
        self.reply = Reply()
        await transcript.mount_all([UserTurn(text), self.reply])
        self.waiting = waiting
        self.asked = None
        self.show_figures("waits for its turn" if waiting else "loading…")

    def start(self, begin: Callable[[EventCallback], RequestHandle]) -> bool:
        """Start the request (`begin`); False (and the error shown) if it could not."""
        self.waiting = False
        self.bridge = ReplyBridge(self)
        try:
            self.handle = begin(self.bridge)
            self.asked = self.session.turns[-1]
        except (SessionError, EngineError, OSError) as error:
            self.handle = None
            self.bridge = None
            self.run_worker(self._failed(str(error)))
            return False
        self.show_figures("loading…")
        return True

    async def _failed(self, error: str) -> None:
        if self.reply is not None:
            await self.reply.failed(error)
        self.show_figures("failed")
        self.post_message(self.Ended(self))

    def never_started(self) -> None:
        """Stopped before its turn came."""
        self.waiting = False
        self.show_figures("stopped before its turn")
        if self.reply is not None:
            self.run_worker(self.reply.finish(None, "*(stopped before its turn)*"))

    @on(ReplyBridge.Ready)
    async def _ready(self, event: ReplyBridge.Ready) -> None:
        event.stop()
        try:
            await self._show(event.bridge.drain())
        except NoMatches:
            if self.is_attached:  # else the screen closed as the reply ended
                raise

    async def _show(self, drained: Drained) -> None:
        reply = self.reply
        if drained.text and reply is not None:
            await reply.write(drained.text)
        now = time.monotonic()
        if (stats := drained.stats) is not None and now - self._shown >= LIVE_EVERY:
            self._shown = now
            share = stats.context_used / stats.context_size if stats.context_size else 0
            self.show_figures(f"{stats.tokens_per_second:.1f} tok/s · {stats.eval_count} tokens · "
                      f"context {share:.0%}")  # fmt: skip
        for notice in drained.notices:
            self.notify(notice)
        final = drained.final
        if isinstance(final, Done):
            if reply is not None:
                await reply.finish(final, final.text)
            place = f" · {final.place}" if final.place else ""
            self.show_figures(f"{final.eval_rate:.1f} tok/s · {final.eval_count} tokens · "
                      f"first token {final.time_to_first_token / 1e6:.0f} ms{place}")  # fmt: skip
        elif isinstance(final, Failed):
            if reply is not None:
                await reply.failed(str(final.error))
            self.show_figures("failed")
        if final is not None:
            self.post_message(self.Ended(self))

    def release(self) -> None:
        if self.bridge is not None:
            self.bridge.release()

    def stop(self) -> None:
        if self.handle is not None:
            self.handle.cancel()


class ColumnTabs(Widget, can_focus=True):
    """The columns' names in a row, when they are tabs: Left/Right or a click shows
    another. (Textual's Tabs add and remove tabs a message later: made again at each
    blind round, they raced the round's own choice of tab.)"""

    DEFAULT_CSS = """
    ColumnTabs { height: 1; padding: 0 1; }
    ColumnTabs:focus { background: $boost; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("left", "step(-1)", "Column to the left", show=False),
        Binding("right", "step(1)", "Column to the right", show=False),
    ]
    GAP = "   "

    class Chosen(TextualMessage):
        def __init__(self, position: int) -> None:
            super().__init__()
            self.position = position  # in the order shown

    def __init__(self, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.names: list[str] = []
        self.current = 0

    def show(self, names: list[str], current: int) -> None:
        self.names, self.current = names, current
        self.refresh()

    def render(self) -> Content:
        parts: list[tuple[str, str]] = []
        for position, name in enumerate(self.names):
            if position:
                parts.append((self.GAP, ""))
            parts.append((f" {name} ", "reverse bold" if position == self.current else "dim"))
        return Content.assemble(*parts)

    def action_step(self, step: int) -> None:
        if self.names:
            self.post_message(self.Chosen((self.current + step) % len(self.names)))

    def on_click(self, event: events.Click) -> None:
        x = event.x - 1  # the padding
        for position, name in enumerate(self.names):
            width = len(name) + 2
            if x < width:
                self.post_message(self.Chosen(position))
                return
            x -= width + len(self.GAP)


class VoteBar(Static, can_focus=True):
    """Blind mode, after a round: which column was better."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("a", "vote('A')", "A is better", id="vote.a"),
        Binding("b", "vote('B')", "B is better", id="vote.b"),
        Binding("c", "vote('C')", "C is better", show=False),
        Binding("d", "vote('D')", "D is better", show=False),
        Binding("t", f"vote('{TIE}')", "Tie", id="vote.tie"),
        Binding("x", f"vote('{BAD}')", "All bad", id="vote.bad"),
        Binding("escape", "skip", "No vote", id="vote.skip"),
    ]

    class Cast(TextualMessage):
        def __init__(self, choice: str | None) -> None:
            super().__init__()
            self.choice = choice  # a letter, TIE, BAD, or None: no vote this round

    def ask(self, columns: int) -> None:
        letters = " · ".join(f"{letter.lower()}: {letter} is better"
                             for letter in LETTERS[:columns])  # fmt: skip
        self.update(f"Which answer is better?  {letters} · t: a tie · x: all bad · "
                    "Esc: no vote  (the names are shown after the vote)")  # fmt: skip
        self.display = True
        self.focus()

    def action_vote(self, choice: str) -> None:
        self.post_message(self.Cast(choice))

    def action_skip(self) -> None:
        self.post_message(self.Cast(None))


class CompareScreen(WorkbenchScreen):
    """Built with its columns; `store` keeps the comparison (and blind votes) if given."""

    DEFAULT_CSS = """
    CompareScreen { layout: vertical; }
    CompareScreen #plan { height: 1; color: $text-muted; padding: 0 1; background: $panel; }
    CompareScreen #compare-tabs { display: none; }
    CompareScreen #columns { height: 1fr; }
    CompareScreen .column { border: round $panel; width: 1fr; height: 1fr;
                            border-title-color: $text; border-title-style: bold; }
    CompareScreen .live { height: 1; width: 1fr; color: $text-muted; text-align: right; }
    CompareScreen .column:focus-within { border: round $accent; }
    CompareScreen #summary { height: auto; max-height: 3; padding: 0 1; color: $text; }
    CompareScreen VoteBar { height: auto; background: $accent 30%; padding: 0 1; }
    CompareScreen #compare-prompt { height: 4; border: tall $panel; }
    CompareScreen #compare-prompt:focus { border: tall $accent; }
    CompareScreen.-narrow #compare-tabs { display: block; }
    CompareScreen.-narrow .column { display: none; }
    CompareScreen.-narrow .column.-current { display: block; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "stop", "Stop all", id="compare.stop"),
        Binding("ctrl+r", "regenerate", "Regenerate", id="compare.regenerate"),
        Binding("f2", "columns", "Columns", id="compare.columns", priority=True),
        Binding("f3", "diff", "Diff", id="compare.diff", priority=True),
        Binding("f5", "leaderboard", "Leaderboard", id="compare.leaderboard", priority=True),
        Binding("f8", "new", "New comparison", id="compare.new", priority=True),
        Binding("ctrl+s", "export", "Export", id="compare.export"),
        Binding("ctrl+g", "leave", "Back to chat", id="compare.leave", priority=True),
    ]

    class Leave(TextualMessage):
        """Back to the workbench; `columns`: to choose other columns first."""

        def __init__(self, columns: bool = False) -> None:
            super().__init__()
            self.columns = columns

    def __init__(
        self, comparison: Comparison, store: ConversationStore | None = None, frame_ms: int = 0
    ) -> None:
        super().__init__()
        self.comparison = comparison
        self.store = store
        self.frame = frame_interval(frame_ms)
        self._frames: Timer | None = None
        self.revealed = not comparison.blind  # the names are shown
        self.prompt_text = ""  # this round's prompt
        self.schedule = IN_TURN

    def compose(self) -> ComposeResult:
        # No Header: a row more for the columns at 80x24 (the plan line says where you are).
        yield Label("", id="plan")
        yield ColumnTabs(id="compare-tabs")
        with Horizontal(id="columns"):
            for index, column in enumerate(self.comparison.columns):
                yield CompareColumn(index, column)
        yield Static("", id="summary", markup=False)
        yield VoteBar(id="vote")
        yield PromptInput(id="compare-prompt",
                          placeholder="A prompt for every column · Enter sends · "
                                      "Ctrl+G back to the chat · F1 lists every key")  # fmt: skip
        yield Footer()

    async def on_mount(self) -> None:
        self.query_one(VoteBar).display = False
        self.query_one("#summary").display = False
        if self.store is not None:
            self.store.attach(self.comparison, now=False)
        mode = "blind: the names are hidden until you vote" if self.comparison.blind else ""
        self.query_one("#plan", Label).update(
            f"Compare · {len(self.columns)} columns{' · ' + mode if mode else ''} · the "
            "schedule is chosen when a prompt is sent"
        )
        self._titles()
        for column in self.columns:  # a kept comparison reopened: its last round is this one
            if column.session.turns:
                await column.transcript.show(column.session.turns)
                column.reply = column.query(Reply).last()
                column.asked = column.session.turns[-1]
                self.prompt_text = column.asked.prompt
        self._layout(self.app.size.width)
        self.prompt.focus()

    def on_unmount(self) -> None:
        # Not action_stop: it tells the round it ended, naming the first column, and the
        # columns may already be gone (an IndexError, seen once as a test closed the app).
        for column in self.query(CompareColumn):
            column.stop()
        if self._frames is not None:  # left mid-round: what `_ended` would have undone
            self._frames.stop()
            gc.unfreeze()
        if self.store is not None:
            self.store.detach(self.comparison)

    @property
    def columns(self) -> list[CompareColumn]:
        """In the order shown."""
        return list(self.query(CompareColumn))

    @property
    def prompt(self) -> PromptInput:
        return self.query_one("#compare-prompt", PromptInput)

    @property
    def streaming(self) -> bool:
        return any(column.streaming for column in self.columns)

    # -- layout ---------------------------------------------------------------------------

    def on_resize(self) -> None:
        self._layout(self.app.size.width)

    def _layout(self, width: int) -> None:
        self.set_class(width < NARROW, "-narrow")
        if not self.query(".column.-current"):
            self._current(self.columns[0])

    def _current(self, column: CompareColumn) -> None:
        """`column` is the one shown when the columns are tabs."""
        for other in self.columns:
            other.set_class(other is column, "-current")
        self._show_tabs()

    @on(ColumnTabs.Chosen)
    def _tab(self, event: ColumnTabs.Chosen) -> None:
        self._current(self.columns[event.position])

    def _title(self, column: CompareColumn) -> str:
        if not self.comparison.blind:
            return column.column.label
        letter = self.comparison.letter(column.index)
        return f"{letter} · {column.column.label}" if self.revealed else letter

    def _titles(self) -> None:
        """Each column's title on its border and its tab, in the order shown."""
        for column in self.columns:
            column.border_title = self._title(column)
        self._show_tabs()

    def _show_tabs(self) -> None:
        columns = self.columns
        current = next((n for n, c in enumerate(columns) if c.has_class("-current")), 0)
        self.query_one(ColumnTabs).show([self._title(c) for c in columns], current)

    # -- a round --------------------------------------------------------------------------

    @on(PromptInput.Send)
    async def _send(self, event: PromptInput.Send) -> None:
        event.stop()
        if event.text.startswith("/"):
            self.notify("slash commands are the chat's: the columns' parameters are set "
                        "when they are chosen (F2)", severity="warning")  # fmt: skip
            self.prompt.take_back(event.text)
            return
        if self.streaming:
            self.notify("a round is still streaming (Esc stops it)", severity="warning")
            self.prompt.take_back(event.text)
            return
        await self.ask(event.text)

    async def ask(self, text: str, only: CompareColumn | None = None) -> None:
        """`text` to every column (or to `only`, a column regenerated alone)."""
        self.prompt_text = text
        self._end_vote()
        if only is None and self.comparison.blind:
            self.comparison.shuffle()
            self.revealed = False
            self._reorder()
            self._current(self.columns[0])  # A first, whichever model it is this round
        self._titles()
        targets = [only] if only is not None else self.columns
        self.schedule, why = choose_schedule([c.column for c in targets], physical_cores(),
                                             available_memory())  # fmt: skip
        self.query_one("#plan", Label).update(
            f"Compare · {len(self.columns)} columns · run {self.schedule} ({why})"
            + (" · blind: the names are shown after the vote" if not self.revealed else "")
        )
        self.query_one("#summary").display = False
        together = self.schedule == TOGETHER
        for number, column in enumerate(targets):
            await column.show_prompt(text, waiting=not together and number > 0)
        self._frames = self._frames or self.set_interval(self.frame, self._release)
        self.prompt.cursor_blink = False
        gc.freeze()  # as the chat does while a reply streams: see ChatPane._start
        for column in targets if together else targets[:1]:
            self._begin(column, text)

    def _begin(self, column: CompareColumn, text: str) -> None:
        # As in the chat: a completion model is sent the conversation as a transcript.
        session = column.session
        column.start(lambda bridge: session.send(text, bridge))

    def _reorder(self) -> None:
        holder = self.query_one("#columns")
        widgets = {column.index: column for column in self.columns}
        for position, index in enumerate(self.comparison.order):
            holder.move_child(widgets[index], before=position)

    def _release(self) -> None:
        for column in self.columns:
            column.release()

    @on(CompareColumn.Ended)
    async def _ended(self, event: CompareColumn.Ended) -> None:
        event.stop()
        waiting = [column for column in self.columns if column.waiting]
        if waiting and not self.streaming_now():
            self._begin(waiting[0], self.prompt_text)
            return
        if self.streaming:
            return
        if self._frames is not None:
            self._frames.stop()
            self._frames = None
        self.prompt.cursor_blink = True
        gc.unfreeze()
        self._summarise()
        if self.comparison.blind and not self.revealed:
            self.query_one(VoteBar).ask(len(self.columns))

    def streaming_now(self) -> bool:
        """Whether a column's request is running (not waiting for its turn)."""
        return any(c.handle is not None and c.handle.result is None for c in self.columns)

    def _summarise(self) -> None:
        cells = [cell_of(self._named(column), column.asked)
                 for column in self.columns if column.asked is not None]  # fmt: skip
        said, identical = summary(cells)
        if identical is not None:
            said.append("identical answers" if identical else "answers differ (F3 shows how)")
        widget = self.query_one("#summary", Static)
        widget.update(" · ".join(said) or "no answers")
        widget.display = True

    def _named(self, column: CompareColumn) -> str:
        """The column as the summary names it: its letter while the names are hidden, its
        model where that tells it apart (a label with parameters took three rows at 80
        columns), else its place."""
        if self.comparison.blind and not self.revealed:
            return self.comparison.letter(column.index)
        shorts = [c.column.label.split(" · ")[0] for c in self.columns]
        short = column.column.label.split(" · ")[0]
        return short if shorts.count(short) == 1 else f"{short} ({self.columns.index(column) + 1})"

    # -- keys -----------------------------------------------------------------------------

    def action_stop(self) -> None:
        for column in self.columns:
            if column.waiting:
                column.never_started()
            column.stop()
        if not self.streaming_now() and self._frames is not None:
            self.post_message(CompareColumn.Ended(self.columns[0]))

    def _focused_column(self) -> CompareColumn | None:
        focused = self.focused
        for node in focused.ancestors_with_self if focused is not None else ():
            if isinstance(node, CompareColumn):
                return node
        if self.has_class("-narrow"):
            current = next(iter(self.query(".column.-current")), None)
            return current if isinstance(current, CompareColumn) else None
        return None

    async def action_regenerate(self) -> None:
        """The column in focus answers the last prompt again (every column, from the
        prompt box)."""
        if self.streaming:
            self.notify("a round is still streaming (Esc stops it)", severity="warning")
            return
        column = self._focused_column()
        text = self.prompt_text
        if not text:
            self.notify("nothing to regenerate yet: send a prompt", severity="warning")
            return
        for target in [column] if column is not None else self.columns:
            if target.reply is not None:  # this round's prompt and reply, on screen
                await target.transcript.remove_children(list(target.transcript.children)[-2:])
            turns = target.session.turns
            if target.asked is not None and turns and turns[-1] is target.asked:
                # The new reply replaces the last: regenerate, not a new prompt.
                target.session.truncate(len(turns) - 1)
        await self.ask(text, only=column)

    def action_diff(self) -> None:
        columns = [c for c in self.columns if c.asked is not None]
        if len(columns) < 2:
            self.notify("a diff needs two answers to the last prompt", severity="warning")
            return
        first = self._focused_column()
        if first not in columns:
            first = columns[0]
        assert first is not None
        second = columns[(columns.index(first) + 1) % len(columns)]
        assert first.asked is not None and second.asked is not None
        self.app.push_screen(DiffView((self._title(first), first.asked.reply),
                                      (self._title(second), second.asked.reply)))  # fmt: skip

    async def action_leaderboard(self) -> None:
        await self.app.run_action("leaderboard")

    async def action_new(self) -> None:
        """A new comparison with the same columns (the one before stays kept)."""
        self.action_stop()
        self.comparison.clear()
        self._end_vote()
        for column in self.columns:
            await column.transcript.remove_children()
            column.reply, column.asked = None, None
            column.show_figures("")
        self.prompt_text = ""
        self.query_one("#summary").display = False
        self.notify("a new comparison: the one before is kept (Ctrl+L in the chat)")

    def action_columns(self) -> None:
        self.post_message(self.Leave(columns=True))

    def action_leave(self) -> None:
        self.post_message(self.Leave())

    @work(thread=True, exit_on_error=False)
    def action_export(self) -> None:
        """The comparison as Markdown, in the current directory (off the UI thread)."""
        comparison = self.comparison
        now = time.time()
        conversation = Conversation(0, comparison.conversation, comparison.title,
                                    comparison.origin, None, comparison.options, now, now,
                                    comparison.turns, comparison.kind)  # fmt: skip
        if not conversation.turns:
            self.app.call_from_thread(self.notify, "nothing to export yet", severity="warning")
            return
        path = Path.cwd() / f"comparison-{time.strftime('%Y%m%d-%H%M%S')}.md"
        try:
            atomic.write_text(path, to_markdown(conversation))
        except OSError as error:
            self.app.call_from_thread(self.notify, f"cannot write {path}: {error}",
                                      severity="error")  # fmt: skip
            return
        self.app.call_from_thread(self.notify, f"exported to {path}")

    # -- blind votes ----------------------------------------------------------------------

    def _end_vote(self) -> None:
        bar = self.query_one(VoteBar)
        if bar.display:
            bar.display = False
            self.prompt.focus()

    @on(VoteBar.Cast)
    async def _cast(self, event: VoteBar.Cast) -> None:
        event.stop()
        letters = {self.comparison.letter(c.index): c.column.label for c in self.columns}
        choice = event.choice
        if choice is not None and choice not in (TIE, BAD) and choice not in letters:
            self.notify(f"there is no column {choice}", severity="warning")
            return
        self.revealed = True
        self._end_vote()
        self._titles()
        self._summarise()
        if choice is None:
            return
        shown = tuple(letters[letter] for letter in sorted(letters))
        vote = Vote(shown, letters.get(choice, choice), self.prompt_text,
                    self.comparison.conversation)  # fmt: skip
        said = {TIE: "a tie", BAD: "all bad"}.get(choice, f"{letters.get(choice)} is better")
        if self.store is None:
            self.notify(f"{said} · votes are not kept (keep_chats in the settings)",
                        severity="warning")  # fmt: skip
            return
        await asyncio.to_thread(self.store.add_vote, vote)
        self.notify(f"vote kept: {said} (F5: the leaderboard)")


def unique_labels(labels: list[str]) -> list[str]:
    """The columns' labels, a number added to repeats (the leaderboard tells them apart)."""
    out: list[str] = []
    for label in labels:
        name, number = label, 2
        while name in out:
            name, number = f"{label} #{number}", number + 1
        out.append(name)
    return out
