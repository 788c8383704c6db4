"""The library pane: every model, filtered as you type; Enter chats with the highlighted one;
its keys pull, copy and delete models."""

from __future__ import annotations

from typing import ClassVar

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.message import Message
from textual.widgets import DataTable, Input, Static

from llmtui.engine import system
from llmtui.engine.memory import human_bytes
from llmtui.library import LibraryModel, list_models
from llmtui.library.catalog import file_notes
from llmtui.library.manage import ManageError, copy_model, remove_model
from llmtui.library.names import InvalidName
from llmtui.library.remotes import served_models
from llmtui.tui.dialogs import Ask, Confirm
from llmtui.tui.modelfile_pane import name_problem
from llmtui.tui.pull import PullDialog


class LibraryPane(Vertical):
    DEFAULT_CSS = """
    LibraryPane > DataTable { height: 1fr; }
    LibraryPane > #details { height: auto; max-height: 8; color: $text-muted; }
    """

    # The actions live on the app: the command palette reaches them from anywhere.
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("e", "app.edit_model", "Edit Modelfile", id="library.edit"),
        Binding("p", "app.pull", "Pull", id="library.pull"),
        Binding("c", "app.copy_model", "Copy", id="library.copy"),
        Binding("d,delete", "app.delete_model", "Delete", id="library.delete"),
        Binding("r", "app.refresh_library", "Refresh", id="library.refresh"),
        Binding("slash", "filter", "Filter", id="library.filter"),
    ]

    class Chosen(Message):
        def __init__(self, model: LibraryModel) -> None:
            super().__init__()
            self.model = model

    class Loaded(Message):
        def __init__(
            self, models: list[LibraryModel], problems: list[str], select: str | None,
            say: bool,
        ) -> None:  # fmt: skip
            super().__init__()
            self.models = models
            self.problems = problems
            self.select = select
            self.say = say

    def __init__(self, num_ctx: int, kv_cache_type: str = "f16", **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        # What fit is judged at: the settings', as `llmtui list` does.
        self.num_ctx, self.kv_cache_type = num_ctx, kv_cache_type
        # The model the chat is on: the cursor opens on it.
        self.chatting: str | None = None
        self.models: list[LibraryModel] = []
        self.shown: list[LibraryModel] = []  # the rows of the table, filtered

    def compose(self) -> ComposeResult:
        yield Input(placeholder="filter models", id="filter")
        table: DataTable[str] = DataTable(cursor_type="row", zebra_stripes=True)
        yield table
        yield Static("", id="details")

    def on_mount(self) -> None:
        table = self.query_one(DataTable)
        table.add_columns("name", "params", "quant", "size", "fit", "source")
        self.refresh_models()

    @work(thread=True, exclusive=True, group="library", exit_on_error=False,
          description="reading the model library")  # fmt: skip
    def refresh_models(self, select: str | None = None, say: bool = False) -> None:
        """Read the library again; then highlight `select` (a name or reference) if given,
        and if `say`, tell how many models were found."""
        problems: list[str] = []
        # Served models after the local ones: a remote that is down delays this 0.4 s at
        # most (on this worker's thread), and hides nothing.
        models = list_models(problems) + served_models(problems)
        self.post_message(self.Loaded(models, problems, select, say))

    @on(Loaded)
    def _loaded(self, event: Loaded) -> None:
        self.models = event.models
        for problem in event.problems:
            self.notify(problem, severity="warning")
        if event.say:
            self.notify(f"library read again: {len(event.models)} models")
        field = self.query_one("#filter", Input)
        wanted = (event.select or "").lower().removeprefix("hf.co/")
        if wanted and wanted not in field.value.lower() and field.value.lower() not in wanted:
            with self.prevent(Input.Changed):
                field.value = ""  # the filter would hide the model to select
        self._fill(field.value, wanted or None)

    @on(Input.Changed, "#filter")
    def _filter(self, event: Input.Changed) -> None:
        self._fill(event.value)

    def _fill(self, text: str, select: str | None = None) -> None:
        """The models whose names contain `text`; the cursor stays on the model it was on,
        or goes to the first whose name contains `select`; at first, to the chat's model."""
        table = self.query_one(DataTable)
        current = self.highlighted()
        if current is None and select is None and self.chatting:
            current = self.model(self.chatting)
        table.clear()
        available = system.available_memory()
        self.shown = [m for m in self.models if text.lower() in m.name.lower()]
        for model in self.shown:
            info = model.info
            table.add_row(
                model.name,
                f"{info.parameters / 1e6:.0f}M"
                if info and not info.error
                else model.served_as[0] or "-",
                info.quantization if info and not info.error else model.served_as[1] or "-",
                human_bytes(model.size) if model.size or not model.remote else "-",
                model.fit(self.num_ctx, available, self.kv_cache_type),
                model.source,
                key=model.name,
            )
        for row, model in enumerate(self.shown):
            if (select and select in model.name.lower()) or (
                not select and current and model.name == current.name
            ):
                table.move_cursor(row=row)
                break

    def follow(self, name: str) -> None:
        """The chat is on `name` now: the cursor goes to it (once the list is read, if it
        is not yet)."""
        self.chatting = name
        row = next((i for i, m in enumerate(self.shown) if m.name == name), None)
        if row is not None:
            self.query_one(DataTable).move_cursor(row=row)

    def model(self, name: str) -> LibraryModel | None:
        return next((m for m in self.models if m.name == name), None)

    def highlighted(self) -> LibraryModel | None:
        table = self.query_one(DataTable)
        if not self.shown or not 0 <= table.cursor_row < len(self.shown):
            return None
        return self.shown[table.cursor_row]

    def target(self) -> LibraryModel | None:
        """The highlighted model, for an action on it (or None, and what to do said)."""
        model = self.highlighted()
        if model is None:
            self.notify("highlight a model in the library first (F2)", severity="warning")
        return model

    @work(exit_on_error=False)
    async def pull(self) -> None:
        reference = await self.app.push_screen_wait(PullDialog())
        if reference:
            self.refresh_models(select=reference)

    @work(exit_on_error=False)
    async def copy_highlighted(self) -> None:
        model = self.target()
        if model is None:
            return
        name = await self.app.push_screen_wait(
            Ask(f"Copy {model.name} to:", placeholder="NAME[:TAG]", check=name_problem)
        )
        if not name:
            return
        try:
            manifest = copy_model(model, name)
        except (ManageError, InvalidName, OSError) as error:
            self.notify(str(error), severity="error")
            return
        self.notify(f"copied {model.name} to {manifest.name}")
        self.refresh_models(select=manifest.name)

    @work(exit_on_error=False)
    async def delete_highlighted(self) -> None:
        model = self.target()
        if model is None:
            return
        if "starter" in model.sources:
            self.notify(f"{model.name} is a starter model: it comes with its Python package, "
                        "and goes when you uninstall that", severity="warning")  # fmt: skip
            return
        what = "Delete" if model.owned else "Hide (its file stays)"
        if not await self.app.push_screen_wait(Confirm(f"{what} {model.name}?", yes=what)):
            return
        try:
            self.notify(remove_model(model))
        except (ManageError, OSError) as error:
            self.notify(str(error), severity="error")
            return
        self.refresh_models()

    def action_filter(self) -> None:
        self.query_one("#filter", Input).focus()

    @on(Input.Submitted, "#filter")
    def _to_table(self) -> None:
        """Enter in the filter opens the model it leaves highlighted (one Enter, not two)."""
        self.query_one(DataTable).focus()
        model = self.highlighted()
        if model is not None:
            self.post_message(self.Chosen(model))

    @on(DataTable.RowHighlighted)
    def _details(self, event: DataTable.RowHighlighted) -> None:
        model = self.model(str(event.row_key.value))
        if model is None:
            return
        info = model.info
        estimate = model.estimate(self.num_ctx, self.kv_cache_type)
        lines = [model.description, *file_notes(model)]
        if info and not info.error:
            kind = "chat template" if info.has_chat_template else "completion model"
            lines.append(f"{info.architecture} · context {info.context_length:,} · {kind}")
        elif info:
            lines.append(f"broken: {info.error}")
        if estimate:
            lines.append(
                f"needs ~{human_bytes(estimate.total)} at num_ctx {self.num_ctx}"
                + (f", KV cache {self.kv_cache_type}" if self.kv_cache_type != "f16" else "")
            )
        self.query_one("#details", Static).update("\n".join(lines))

    @on(DataTable.RowSelected)
    def _chosen(self, event: DataTable.RowSelected) -> None:
        model = self.model(str(event.row_key.value))
        if model is not None:
            self.post_message(self.Chosen(model))
