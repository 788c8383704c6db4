"""The library pane: every model, filtered as you type; Enter chats with the highlighted one."""

from __future__ import annotations

from textual import on, work
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.message import Message
from textual.widgets import DataTable, Input, Static

from llmtui.engine import system
from llmtui.engine.memory import human_bytes
from llmtui.library import LibraryModel, list_models

NUM_CTX = 4096


class LibraryPane(Vertical):
    DEFAULT_CSS = """
    LibraryPane > DataTable { height: 1fr; }
    LibraryPane > #details { height: auto; max-height: 8; color: $text-muted; }
    """

    class Chosen(Message):
        def __init__(self, model: LibraryModel) -> None:
            super().__init__()
            self.model = model

    class Loaded(Message):
        def __init__(self, models: list[LibraryModel], problems: list[str]) -> None:
            super().__init__()
            self.models = models
            self.problems = problems

    def __init__(self, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.models: list[LibraryModel] = []

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
    def refresh_models(self) -> None:
        problems: list[str] = []
        models = list_models(problems)
        self.post_message(self.Loaded(models, problems))

    @on(Loaded)
    def _loaded(self, event: Loaded) -> None:
        self.models = event.models
        for problem in event.problems:
            self.notify(problem, severity="warning")
        self._fill(self.query_one("#filter", Input).value)

    @on(Input.Changed, "#filter")
    def _filter(self, event: Input.Changed) -> None:
        self._fill(event.value)

    def _fill(self, text: str) -> None:
        table = self.query_one(DataTable)
        table.clear()
        available = system.available_memory()
        for model in self.models:
            if text.lower() not in model.name.lower():
                continue
            info = model.info
            table.add_row(
                model.name,
                f"{info.parameters / 1e6:.0f}M" if info and not info.error else "-",
                info.quantization if info and not info.error else "-",
                human_bytes(model.size),
                model.fit(NUM_CTX, available),
                model.source,
                key=model.name,
            )

    def model(self, name: str) -> LibraryModel | None:
        return next((m for m in self.models if m.name == name), None)

    @on(DataTable.RowHighlighted)
    def _details(self, event: DataTable.RowHighlighted) -> None:
        model = self.model(str(event.row_key.value))
        if model is None:
            return
        info = model.info
        estimate = model.estimate(NUM_CTX)
        lines = [model.description]
        if info and not info.error:
            kind = "chat template" if info.has_chat_template else "completion model"
            lines.append(f"{info.architecture} · context {info.context_length:,} · {kind}")
        elif info:
            lines.append(f"broken: {info.error}")
        if estimate:
            lines.append(f"needs ~{human_bytes(estimate.total)} at num_ctx {NUM_CTX}")
        self.query_one("#details", Static).update("\n".join(lines))

    @on(DataTable.RowSelected)
    def _chosen(self, event: DataTable.RowSelected) -> None:
        model = self.model(str(event.row_key.value))
        if model is not None:
            self.post_message(self.Chosen(model))
