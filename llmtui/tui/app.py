"""The workbench: library, chat, Modelfile editor and live stats on one screen."""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

from textual import on
from textual.app import App, ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.widget import Widget
from textual.widgets import Footer, Header, Static, Tab, Tabs

from llmtui.engine import (
    Done,
    Engine,
    EngineError,
    Failed,
    Message,
    ModelSpec,
    RequestHandle,
)
from llmtui.library import LibraryModel, UnknownModel, find
from llmtui.library.create import build
from llmtui.modelfile import ModelfileError, serialise
from llmtui.tui.bridge import FRAME, ReplyBridge
from llmtui.tui.chat import PromptInput, Reply, Transcript, UserTurn
from llmtui.tui.editor import ModelfileEditor
from llmtui.tui.library import LibraryPane
from llmtui.tui.stats import StatsPane
from llmtui.tui.themes import load_themes

PANES = ("library", "chat", "editor", "stats")
NARROW = 110  # columns below which the panes become tabs


class Workbench(App[None]):
    TITLE = "llmtui"
    CSS_PATH = "workbench.tcss"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("ctrl+q", "quit", "Quit", id="app.quit", priority=True),
        Binding("f2", "show('library')", "Library", id="pane.library"),
        Binding("f3", "show('chat')", "Chat", id="pane.chat"),
        Binding("f4", "show('editor')", "Modelfile", id="pane.editor"),
        Binding("f5", "show('stats')", "Stats", id="pane.stats"),
        Binding("f6", "zoom", "Zoom", id="pane.zoom"),
        Binding("escape", "stop", "Stop", id="chat.stop"),
        Binding("f7", "apply_buffer", "Chat with buffer", id="editor.apply"),
        Binding("f8", "clear_chat", "Clear chat", id="chat.clear"),
    ]

    def __init__(
        self, model: str | None = None, engine: Engine | None = None, theme: str | None = None
    ) -> None:
        super().__init__()
        self.wanted_theme = theme
        self.engine = engine or Engine()
        self._own_engine = engine is None
        self.model_name = model or "smollm2:135m"
        self.model: LibraryModel | None = None
        self.spec: ModelSpec | None = None
        self.history: list[Message] = []
        self.handle: RequestHandle | None = None
        self.reply: Reply | None = None
        self.reply_text: list[str] = []

    # -- layout ---------------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        yield Header()
        yield Tabs(*(Tab(p.title(), id=f"tab-{p}") for p in PANES), id="tabs")
        with Vertical(id="library", classes="pane"):
            yield LibraryPane()
        with Vertical(id="chat", classes="pane"):
            yield Transcript(id="transcript")
            yield PromptInput(id="prompt")
        with Vertical(id="editor", classes="pane"):
            yield ModelfileEditor(id="modelfile")
            yield Static("", id="validation")
        with Vertical(id="stats", classes="pane"):
            yield StatsPane()
        yield Footer()

    def on_mount(self) -> None:
        themes, problems = load_themes()
        for theme in themes:
            self.register_theme(theme)
        for problem in problems:
            self.notify(problem, severity="warning")
        if self.wanted_theme:
            if self.wanted_theme in self.available_themes:
                self.theme = self.wanted_theme
            else:
                self.notify(f"no theme called {self.wanted_theme!r}", severity="warning")
        for pane in PANES:
            self.query_one(f"#{pane}").border_title = pane.title()
        self.query_one("#transcript", Transcript).anchor()
        self.choose(self.model_name)
        self.query_one("#prompt").focus()
        self._layout(self.size.width)

    def on_resize(self, event: object) -> None:
        self._layout(self.size.width)

    def _layout(self, width: int) -> None:
        self.screen.set_class(width < NARROW, "-narrow")
        if width < NARROW and not self.screen.query(".pane.-current"):
            self.action_show("chat")

    def action_show(self, pane: str) -> None:
        for other in self.query(".pane"):
            other.set_class(other.id == pane, "-current")
        self.query_one("#tabs", Tabs).active = f"tab-{pane}"
        target = {"chat": "#prompt", "library": "DataTable", "editor": "#modelfile"}.get(pane)
        if target:
            self.query_one(target).focus()

    @on(Tabs.TabActivated, "#tabs")
    def _tab(self, event: Tabs.TabActivated) -> None:
        pane = event.tab.id.removeprefix("tab-") if event.tab.id else "chat"
        for other in self.query(".pane"):
            other.set_class(other.id == pane, "-current")

    def action_zoom(self) -> None:
        if self.screen.maximized is not None:
            self.screen.minimize()
            return
        focused = self.focused
        panes = [
            node
            for node in (focused.ancestors_with_self if focused else [])
            if isinstance(node, Widget) and node.has_class("pane")
        ]
        if panes:
            self.screen.maximize(panes[0], container=False)

    # -- the model ------------------------------------------------------------------------

    def choose(self, name: str) -> None:
        try:
            model = find(name)
        except UnknownModel as error:
            self.notify(str(error), severity="error")
            return
        self.set_model(model)

    def set_model(self, model: LibraryModel) -> None:
        self.model = model
        self.spec = model.spec()
        self.sub_title = model.name
        editor = self.query_one("#modelfile", ModelfileEditor)
        if model.manifest is not None:
            editor.text = serialise(model.manifest.modelfile())
        else:
            editor.text = f"FROM {model.name}\n"

    @on(LibraryPane.Chosen)
    def _chosen(self, event: LibraryPane.Chosen) -> None:
        self.set_model(event.model)
        self.history.clear()
        self.notify(f"chatting with {event.model.name}")
        self.action_show("chat")

    # -- chat -----------------------------------------------------------------------------

    @on(PromptInput.Send)
    async def _send(self, event: PromptInput.Send) -> None:
        if self.spec is None:
            self.notify("no model is selected", severity="error")
            return
        if self.handle is not None and self.handle.result is None:
            self.notify("a reply is still streaming (Esc stops it)", severity="warning")
            return
        transcript = self.query_one("#transcript", Transcript)
        await transcript.mount(UserTurn(event.text))
        self.reply = Reply()
        self.reply_text = []
        await transcript.mount(self.reply)
        self.history.append(Message("user", event.text))
        bridge = ReplyBridge(self)
        self.handle = self.engine.chat(self.spec, list(self.history), on_event=bridge)

    @on(ReplyBridge.Ready)
    async def _reply_ready(self, event: ReplyBridge.Ready) -> None:
        drained = event.bridge.drain()
        reply = self.reply
        if drained.text and reply is not None:
            self.reply_text.append(drained.text)
            await reply.write(drained.text)
        if drained.stats is not None:
            self.query_one(StatsPane).show_live(drained.stats)
        for notice in drained.notices:
            self.notify(notice)
        final = drained.final
        if final is None:
            self.set_timer(FRAME, event.bridge.release)
            return
        if isinstance(final, Done):
            self.history.append(Message("assistant", final.text))
            self.query_one(StatsPane).show_done(final)
            if reply is not None:
                await reply.finish(final, final.text)
        elif isinstance(final, Failed):
            self.history.pop()
            self.notify(str(final.error), title="the model failed", severity="error")
            if reply is not None:
                await reply.finish(None, "".join(self.reply_text) or f"*{final.error}*")

    def action_stop(self) -> None:
        if self.handle is not None and self.handle.result is None:
            self.handle.cancel()

    async def action_clear_chat(self) -> None:
        self.action_stop()
        self.history.clear()
        await self.query_one("#transcript", Transcript).remove_children()

    # -- the editor -----------------------------------------------------------------------

    @on(ModelfileEditor.Changed, "#modelfile")
    def _validate(self, event: ModelfileEditor.Changed) -> None:
        editor = self.query_one("#modelfile", ModelfileEditor)
        result = editor.validate()
        label = self.query_one("#validation", Static)
        if isinstance(result, ModelfileError):
            label.update(f"✗ {result.line}:{result.column}: {result.reason}")
            label.set_class(True, "-error")
        else:
            warnings = "; ".join(str(w) for w in result.warnings)
            label.update(f"✓ valid Modelfile{' · ' + warnings if warnings else ''}")
            label.set_class(False, "-error")

    def action_apply_buffer(self) -> None:
        """Chat with the editor's Modelfile now, without saving it."""
        editor = self.query_one("#modelfile", ModelfileEditor)
        result = editor.validate()
        if isinstance(result, ModelfileError):
            self.notify(f"{result.line}:{result.column}: {result.reason}", severity="error")
            return
        try:
            manifest = build("buffer", result, Path.cwd())
        except (ModelfileError, ValueError, EngineError) as error:
            self.notify(str(error), severity="error")
            return
        self.spec = manifest.spec()
        self.sub_title = f"{result.from_} (edited buffer)"
        self.notify("the chat now uses the editor's Modelfile")

    # -- leaving --------------------------------------------------------------------------

    async def action_quit(self) -> None:
        self.action_stop()
        self.exit()

    def on_unmount(self) -> None:
        if self._own_engine:
            self.engine.close()


def run_workbench(model: str | None = None, theme: str | None = None) -> int:
    Workbench(model, theme=theme).run()
    return 0
