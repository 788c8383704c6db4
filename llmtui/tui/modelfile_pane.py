"""The Modelfile editor's pane: the buffer, its validation, its file and its draft.

Unsaved changes go to a draft (`llmtui.drafts`) DRAFT_DELAY seconds after the last edit,
so a crash loses nothing; saving writes the file atomically and drops the draft.
"""

from __future__ import annotations

from pathlib import Path

from textual import on, work
from textual.app import ComposeResult
from textual.message import Message
from textual.timer import Timer
from textual.widgets import Static

from llmtui import atomic, drafts
from llmtui.engine import EngineError, ModelSpec
from llmtui.library.create import create, draft_spec
from llmtui.library.names import InvalidName
from llmtui.library.names import parse as parse_name
from llmtui.modelfile import Modelfile, ModelfileError
from llmtui.tui import modelfiles
from llmtui.tui.dialogs import Ask
from llmtui.tui.editor import ModelfileEditor, check
from llmtui.tui.pane import Pane

DRAFT_DELAY = 0.5  # seconds after the last edit that the draft is written


class ModelfilePane(Pane):
    def __init__(self, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.origin = ""  # the model the buffer belongs to, when it is not a file
        self._draft_timer: Timer | None = None

    def compose(self) -> ComposeResult:
        yield ModelfileEditor(id="modelfile")
        yield Static("", id="validation")

    @property
    def editor(self) -> ModelfileEditor:
        return self.query_one("#modelfile", ModelfileEditor)

    class Checked(Message):
        def __init__(self, text: str, result: Modelfile | ModelfileError) -> None:
            super().__init__()
            self.text, self.result = text, result

    @on(ModelfileEditor.Changed, "#modelfile")
    def _changed(self) -> None:
        self._check(self.editor.text)
        self._show_name()
        if self._draft_timer is not None:
            self._draft_timer.stop()
        self._draft_timer = self.set_timer(DRAFT_DELAY, self.keep_draft)

    @work(thread=True, exclusive=True, group="modelfile-check", exit_on_error=False,
          description="checking the Modelfile")  # fmt: skip
    def _check(self, text: str) -> None:
        # Off the UI thread: a check renders the templates once, which a hostile template
        # can make take its whole time limit; typing goes on meanwhile.
        self.post_message(self.Checked(text, check(text)))

    @on(Checked)
    def _checked(self, event: Checked) -> None:
        editor = self.editor
        if event.text != editor.text:
            return  # an older text's check: a newer one is on its way
        editor.show_result(event.text, event.result)
        self._show_result()

    def _show_result(self) -> None:
        editor = self.editor
        result = editor.validate()
        label = self.query_one("#validation", Static)
        state = " · unsaved" if editor.unsaved else ""
        if isinstance(result, ModelfileError):
            label.update(f"✗ {result.line}:{result.column}: {result.reason}{state}")
            label.set_class(True, "-error")
        else:
            warnings = "; ".join(str(w) for w in result.warnings)
            label.update(f"✓ valid Modelfile{' · ' + warnings if warnings else ''}{state}")
            label.set_class(False, "-error")
        self._show_name()

    def _show_name(self) -> None:
        editor = self.editor
        name = str(editor.path) if editor.path else self.origin
        mark = " ●" if editor.unsaved else ""
        # The border's corners and the title's padding take ~6 cells.
        self.border_subtitle = shorten_path(name, self.size.width - 6 - len(mark)) + mark

    def on_resize(self) -> None:
        self._show_name()

    def keep_draft(self) -> None:
        """Write the draft now if the buffer is unsaved; drop it if not."""
        editor = self.editor
        if editor.unsaved:
            drafts.save(drafts.Draft(editor.text, self.origin, str(editor.path or "")))
        else:
            drafts.discard()

    def restore_draft(self) -> drafts.Draft | None:
        """Put a draft left by an earlier session into the buffer, unsaved."""
        draft = drafts.load()
        if draft is not None:
            if draft.path:
                self.editor.path = Path(draft.path)
            self.editor.text = draft.text
        return draft

    # -- its file, and the models made of it ---------------------------------------------

    class Opened(Message):
        """A Modelfile was opened into the buffer."""

    class Created(Message):
        """A model was created from the buffer."""

        def __init__(self, name: str) -> None:
            super().__init__()
            self.name = name

    def _base_dir(self) -> Path:
        """Where a FROM or ADAPTER path in the buffer is relative to."""
        path = self.editor.path
        return path.parent if path else Path.cwd()

    def buffer(self) -> Modelfile | None:
        """The buffer's Modelfile, or None (and the error said)."""
        result = self.editor.validate()
        if isinstance(result, ModelfileError):
            self.notify(f"fix the Modelfile first: {result.line}:{result.column}: "
                        f"{result.reason}", severity="error")  # fmt: skip
            return None
        return result

    def build(self) -> tuple[ModelSpec, str] | None:
        """What the buffer runs, unsaved, and the base it names; None (and said) if it
        cannot run."""
        modelfile = self.buffer()
        if modelfile is None:
            return None
        try:
            spec = draft_spec(modelfile, self._base_dir())
        except (ModelfileError, ValueError, EngineError, OSError) as error:
            self.notify(str(error), severity="error")
            return None
        return spec, modelfile.from_

    @work(exit_on_error=False)
    async def open(self) -> None:
        answer = await self.app.push_screen_wait(
            Ask("Open Modelfile:", placeholder="a path, or a name in modelfiles/ (Tab completes)",
                check=lambda text: None if modelfiles.resolve(text).is_file() else "no such file",
                suggester=modelfiles.PathSuggester(), choices=modelfiles.saved())
        )  # fmt: skip
        if not answer:
            return
        path = modelfiles.resolve(answer)
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as error:
            self.notify(f"cannot read {path}: {error}", severity="error")
            return
        self.editor.load(text, path)
        self.post_message(self.Opened())

    def save(self) -> None:
        if self.editor.path is None:
            self.save_as()
        else:
            self._write(self.editor.path)

    @work(exit_on_error=False)
    async def save_as(self) -> None:
        answer = await self.app.push_screen_wait(
            Ask("Save Modelfile as:", str(self.editor.path or ""),
                placeholder="a path, or a name (saved in modelfiles/; Tab completes)",
                suggester=modelfiles.PathSuggester(), choices=modelfiles.saved())
        )  # fmt: skip
        if answer:
            self._write(modelfiles.resolve(answer))

    def _write(self, path: Path) -> None:
        try:
            self.write(path)
        except OSError as error:
            self.notify(f"cannot save {path}: {error}", severity="error")
            return
        self.notify(f"saved {path}")

    def write(self, path: Path) -> None:
        """Save the buffer to `path` (atomically); OSError if it cannot be written."""
        editor = self.editor
        atomic.write_text(path, editor.text)
        editor.path = path
        self.saved()

    @work(exit_on_error=False)
    async def create_model(self) -> None:
        modelfile = self.buffer()
        if modelfile is None:
            return
        name = await self.app.push_screen_wait(
            Ask("Create a model from the buffer, named:", placeholder="NAME[:TAG]",
                check=name_problem)
        )  # fmt: skip
        if not name:
            return
        try:
            manifest = create(name, modelfile, self._base_dir())
        except (ModelfileError, ValueError, EngineError, OSError) as error:
            self.notify(str(error), title="not created", severity="error")
            return
        self.notify(f"created {manifest.name}")
        if not self.editor.path:
            self.saved()  # it lives in the store now
        self.post_message(self.Created(manifest.name))

    def saved(self) -> None:
        """The buffer is now what is kept (in a file, or as a model in the store)."""
        self.editor.saved_text = self.editor.text
        drafts.discard()
        self._show_result()


def shorten_path(path: str, width: int) -> str:
    """`path` in `width` cells: what goes is the start of its folder, never its file name
    (Textual cuts a long border title at its end, the name with it)."""
    if len(path) <= width:
        return path
    folder, slash, name = path.rpartition("/")
    if not slash or len(name) + 2 > width:
        return "…" + path[-(width - 1) :] if width > 1 else path[-1:]
    return "…" + (folder + slash)[-(width - 1 - len(name)) :] + name


def name_problem(name: str) -> str | None:
    """What is wrong with `name` as a model's name (None: nothing)."""
    try:
        parse_name(name)
    except InvalidName as error:
        return str(error)
    return None
