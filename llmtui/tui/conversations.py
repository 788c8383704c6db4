"""The kept conversations, in a dialog: search them, open one to continue it, rename or
delete one. A dialog rather than a fifth pane: at 80x24 there is no room for one, and
choosing a conversation is a moment, not a place to stay."""

from __future__ import annotations

from typing import ClassVar

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import DataTable, Input, Label
from textual.worker import get_current_worker

from llmtui.chat.store import ConversationStore, Summary
from llmtui.timeago import ago
from llmtui.tui.dialogs import DIALOG_CSS, Ask, Confirm


class Conversations(ModalScreen[int | None]):
    """Enter opens the highlighted conversation (its id); Esc closes."""

    DEFAULT_CSS = (
        DIALOG_CSS.format(name="Conversations")
        + "Conversations > Vertical { width: 110; } Conversations DataTable { height: auto; }"
    )
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "dismiss(None)", "Close", show=False),
        Binding("down", "to_table", "Conversations", show=False),
        Binding("ctrl+n", "rename", "Rename", id="conversations.rename"),
        Binding("ctrl+d", "delete", "Delete", id="conversations.delete"),
    ]

    def __init__(self, store: ConversationStore) -> None:
        super().__init__()
        self.store = store
        self.shown: list[Summary] = []

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label("Conversations", classes="title")
            yield Input(placeholder="search every prompt and reply (words, in any order)")
            table: DataTable[str] = DataTable(cursor_type="row", zebra_stripes=True)
            table.add_columns("title", "model", "turns", "updated")
            yield table
            yield Label("Enter continues it · Ctrl+N renames · Ctrl+D deletes · Esc closes",
                        classes="hint")  # fmt: skip

    def on_mount(self) -> None:
        self.find("")

    def on_resize(self) -> None:
        # As the key help: a table taller than the dialog would be cut off at 80x24.
        rows = max(3, min(30, self.size.height * 9 // 10 - 7))
        self.query_one(DataTable).styles.max_height = rows

    @on(Input.Changed)
    def _typed(self, event: Input.Changed) -> None:
        self.find(event.value)

    @on(Input.Submitted)
    def _submitted(self) -> None:
        self._open()

    @on(DataTable.RowSelected)
    def _selected(self) -> None:
        self._open()

    @work(thread=True, exclusive=True, group="find")
    def find(self, text: str) -> None:
        """Off the UI thread: a search over thousands of turns is a few milliseconds, a
        disk that sleeps can make it a second."""
        found = self.store.search(text) if text.strip() else self.store.conversations()
        if not get_current_worker().is_cancelled:
            self.app.call_from_thread(self._show, found)

    def _show(self, found: list[Summary]) -> None:
        self.shown = found
        table = self.query_one(DataTable)
        table.clear()
        for summary in found:
            table.add_row(summary.title or "(untitled)", summary.model, str(summary.turns),
                          ago(summary.updated), key=str(summary.id))  # fmt: skip

    def _highlighted(self) -> Summary | None:
        table = self.query_one(DataTable)
        if not self.shown or table.cursor_row >= len(self.shown):
            return None
        return self.shown[table.cursor_row]

    def _open(self) -> None:
        summary = self._highlighted()
        if summary is not None:
            self.dismiss(summary.id)

    def action_to_table(self) -> None:
        self.query_one(DataTable).focus()

    @work(exit_on_error=False)
    async def action_rename(self) -> None:
        summary = self._highlighted()
        if summary is None:
            return
        title = await self.app.push_screen_wait(Ask("Rename the conversation:", summary.title))
        if title:
            self.store.rename(summary.id, title)
            self.find(self.query_one(Input).value)

    @work(exit_on_error=False)
    async def action_delete(self) -> None:
        summary = self._highlighted()
        if summary is None:
            return
        question = f"Delete the conversation “{summary.title}” ({summary.turns} turns)?"
        if await self.app.push_screen_wait(Confirm(question, yes="Delete")):
            self.store.delete(summary.id)
            self.notify(f"deleted “{summary.title}”")
            self.find(self.query_one(Input).value)
