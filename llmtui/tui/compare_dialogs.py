"""The compare view's dialogs: choosing its columns, two answers' difference, and the
leaderboard of blind votes."""

from __future__ import annotations

import shlex
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import Button, Checkbox, DataTable, Input, Label, OptionList, Static

from llmtui.chat.compare import MAX_COLUMNS, column_settings, diff_words
from llmtui.chat.leaderboard import Vote, standings
from llmtui.tui.dialogs import DIALOG_CSS


@dataclass(frozen=True)
class ChosenColumn:
    source: int  # which of the dialog's sources
    settings: str  # as typed: KEY=VALUE ...
    options: dict[str, Any]
    system: str | None


class ColumnRow(Horizontal):
    def __init__(self, source: int, name: str, settings: str = "") -> None:
        self.field = Input(settings, placeholder="parameters, e.g. temperature=1.0 "
                                                 "system='Answer briefly.'")  # fmt: skip
        # Its widgets made here, not in compose: the field can take the focus at once.
        super().__init__(Label(name, classes="source"), self.field, Button("✕", classes="drop"),
                         classes="chosen")  # fmt: skip
        self.source = source


class Sources(OptionList):
    """Enter adds a column of the highlighted source, and its parameters field takes the
    focus in the same key: the keys typed after Enter in one burst (a paste, tmux, SSH)
    are its parameters. Through OptionList's message the field came a message later, and
    the burst's first key went to the list (seen in tmux: "num_predict" arrived as
    "um_predict")."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("enter", "add", "Add column", show=False)]

    def action_add(self) -> None:
        if self.highlighted is not None and isinstance(self.screen, ChooseColumns):
            self.screen.add(self.highlighted)


class ChooseColumns(ModalScreen[tuple[list[ChosenColumn], bool] | None]):
    """2 to 4 columns from `sources` (library models, the editor's buffer): Enter on a
    source adds a column of it (again: the same model under other parameters)."""

    DEFAULT_CSS = (
        DIALOG_CSS.format(name="ChooseColumns")
        + """
    ChooseColumns > Vertical { width: 100; }
    ChooseColumns OptionList { max-height: 8; }
    ChooseColumns #chosen { height: auto; }
    ChooseColumns .chosen { height: auto; margin: 0; align-horizontal: left; }
    ChooseColumns .source { width: 30; padding: 1 1 0 0; }
    ChooseColumns .chosen Input { width: 1fr; }
    ChooseColumns .drop { min-width: 5; width: 5; }
    """
    )
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "dismiss(None)", "Cancel", show=False),
        Binding("ctrl+s", "go", "Compare", id="columns.go", priority=True),
    ]

    def __init__(
        self, sources: Sequence[str], chosen: Sequence[tuple[int, str]] = (), blind: bool = False
    ) -> None:
        super().__init__()
        self.sources = list(sources)
        self.initial = list(chosen)
        self.blind = blind

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label("Compare: 2 to 4 columns", classes="title")
            yield Label("Enter adds the highlighted model as a column (twice: one model under "
                        "two settings)")  # fmt: skip
            yield Sources(*self.sources, id="sources")
            yield Label("Columns (each its own parameters, KEY=VALUE; system=TEXT sets its "
                        "system prompt):")  # fmt: skip
            with Vertical(id="chosen"):
                for source, settings in self.initial:
                    yield ColumnRow(source, self.sources[source], settings)
            yield Checkbox("Blind: letters instead of names, a new order each round, "
                           "then vote", self.blind, id="blind")  # fmt: skip
            yield Label("", classes="error")
            with Horizontal():
                yield Button("Cancel [Esc]", id="cancel")
                yield Button("Compare [Ctrl+S]", id="go", variant="primary")

    def on_mount(self) -> None:
        self.query_one("#sources").focus()

    def add(self, index: int) -> None:
        """A column of source `index`; its parameters next (Shift+Tab: back to the list)."""
        if len(self.query(ColumnRow)) >= MAX_COLUMNS:
            self._problem(f"at most {MAX_COLUMNS} columns (✕ takes one away)")
            return
        self._problem("")
        row = ColumnRow(index, self.sources[index])
        self.query_one("#chosen").mount(row)
        self.set_focus(row.field)

    @on(OptionList.OptionSelected, "#sources")
    def _clicked(self, event: OptionList.OptionSelected) -> None:
        self.add(event.option_index)

    @on(Button.Pressed, ".drop")
    async def _drop(self, event: Button.Pressed) -> None:
        row = event.button.parent
        if isinstance(row, ColumnRow):
            await row.remove()

    @on(Button.Pressed, "#cancel")
    def _cancel(self) -> None:
        self.dismiss(None)

    @on(Button.Pressed, "#go")
    def _go(self) -> None:
        self.action_go()

    @on(Input.Submitted)
    def _submitted(self) -> None:
        self.action_go()

    def _problem(self, text: str) -> None:
        self.query_one(".error", Label).update(text)

    def action_go(self) -> None:
        rows = list(self.query(ColumnRow))
        if len(rows) < 2:
            self._problem("choose at least 2 columns (Enter on a model adds one)")
            return
        chosen = []
        for number, row in enumerate(rows, 1):
            typed = row.field.value.strip()
            try:
                options, system = column_settings(shlex.split(typed))
            except ValueError as error:
                self._problem(f"column {number}: {error} (quote a value with spaces: "
                              "system='Answer briefly.')")  # fmt: skip
                return
            chosen.append(ChosenColumn(row.source, typed, options, system))
        self.dismiss((chosen, self.query_one("#blind", Checkbox).value))


class DiffView(ModalScreen[None]):
    """Two answers' difference, word by word."""

    DEFAULT_CSS = (
        DIALOG_CSS.format(name="DiffView")
        + """
    DiffView > Vertical { width: 110; height: 90%; }
    DiffView VerticalScroll { height: 1fr; }
    """
    )
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,f3,q", "dismiss", "Close", show=False),
    ]

    def __init__(self, old: tuple[str, str], new: tuple[str, str]) -> None:
        super().__init__()
        self.old, self.new = old, new

    def compose(self) -> ComposeResult:
        (old_name, old), (new_name, new) = self.old, self.new
        parts = diff_words(old, new)
        changed = sum(len(text.split()) for op, text in parts if op != "=")
        with Vertical():
            yield Label(
                f"{old_name} → {new_name}: struck out only in {old_name}, underlined "
                f"only in {new_name} ({changed} words differ)",
                classes="title",
            )
            with VerticalScroll():
                yield Static(self.render_diff(parts), id="diff")
            yield Label("Esc closes", classes="hint")

    @staticmethod
    def render_diff(parts: list[tuple[str, str]]) -> Content:
        styles = {"=": "", "-": "strike $text-error", "+": "underline $text-success"}
        return Content.assemble(*((text, styles[op]) for op, text in parts))


class Leaderboard(ModalScreen[None]):
    """The blind votes' standings."""

    DEFAULT_CSS = (
        DIALOG_CSS.format(name="Leaderboard")
        + """
    Leaderboard > Vertical { width: 100; }
    Leaderboard DataTable { height: auto; max-height: 20; }
    """
    )
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,f5,q", "dismiss", "Close", show=False),
    ]

    def __init__(self, votes: Sequence[Vote]) -> None:
        super().__init__()
        self.votes = list(votes)

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label(f"Leaderboard: {len(self.votes)} blind vote(s)", classes="title")
            table: DataTable[str] = DataTable(cursor_type="row", zebra_stripes=True)
            table.add_columns("#", "model", "score", "wins", "ties", "losses", "votes")
            for rank, row in enumerate(standings(self.votes), 1):
                table.add_row(str(rank), row.name, f"{row.score:.0f}", str(row.wins),
                              str(row.ties), str(row.losses), str(row.votes))  # fmt: skip
            yield table
            yield Label("Bradley-Terry scores (1000: even); a tie or \"all bad\" counts as a "
                        "draw · Esc closes", classes="hint")  # fmt: skip
