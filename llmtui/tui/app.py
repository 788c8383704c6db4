"""The workbench: library, chat, Modelfile editor and live stats on one screen."""

from __future__ import annotations

import asyncio
import contextlib
import sys
from collections.abc import Awaitable, Callable, Iterable
from typing import TYPE_CHECKING, ClassVar

from textual import events, on, work
from textual.app import ComposeResult, SystemCommand
from textual.binding import Binding, BindingType
from textual.dom import DOMNode
from textual.screen import ModalScreen, Screen
from textual.widget import Widget
from textual.widgets import Footer, Header, Tab, Tabs

from llmtui import drafts
from llmtui.chat import ChatSession, SessionError
from llmtui.chat.compare import Column, Comparison, kept_columns
from llmtui.engine import make_engine
from llmtui.library import LibraryModel, UnknownModel, find, list_models
from llmtui.library.remotes import served_models
from llmtui.modelfile import serialise
from llmtui.remote.routing import RoutingEngine
from llmtui.remote.shared import SharedEngine
from llmtui.settings import Settings
from llmtui.tui.chat import PromptInput, Transcript
from llmtui.tui.chat_pane import ChatPane
from llmtui.tui.compare import CompareScreen, VoteBar, unique_labels
from llmtui.tui.compare_dialogs import ChooseColumns, ChosenColumn, Leaderboard
from llmtui.tui.conversations import Conversations
from llmtui.tui.dialogs import Ask, Confirm, KeyHelp
from llmtui.tui.editor import ModelfileEditor
from llmtui.tui.keys import PALETTE_ONLY, binding_rows
from llmtui.tui.library import LibraryPane
from llmtui.tui.modelfile_pane import ModelfilePane
from llmtui.tui.overrides import AppOverrides, WorkbenchScreen
from llmtui.tui.pane import Pane
from llmtui.tui.pull import PullDialog
from llmtui.tui.stats import StatsPane
from llmtui.tui.themes import load_themes

if TYPE_CHECKING:
    from llmtui.engine import Engine

PANES = ("library", "chat", "editor", "stats")
NARROW = 110  # columns below which the panes become tabs
SWITCH_INTERVAL = 0.0005  # seconds: how soon the model's thread gets the GIL from the UI
# The workbench's own actions: off while the compare view (or a dialog over it) is shown.
WORKBENCH_ONLY = frozenset(
    {
        "show",
        "zoom",
        "apply_buffer",
        "stop",
        "regenerate",
        "edit_last",
        "clear_chat",
        "conversations",
        "create_model",
        "save",
        "open",
        "save_as",
        "set_system",
        "set_parameter",
        "copy_last",
        "follow",
    }
)
BUFFER = "the Modelfile editor's buffer (unsaved)"


class Workbench(AppOverrides[None]):
    TITLE = "llmtui"
    CSS_PATH = "workbench.tcss"
    # F2-F7 are priority bindings: TextArea binds F6 and F7 itself (select line / all), and
    # the panes must answer from any widget. `check_action` turns them off under a dialog.
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("ctrl+q", "quit", "Quit", id="app.quit", priority=True),
        Binding("f1,question_mark", "keys", "Keys", id="app.keys"),
        Binding("f2", "show('library')", "Library", id="pane.library", priority=True),
        Binding("f3", "show('chat')", "Chat", id="pane.chat", priority=True),
        Binding("f4", "show('editor')", "Modelfile", id="pane.editor", priority=True),
        Binding("f5", "show('stats')", "Stats", id="pane.stats", priority=True),
        Binding("f6", "zoom", "Zoom", id="pane.zoom", priority=True),
        Binding("escape", "stop", "Stop", id="chat.stop"),
        Binding("ctrl+r", "regenerate", "Regenerate", id="chat.regenerate"),
        Binding("ctrl+t", "edit_last", "Edit last prompt", id="chat.edit_last"),
        Binding("f8", "clear_chat", "Clear chat", id="chat.clear"),
        Binding("f7", "apply_buffer", "Chat with buffer", id="editor.apply", priority=True),
        Binding("ctrl+s", "save", "Save Modelfile", id="editor.save", show=False),
        Binding("ctrl+o", "open", "Open Modelfile", id="editor.open", show=False),
        Binding("f9", "create_model", "Create model from buffer", id="editor.create"),
        Binding("ctrl+l", "conversations", "Conversations", id="app.conversations"),
        Binding("ctrl+g", "compare", "Compare models", id="app.compare"),
    ]

    def __init__(
        self,
        model: str | None = None,
        engine: Engine | None = None,
        theme: str | None = None,
        settings: Settings | None = None,
        problems: Iterable[str] = (),
        shared: str | None = None,
    ) -> None:
        super().__init__()
        self.settings = settings or Settings()
        self.problems = list(problems)
        self.wanted_theme = theme or self.settings.theme
        # Served models go to their servers; llama.cpp's engine is made for a local one,
        # unless a shared server runs this machine's models (`llmtui web`: a tab each).
        self.engine: RoutingEngine | SharedEngine = (
            SharedEngine(shared) if shared
            else RoutingEngine(make_engine if engine is None else lambda: engine)
        )  # fmt: skip
        self._own_engine = engine is None
        self.model_name = model or self.settings.default_model
        self.session = ChatSession(self.engine, defaults=self.settings.parameters)
        # The last comparison's columns (source, parameters) and mode: offered again.
        self._compared: tuple[list[tuple[str, str]], bool] | None = None

    # -- layout ---------------------------------------------------------------------------

    def get_default_screen(self) -> Screen[None]:
        return WorkbenchScreen(id="_default")

    def compose(self) -> ComposeResult:
        yield Header()
        yield Tabs(*(Tab(p.title(), id=f"tab-{p}") for p in PANES), id="tabs")
        with Pane(id="library", classes="pane"):
            yield LibraryPane(self.settings.num_ctx, self.settings.options().kv_cache_type)
        yield ChatPane(self.session, self.settings.frame_ms, id="chat", classes="pane")
        yield ModelfilePane(id="editor", classes="pane")
        with Pane(id="stats", classes="pane"):
            yield StatsPane()
        yield Footer()

    def on_mount(self) -> None:
        # The model's thread needs the GIL for a moment between tokens; while the UI renders
        # a frame, it waits up to the switch interval (5 ms by default) for it, which at
        # 20 frames a second cost the engine ~10% of its speed even with a core free.
        sys.setswitchinterval(SWITCH_INTERVAL)
        self.screen.add_class("workbench")
        themes, problems = load_themes()
        for theme in themes:
            self.register_theme(theme)
        for problem in [*self.problems, *problems]:
            self.notify(problem, severity="warning", timeout=10)
        if self.wanted_theme in self.available_themes:
            self.theme = self.wanted_theme
        else:
            self.notify(f"no theme called {self.wanted_theme!r}", severity="warning")
        self._apply_keymap()
        for pane in PANES:
            self.query_one(f"#{pane}").border_title = pane.title()
        self.choose(self.model_name)
        if self.settings.keep_chats:
            self.chat.open_store()
        self._restore_draft()
        self.query_one("#prompt").focus()
        self._layout(self.size.width)

    def _apply_keymap(self) -> None:
        known = {binding_id for _, _, binding_id, _ in self.key_rows()}
        unknown = sorted(set(self.settings.keymap) - known)
        if unknown:
            self.notify(f"keymap: no key called {', '.join(unknown)} (F1 lists them)",
                        severity="warning")  # fmt: skip
        self.set_keymap({k: v for k, v in self.settings.keymap.items() if k in known})

    def on_resize(self, event: events.Resize) -> None:
        # The event's size: the app's own is still the one before the resize here.
        self._layout(event.size.width)

    def _layout(self, width: int) -> None:
        self.screen.set_class(width < NARROW, "-narrow")
        if width < NARROW and not self.screen.query(".pane.-current"):
            self.action_show("chat")

    def _current(self, pane: str) -> None:
        """`pane` is the one shown when the panes are tabs (narrow terminals)."""
        for other in self.query(".pane"):
            other.set_class(other.id == pane, "-current")
        self.query_one("#tabs", Tabs).active = f"tab-{pane}"

    def action_show(self, pane: str) -> None:
        self._current(pane)
        if pane == "chat" and isinstance(self.focused, PromptInput):
            self.query_one("#transcript").focus()  # F3 again: from the input to the transcript
            return
        target = {"chat": "#prompt", "library": "DataTable", "editor": "#modelfile",
                  "stats": "StatsPane"}.get(pane)  # fmt: skip
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

    # -- keys and commands ----------------------------------------------------------------

    def key_rows(self) -> list[tuple[str, str, str, str]]:
        """(where, key, id, description) of every binding, with the keymap applied."""
        holders = (("everywhere", Workbench), ("chat input", PromptInput),
                   ("transcript", Transcript), ("editor", ModelfileEditor),
                   ("library", LibraryPane), ("pull dialog", PullDialog),
                   ("conversations", Conversations), ("compare", CompareScreen),
                   ("blind vote", VoteBar), ("compare columns", ChooseColumns))  # fmt: skip
        return binding_rows(holders, self.settings.keymap)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if any(isinstance(screen, CompareScreen) for screen in self.screen_stack):
            return action not in WORKBENCH_ONLY
        under_dialog = isinstance(self.screen, ModalScreen)
        return not (under_dialog and action in ("show", "zoom", "apply_buffer"))

    def action_keys(self) -> None:
        self.push_screen(KeyHelp(self.key_rows()))

    def get_system_commands(self, screen: Screen[object]) -> Iterable[SystemCommand]:
        yield from super().get_system_commands(screen)
        if isinstance(screen, CompareScreen):
            yield from self._commands(CompareScreen.BINDINGS, screen)
        yield from self._commands(self.BINDINGS, self)
        for title, help_text, action in PALETTE_ONLY:
            if self.check_action(action, ()):
                yield SystemCommand(title, help_text, self._runner(action, self))

    def _commands(self, bindings: list[BindingType], where: DOMNode) -> Iterable[SystemCommand]:
        for binding in bindings:
            assert isinstance(binding, Binding)
            if binding.id and binding.id != "app.quit" and self.check_action(binding.action, ()):
                yield SystemCommand(binding.description, f"{binding.key} · {binding.id}",
                                    self._runner(binding.action, where))  # fmt: skip

    def _runner(self, action: str, where: DOMNode) -> Callable[[], Awaitable[None]]:
        async def run() -> None:
            await self.run_action(action, where)

        return run

    # -- the model ------------------------------------------------------------------------

    def choose(self, name: str) -> bool:
        try:
            model = find(name)
        except UnknownModel as error:
            self.notify(str(error), severity="error")
            return False
        return self.set_model(model)

    @property
    def chat(self) -> ChatPane:
        return self.query_one(ChatPane)

    def set_model(self, model: LibraryModel) -> bool:
        """Chat with `model`; False (and said) if it cannot run: the chat keeps its own."""
        try:
            self.session.load(model)
        except SessionError as error:
            self.notify(str(error), severity="error")
            return False
        self.sub_title = model.name
        self.query_one(LibraryPane).follow(model.name)
        self.query_one(ModelfilePane).origin = model.name
        editor = self.query_one("#modelfile", ModelfileEditor)
        if model.manifest is not None:
            editor.load(serialise(model.manifest.modelfile()))
        else:
            editor.load(f"FROM {model.name}\n")
        return True

    @on(LibraryPane.Chosen)
    def _chosen(self, event: LibraryPane.Chosen) -> None:
        self.switch_model(event.model, "chat")

    def action_edit_model(self) -> None:
        model = self.query_one(LibraryPane).target()
        if model is not None:
            self.switch_model(model, "editor")

    @work(exclusive=True, group="switch-model", exit_on_error=False)
    async def switch_model(
        self, model: LibraryModel, then: str = "chat", mark: bool = True
    ) -> None:
        """Chat with `model` from now on, the same on every path (the library's Enter and
        `e`, /load): ask first if the editor's buffer has unsaved changes, keep the
        conversation (as Ollama's /load does), and say in it where the model changed."""
        if not await self._may_replace_buffer():
            return
        self.action_stop()
        previous = self.session.origin
        if not self.set_model(model):
            return
        if previous != model.name and mark:
            await self.chat.model_switched(model.name)
            self.notify(f"chatting with {model.name}")
        self.action_show(then)

    async def _may_replace_buffer(self) -> bool:
        if not self.query_one("#modelfile", ModelfileEditor).unsaved:
            return True
        question = "The Modelfile editor has unsaved changes. Replace them?"
        if await self.push_screen_wait(Confirm(question, yes="Replace")):
            drafts.discard()
            return True
        return False

    def action_pull(self) -> None:
        self.query_one(LibraryPane).pull()

    def action_copy_model(self) -> None:
        self.query_one(LibraryPane).copy_highlighted()

    def action_delete_model(self) -> None:
        self.query_one(LibraryPane).delete_highlighted()

    def action_refresh_library(self) -> None:
        self.notify("reading the library again…")
        self.query_one(LibraryPane).refresh_models(say=True)

    # -- chat: the chat pane's, from anywhere ------------------------------------------------

    @property
    def streaming(self) -> bool:
        return self.chat.streaming

    def action_stop(self) -> None:
        self.chat.stop()

    async def action_regenerate(self) -> None:
        await self.chat.regenerate()

    async def action_edit_last(self) -> None:
        self._current("chat")
        await self.chat.edit_last()

    async def action_clear_chat(self) -> None:
        await self.chat.clear()

    def action_copy_last(self, what: str) -> None:
        self.chat.copy_last(what)

    def action_follow(self) -> None:
        self.chat.follow()

    @on(ChatPane.Load)
    def _load(self, event: ChatPane.Load) -> None:
        self.switch_model(event.model, mark=event.mark)

    @on(ChatPane.Leave)
    def _leave(self) -> None:
        self._quit()

    @on(ChatPane.SessionChanged)
    def _session_changed(self) -> None:
        self._show_settings()

    def _show_settings(self) -> None:
        """What /set changed, under the chat's border: it lies over the model's own."""
        said = ["system prompt set"] if self.session.system is not None else []
        said += [f"{k} {v}" for k, v in self.session.options.items()]
        self.chat.border_subtitle = " · ".join(said)

    @work(exit_on_error=False)
    async def action_set_system(self) -> None:
        current = self.session.system
        if current is None and self.session.spec is not None:
            current = self.session.spec.system
        text = await self.push_screen_wait(Ask("System prompt:", current or ""))
        if text:
            await self.chat.command(f"/set system {text}")

    @work(exit_on_error=False)
    async def action_set_parameter(self) -> None:
        line = await self.push_screen_wait(
            Ask("Parameter:", placeholder="NAME VALUE, e.g. temperature 0.2")
        )
        if line:
            await self.chat.command(f"/set parameter {line}")

    def action_conversations(self) -> None:
        self.chat.conversations()

    # -- comparing models -----------------------------------------------------------------

    @work(exclusive=True, group="compare", exit_on_error=False)
    async def action_compare(self) -> None:
        """Choose 2 to 4 columns (library models, the editor's buffer, each with its own
        parameters) and open the compare view on them."""
        self.action_stop()
        models = self.query_one(LibraryPane).models
        if not models:  # Ctrl+G before the library pane's first listing came back
            models = await asyncio.to_thread(lambda: list_models() + served_models([]))
        names = [model.name for model in models]
        sources = [*names, BUFFER]
        chosen, blind = self._compared or ([(self.session.origin, self._chat_settings())], False)
        preset = [(sources.index(name), typed) for name, typed in chosen if name in sources]
        answer = await self.push_screen_wait(ChooseColumns(sources, preset, blind))
        if answer is None:
            return
        picked, blind = answer
        columns = self._columns(sources, picked)
        if columns is None:
            return
        self._compared = ([(sources[c.source], c.settings) for c in picked], blind)
        comparison = Comparison(columns, blind)
        await self.push_screen(CompareScreen(comparison, self.chat.store, self.settings.frame_ms))

    def _chat_settings(self) -> str:
        """The chat's /set parameters, as a column's settings."""
        return " ".join(f"{name}={value}" for name, value in self.session.options.items())

    def _columns(self, sources: list[str], picked: list[ChosenColumn]) -> list[Column] | None:
        """A session per chosen column; None (and said) if one cannot run."""
        library = self.query_one(LibraryPane)
        sessions = []
        for choice in picked:
            session = ChatSession(self.engine, defaults=self.settings.parameters)
            name = sources[choice.source]
            model = library.model(name)
            try:
                if model is not None:
                    session.load(model)
                else:
                    built = self.query_one(ModelfilePane).build()
                    if built is None:
                        return None
                    session.run_with(built[0], f"buffer (FROM {built[1]})")
            except SessionError as error:
                self.notify(str(error), severity="error")
                return None
            session.options.update(choice.options)
            session.system = choice.system
            sessions.append(session)
        labels = unique_labels([
            " · ".join(filter(None, [session.origin, choice.settings]))
            for session, choice in zip(sessions, picked, strict=True)
        ])  # fmt: skip
        return [Column(label, session) for label, session in zip(labels, sessions, strict=True)]

    @on(ChatPane.OpenComparison)
    async def _open_comparison(self, event: ChatPane.OpenComparison) -> None:
        """A kept comparison, in the compare view: each column's answers, and the column
        goes on with its model and parameters (if the library still has the model)."""
        conversation = event.conversation
        columns = []
        for kept in kept_columns(conversation):
            session = ChatSession(self.engine, defaults=self.settings.parameters)
            model = self.query_one(LibraryPane).model(kept.model or "")
            if model is not None:
                with contextlib.suppress(SessionError):  # it cannot run: its text stays
                    session.load(model)
            if session.spec is None:
                what = kept.model or "an unsaved buffer"
                self.notify(f"{kept.label} cannot answer again ({what} is not in the "
                            "library): its answers are shown", severity="warning",
                            timeout=10)  # fmt: skip
            session.options, session.system = kept.options, kept.system
            session.turns = [turn for turn in conversation.turns if turn.model == kept.label]
            columns.append(Column(kept.label, session))
        comparison = Comparison(columns)
        comparison.conversation, comparison.title = conversation.uid, conversation.title
        await self.push_screen(CompareScreen(comparison, self.chat.store, self.settings.frame_ms))

    @on(CompareScreen.Leave)
    def _leave_compare(self, event: CompareScreen.Leave) -> None:
        self.pop_screen()
        if event.columns:
            self.action_compare()

    def action_leaderboard(self) -> None:
        store = self.chat.store
        if store is None:
            self.notify("votes are not kept (keep_chats in the settings)", severity="warning")
            return
        self.push_screen(Leaderboard(store.votes()))

    # -- the editor: the Modelfile pane's, from anywhere --------------------------------------

    def _restore_draft(self) -> None:
        draft = self.query_one(ModelfilePane).restore_draft()
        if draft is not None:
            self.notify(f"restored the unsaved Modelfile draft of {draft.path or draft.origin} "
                        "(Ctrl+S saves it)", timeout=10)  # fmt: skip

    def action_apply_buffer(self) -> None:
        """Chat with the editor's Modelfile now, without saving it."""
        built = self.query_one(ModelfilePane).build()
        if built is None:
            return
        spec, base = built
        # A copy: the chat keeps it until the next F7, whatever the editor shows meanwhile.
        self.sub_title = f"{base} (a copy of the editor's buffer)"
        self.session.run_with(spec, self.sub_title)
        self.notify("the chat now uses the editor's Modelfile")

    @work(exit_on_error=False)
    async def action_open(self) -> None:
        if await self._may_replace_buffer():
            self.query_one(ModelfilePane).open()

    def action_save(self) -> None:
        self.query_one(ModelfilePane).save()

    def action_save_as(self) -> None:
        self.query_one(ModelfilePane).save_as()

    def action_create_model(self) -> None:
        self.query_one(ModelfilePane).create_model()

    @on(ModelfilePane.Opened)
    def _opened(self) -> None:
        self.action_show("editor")

    @on(ModelfilePane.Created)
    def _created(self, event: ModelfilePane.Created) -> None:
        self.query_one(LibraryPane).refresh_models(select=event.name)
        self.choose(event.name)

    # -- leaving --------------------------------------------------------------------------

    async def action_quit(self) -> None:
        self._quit()

    @work(exclusive=True, group="quit", exit_on_error=False)
    async def _quit(self) -> None:
        editor = self.query_one("#modelfile", ModelfileEditor)
        if editor.unsaved:
            self.query_one(ModelfilePane).keep_draft()
            question = "The Modelfile has unsaved changes (kept as a draft). Quit?"
            if not await self.push_screen_wait(Confirm(question, yes="Quit")):
                return
        self.action_stop()
        self.exit()

    def on_unmount(self) -> None:
        if self._own_engine:
            self.engine.close()


def run_workbench(
    model: str | None = None, settings: Settings | None = None, problems: Iterable[str] = (),
    mouse: bool = True, shared: str | None = None,
) -> int:  # fmt: skip
    app = Workbench(model, settings=settings, problems=problems, shared=shared)
    app.run(mouse=mouse)
    # Textual sets 1 when an error ended the app: never report a crash as success.
    return app.return_code or 0
