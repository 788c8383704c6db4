"""The pull dialog: a Hugging Face reference to pull, or words to search the hub for.

Searching and downloading run in worker threads; the download reports progress through a
tqdm class that posts at most ~10 messages a second, and Esc cancels it (the part already
downloaded stays for the next pull to resume).
"""

from __future__ import annotations

import threading
import time
from typing import Any, ClassVar

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.message import Message
from textual.screen import ModalScreen
from textual.widgets import DataTable, Input, Label, ProgressBar
from tqdm.auto import tqdm

from llmtui.library import hub

from .dialogs import DIALOG_CSS


class PullDialog(ModalScreen[str | None]):
    """Dismissed with the pulled model's reference, or None."""

    DEFAULT_CSS = (
        DIALOG_CSS.format(name="PullDialog")
        + "PullDialog > Vertical { width: 90; }"
        + "PullDialog DataTable { height: auto; max-height: 12; }"
    )
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel", "Cancel pull / close", id="pull.cancel")
    ]

    class Progress(Message):
        def __init__(self, done: int, total: int | None) -> None:
            super().__init__()
            self.done, self.total = done, total

    class Finished(Message):
        def __init__(self, reference: str | None, outcome: str) -> None:
            super().__init__()
            self.reference, self.outcome = reference, outcome

    class Found(Message):
        def __init__(self, hits: list[hub.SearchHit], problem: str | None) -> None:
            super().__init__()
            self.hits, self.problem = hits, problem

    def __init__(self) -> None:
        super().__init__()
        self.cancel = threading.Event()
        self.pulling = False

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label("Pull a model from Hugging Face", classes="title")
            yield Input(placeholder="hf.co/OWNER/REPO[:QUANT], or words to search for")
            table: DataTable[str] = DataTable(cursor_type="row")
            table.add_columns("repository", "downloads", "likes")
            table.display = False
            yield table
            yield ProgressBar(show_eta=True, id="progress")
            yield Label("Enter pulls or searches · Esc cancels", id="status")

    def on_mount(self) -> None:
        self.query_one(ProgressBar).display = False

    def _status(self, text: str, error: bool = False) -> None:
        label = self.query_one("#status", Label)
        label.update(text)
        label.set_class(error, "error")

    @on(Input.Submitted)
    def _submitted(self, event: Input.Submitted) -> None:
        text = event.value.strip()
        if not text or self.pulling:
            return
        if "/" in text and " " not in text:
            self.start(text if text.startswith("hf.co/") else f"hf.co/{text}")
        else:
            self._status(f"searching for {text!r}…")
            self.search(text)

    @on(DataTable.RowSelected)
    def _hit(self, event: DataTable.RowSelected) -> None:
        self.start(f"hf.co/{event.row_key.value}")

    def start(self, reference: str) -> None:
        self.pulling = True
        self.cancel.clear()
        self.query_one(Input).value = reference
        self.query_one(ProgressBar).display = True
        self._status(f"pulling {reference}… (Esc cancels)")
        self.download(reference)

    @work(thread=True, exclusive=True, group="pull", exit_on_error=False)
    def download(self, reference: str) -> None:
        screen = self

        class Report(tqdm):  # type: ignore[type-arg]
            def __init__(self, *args: Any, **kwargs: Any) -> None:
                super().__init__(*args, **{**kwargs, "disable": True})
                self.sent = 0.0

            def update(self, n: float | None = 1) -> bool | None:
                self.n += n or 0  # a disabled tqdm does not count
                now = time.monotonic()
                if now - self.sent > 0.1 or (self.total and self.n >= self.total):
                    self.sent = now
                    total = int(self.total) if self.total else None
                    screen.post_message(screen.Progress(int(self.n), total))
                return None

        try:
            pulled = hub.pull(reference, progress=Report, cancel=self.cancel)
        except hub.HubError as error:
            self.post_message(self.Finished(None, str(error)))
            return
        except Exception as error:  # a bug must not leave the dialog waiting forever
            self.post_message(self.Finished(None, f"the pull failed: {error!r}"))
            raise
        note = f" ({pulled.note})" if pulled.note else ""
        name = f"{reference.split(':')[0]}:{pulled.quant}"
        self.post_message(self.Finished(name, f"pulled {name}{note}"))

    @work(thread=True, exclusive=True, group="search", exit_on_error=False)
    def search(self, words: str) -> None:
        try:
            self.post_message(self.Found(hub.search(words), None))
        except hub.HubError as error:
            self.post_message(self.Found([], str(error)))

    @on(Found)
    def _found(self, event: Found) -> None:
        if event.problem:
            self._status(event.problem, error=True)
            return
        table = self.query_one(DataTable)
        table.clear()
        for hit in event.hits:
            table.add_row(hit.repo_id, f"{hit.downloads:,}", f"{hit.likes:,}", key=hit.repo_id)
        table.display = bool(event.hits)
        if event.hits:
            table.focus()
            self._status(f"{len(event.hits)} GGUF repositories · Enter pulls the highlighted one")
        else:
            self._status("no GGUF repository on Hugging Face matches", error=True)

    @on(Progress)
    def _progress(self, event: Progress) -> None:
        self.query_one(ProgressBar).update(total=event.total, progress=event.done)

    @on(Finished)
    def _finished(self, event: Finished) -> None:
        self.pulling = False
        self.query_one(ProgressBar).display = False
        if event.reference is None:
            self._status(event.outcome, error=True)
            return
        self.notify(event.outcome)
        self.dismiss(event.reference)

    def action_cancel(self) -> None:
        if self.pulling:
            self.cancel.set()  # the worker reports PullCancelled through Finished
        else:
            self.dismiss(None)
