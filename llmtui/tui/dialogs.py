"""Small modal screens: a yes/no question, a line of text to ask for, and the key help."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.suggester import Suggester
from textual.widgets import Button, DataTable, Input, Label, OptionList

DIALOG_CSS = """
{name} {{ align: center middle; }}
{name} > Vertical {{
    width: 72; max-width: 95%; height: auto; max-height: 90%;
    border: round $accent; background: $surface; padding: 0 1;
}}
{name} .title {{ text-style: bold; margin: 0 0 1 0; }}
{name} .error {{ color: $error; }}
{name} Horizontal {{ height: auto; align-horizontal: right; margin: 1 0 0 0; }}
{name} Button {{ margin: 0 0 0 1; }}
"""


class Confirm(ModalScreen[bool]):
    """A yes/no question; y or Enter says yes, n or Esc says no."""

    DEFAULT_CSS = DIALOG_CSS.format(name="Confirm")
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("y", "answer(True)", "Yes", show=False),
        Binding("n,escape", "answer(False)", "No", show=False),
    ]

    def __init__(self, question: str, yes: str = "Yes") -> None:
        super().__init__()
        self.question = question
        self.yes = yes

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label(self.question, classes="title")
            with Horizontal():
                yield Button("No [n]", id="no")
                yield Button(f"{self.yes} [y]", id="yes", variant="error")

    def on_mount(self) -> None:
        self.query_one("#yes").focus()

    @on(Button.Pressed)
    def _pressed(self, event: Button.Pressed) -> None:
        self.dismiss(event.button.id == "yes")

    def action_answer(self, answer: bool) -> None:
        self.dismiss(answer)


class Ask(ModalScreen[str | None]):
    """A line of text: Enter gives it (if `check` finds nothing wrong), Esc gives None.
    With a `suggester`, Tab takes its suggestion; with `choices`, a list under the field
    offers them (Down goes to it, Enter picks one)."""

    DEFAULT_CSS = DIALOG_CSS.format(name="Ask") + "Ask OptionList { max-height: 10; }"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel", "Cancel", show=False),
        Binding("tab", "complete", "Complete", show=False, priority=True),
        Binding("down", "to_choices", "Choices", show=False),
    ]

    def __init__(
        self,
        title: str,
        value: str = "",
        placeholder: str = "",
        check: Callable[[str], str | None] | None = None,
        suggester: Suggester | None = None,
        choices: Sequence[str] = (),
    ) -> None:
        super().__init__()
        self.title_text = title
        self.value = value
        self.placeholder = placeholder
        self.check = check
        self.suggester = suggester
        self.choices = list(choices)

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label(self.title_text, classes="title")
            yield Input(self.value, placeholder=self.placeholder, suggester=self.suggester)
            if self.choices:
                yield OptionList(*self.choices)
            yield Label("", classes="error")

    def _answer(self, value: str) -> None:
        value = value.strip()
        problem = self.check(value) if self.check else None
        if problem:
            self.query_one(".error", Label).update(problem)
            return
        self.dismiss(value or None)

    @on(Input.Submitted)
    def _submitted(self, event: Input.Submitted) -> None:
        self._answer(event.value)

    @on(OptionList.OptionSelected)
    def _picked(self, event: OptionList.OptionSelected) -> None:
        self._answer(str(event.option.prompt))

    def action_complete(self) -> None:
        field = self.query_one(Input)
        before = field.value
        if self.focused is field and field.cursor_at_end:
            field.action_cursor_right()  # at the end, Input takes its suggestion
        if field.value == before:
            self.focus_next()

    def action_to_choices(self) -> None:
        if self.choices and isinstance(self.focused, Input):
            self.query_one(OptionList).focus()

    def action_cancel(self) -> None:
        self.dismiss(None)


class KeyHelp(ModalScreen[None]):
    """Every binding: its keys, its id (what the settings' keymap remaps) and what it does."""

    DEFAULT_CSS = (
        DIALOG_CSS.format(name="KeyHelp")
        + "KeyHelp > Vertical { width: 96; } KeyHelp DataTable { height: auto; }"
    )
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,question_mark,f1,q", "dismiss", "Close", show=False),
        # DataTable's own End and Home scroll sideways.
        Binding("end", "row(-1)", "Last key", show=False, priority=True),
        Binding("home", "row(0)", "First key", show=False, priority=True),
    ]

    def action_row(self, row: int) -> None:
        table = self.query_one(DataTable)
        table.move_cursor(row=row % max(1, table.row_count))

    def __init__(self, rows: Iterable[tuple[str, str, str, str]]) -> None:
        super().__init__()
        self.rows = list(rows)

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label("Keys — remap any in settings.toml: \\[keymap] \"id\" = \"key\"",
                        classes="title")  # fmt: skip
            table: DataTable[str] = DataTable(cursor_type="row", zebra_stripes=True)
            table.add_columns("where", "key", "id", "what it does")
            table.add_rows(self.rows)
            yield table
            yield Label("Ctrl+P: every action by name · Esc closes", classes="hint")

    def on_resize(self) -> None:
        # The table scrolls only if it is shorter than its rows: an `auto` height taller than
        # the dialog's (90% of the screen) was cut off at 80x24, with no way to scroll. The
        # dialog's border, title (and its margin) and hint take 5 rows.
        rows = max(3, min(30, self.size.height * 9 // 10 - 5))
        self.query_one(DataTable).styles.max_height = rows
