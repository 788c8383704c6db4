"""The workbench: library, chat, Modelfile editor and live stats on one screen."""

from __future__ import annotations

import gc
import sys
from collections.abc import Awaitable, Callable, Iterable
from pathlib import Path
from typing import ClassVar

from textual import events, on, work
from textual.app import ComposeResult, SystemCommand
from textual.binding import Binding, BindingType
from textual.css.query import NoMatches
from textual.screen import ModalScreen, Screen
from textual.timer import Timer
from textual.widget import Widget
from textual.widgets import Footer, Header, Label, Tab, Tabs
from textual.widgets.markdown import MarkdownFence

from llmtui import drafts
from llmtui.engine import Done, Engine, EngineError, Failed, Message, ModelSpec, OptionError
from llmtui.engine.request import RequestHandle
from llmtui.library import LibraryModel, UnknownModel, find
from llmtui.library.create import build, create
from llmtui.library.manage import ManageError, copy_model, remove_model
from llmtui.library.names import InvalidName
from llmtui.library.names import parse as parse_name
from llmtui.modelfile import Modelfile, ModelfileError, serialise
from llmtui.modelfile.edit import with_parameter, with_system
from llmtui.settings import Settings
from llmtui.tui import modelfiles
from llmtui.tui.bridge import Drained, ReplyBridge, frame_interval
from llmtui.tui.chat import ModelSwitch, PromptInput, Reply, Transcript, UserTurn
from llmtui.tui.dialogs import Ask, Confirm, KeyHelp
from llmtui.tui.editor import ModelfileEditor
from llmtui.tui.library import LibraryPane
from llmtui.tui.modelfile_pane import ModelfilePane
from llmtui.tui.overrides import AppOverrides, WorkbenchScreen
from llmtui.tui.pane import Pane
from llmtui.tui.pull import PullDialog
from llmtui.tui.stats import StatsPane
from llmtui.tui.themes import load_themes

PANES = ("library", "chat", "editor", "stats")
NARROW = 110  # columns below which the panes become tabs
SWITCH_INTERVAL = 0.0005  # seconds: how soon the model's thread gets the GIL from the UI

SLASH_HELP = (
    "/set system TEXT · /set parameter NAME VALUE · /show system · /show parameters · "
    "/clear · /load MODEL · /help"
)

# Actions without a key of their own, for the command palette: (title, help, action).
PALETTE_ONLY = [
    ("Pull a model", "Pull a GGUF model from Hugging Face, or search for one", "pull"),
    ("Copy model", "Copy the model highlighted in the library under a new name", "copy_model"),
    ("Delete model", "Delete (or hide) the model highlighted in the library", "delete_model"),
    ("Edit model's Modelfile", "Open the highlighted model's Modelfile in the editor",
     "edit_model"),
    ("Refresh library", "Look for models again (store, Ollama, LM Studio, HF cache)",
     "refresh_library"),
    ("Set system prompt", "The chat's system prompt (written into the editor's buffer)",
     "set_system"),
    ("Set parameter", "A parameter for the chat, e.g. temperature 0.2 (into the buffer)",
     "set_parameter"),
    ("Copy last reply", "Copy the last reply to the clipboard (OSC 52: works over SSH)",
     "copy_last('reply')"),
    ("Copy last code block", "Copy the last code block of the chat to the clipboard",
     "copy_last('code')"),
    ("Follow the reply", "Scroll the transcript to the end and follow the reply again",
     "follow"),
    ("Save Modelfile as", "Save the editor's buffer to another file", "save_as"),
]  # fmt: skip


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
    ]

    def __init__(
        self,
        model: str | None = None,
        engine: Engine | None = None,
        theme: str | None = None,
        settings: Settings | None = None,
        problems: Iterable[str] = (),
    ) -> None:
        super().__init__()
        self.settings = settings or Settings()
        self.problems = list(problems)
        self.wanted_theme = theme or self.settings.theme
        self.engine = engine or Engine(default_options=self.settings.parameters)
        self._own_engine = engine is None
        self.model_name = model or self.settings.default_model
        self.model: LibraryModel | None = None
        self.spec: ModelSpec | None = None
        self.history: list[Message] = []
        self.handle: RequestHandle | None = None
        self.queued: list[str] = []  # prompts sent while a reply streamed, in order
        self.reply: Reply | None = None
        self.frame = frame_interval(self.settings.frame_ms)  # seconds between repaints
        self._frames: Timer | None = None

    # -- layout ---------------------------------------------------------------------------

    def get_default_screen(self) -> Screen[None]:
        return WorkbenchScreen(id="_default")

    def compose(self) -> ComposeResult:
        yield Header()
        yield Tabs(*(Tab(p.title(), id=f"tab-{p}") for p in PANES), id="tabs")
        with Pane(id="library", classes="pane"):
            yield LibraryPane(self.settings.num_ctx, self.engine.defaults.kv_cache_type)
        with Pane(id="chat", classes="pane"):
            yield Transcript(id="transcript")
            yield Label("↓ the reply goes on below · End (in the transcript) follows it",
                        id="jump")  # fmt: skip
            yield PromptInput(
                id="prompt",
                placeholder="Type a message, Enter sends · Ctrl+J new line · "
                "/ for commands (/help) · F1 lists every key",
            )
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
        self.query_one("#jump").display = False
        self.query_one("#transcript", Transcript).anchor()
        self.choose(self.model_name)
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
        rows = []
        for where, holder in (("everywhere", Workbench), ("chat input", PromptInput),
                              ("transcript", Transcript), ("editor", ModelfileEditor),
                              ("library", LibraryPane),
                              ("pull dialog", PullDialog)):  # fmt: skip
            for binding in holder.BINDINGS:
                assert isinstance(binding, Binding)
                if binding.id:
                    key = self.settings.keymap.get(binding.id, binding.key)
                    rows.append((where, key, binding.id, binding.description))
        return rows

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        under_dialog = isinstance(self.screen, ModalScreen)
        return not (under_dialog and action in ("show", "zoom", "apply_buffer"))

    def action_keys(self) -> None:
        self.push_screen(KeyHelp(self.key_rows()))

    def get_system_commands(self, screen: Screen[object]) -> Iterable[SystemCommand]:
        yield from super().get_system_commands(screen)
        for binding in self.BINDINGS:
            assert isinstance(binding, Binding)
            if binding.id and binding.id != "app.quit":
                yield SystemCommand(binding.description, f"{binding.key} · {binding.id}",
                                    self._runner(binding.action))  # fmt: skip
        for title, help_text, action in PALETTE_ONLY:
            yield SystemCommand(title, help_text, self._runner(action))

    def _runner(self, action: str) -> Callable[[], Awaitable[None]]:
        async def run() -> None:
            await self.run_action(action)

        return run

    # -- the model ------------------------------------------------------------------------

    def choose(self, name: str) -> bool:
        try:
            model = find(name)
        except UnknownModel as error:
            self.notify(str(error), severity="error")
            return False
        self.set_model(model)
        return True

    def set_model(self, model: LibraryModel) -> None:
        self.model = model
        try:
            self.spec = model.spec()
        except (EngineError, ValueError, OSError) as error:
            self.spec = None
            self.notify(f"{model.name} cannot run: {error}", severity="error")
        self.sub_title = model.name
        self.query_one(LibraryPane).follow(model.name)
        self.query_one(ModelfilePane).origin = model.name
        editor = self.query_one("#modelfile", ModelfileEditor)
        if model.manifest is not None:
            editor.load(serialise(model.manifest.modelfile()))
        else:
            editor.load(f"FROM {model.name}\n")

    def library_model(self) -> LibraryModel | None:
        model = self.query_one(LibraryPane).highlighted()
        if model is None:
            self.notify("highlight a model in the library first (F2)", severity="warning")
        return model

    @on(LibraryPane.Chosen)
    def _chosen(self, event: LibraryPane.Chosen) -> None:
        self.switch_model(event.model, "chat")

    def action_edit_model(self) -> None:
        model = self.library_model()
        if model is not None:
            self.switch_model(model, "editor")

    @work(exclusive=True, group="switch-model", exit_on_error=False)
    async def switch_model(self, model: LibraryModel, then: str = "chat") -> None:
        """Chat with `model` from now on, the same on every path (the library's Enter and
        `e`, /load): ask first if the editor's buffer has unsaved changes, keep the
        conversation (as Ollama's /load does), and say in it where the model changed."""
        if not await self._may_replace_buffer():
            return
        self.action_stop()
        previous = self.model.name if self.model else None
        self.set_model(model)
        transcript = self.query_one("#transcript", Transcript)
        if previous != model.name:
            if transcript.children:
                await transcript.mount(ModelSwitch(model.name))
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

    @work(exit_on_error=False)
    async def action_pull(self) -> None:
        reference = await self.push_screen_wait(PullDialog())
        if reference:
            self.query_one(LibraryPane).refresh_models(select=reference)

    @work(exit_on_error=False)
    async def action_copy_model(self) -> None:
        model = self.library_model()
        if model is None:
            return
        name = await self.push_screen_wait(
            Ask(f"Copy {model.name} to:", placeholder="NAME[:TAG]", check=_name_problem)
        )
        if not name:
            return
        try:
            manifest = copy_model(model, name)
        except (ManageError, InvalidName, OSError) as error:
            self.notify(str(error), severity="error")
            return
        self.notify(f"copied {model.name} to {manifest.name}")
        self.query_one(LibraryPane).refresh_models(select=manifest.name)

    @work(exit_on_error=False)
    async def action_delete_model(self) -> None:
        model = self.library_model()
        if model is None:
            return
        if "starter" in model.sources:
            self.notify(f"{model.name} is a starter model: it comes with its Python package, "
                        "and goes when you uninstall that", severity="warning")  # fmt: skip
            return
        what = "Delete" if model.owned else "Hide (its file stays)"
        if not await self.push_screen_wait(Confirm(f"{what} {model.name}?", yes=what)):
            return
        try:
            self.notify(remove_model(model))
        except (ManageError, OSError) as error:
            self.notify(str(error), severity="error")
            return
        self.query_one(LibraryPane).refresh_models()

    def action_refresh_library(self) -> None:
        self.notify("reading the library again…")
        self.query_one(LibraryPane).refresh_models(say=True)

    # -- chat -----------------------------------------------------------------------------

    @property
    def streaming(self) -> bool:
        return self.handle is not None and self.handle.result is None

    @on(PromptInput.Send)
    async def _send(self, event: PromptInput.Send) -> None:
        if event.text.startswith("/"):
            await self.slash(event.text)
            return
        await self.ask(event.text)

    async def ask(self, text: str) -> None:
        if self.spec is None:
            self.notify("no model is selected", severity="error")
            return
        if self.streaming:
            # Sent when the reply ends, in order: the text is not lost.
            self.queued.append(text)
            self.notify(f"queued: sent when the reply ends ({len(self.queued)} waiting; "
                        "Esc stops the reply)")  # fmt: skip
            return
        message = Message("user", text)
        await self.query_one("#transcript", Transcript).mount(UserTurn(text, message))
        self.history.append(message)
        await self._answer()

    async def _answer(self) -> None:
        assert self.spec is not None
        transcript = self.query_one("#transcript", Transcript)
        transcript.freeze_above()
        transcript.anchor()
        self.reply = Reply()
        await transcript.mount(self.reply)
        bridge = ReplyBridge(self)
        # One repeating timer per reply releases the bridge each frame (a timer per frame
        # was a task per frame), and the prompt's cursor stops blinking meanwhile: each
        # blink is a repaint, and a repaint's region is the box around all dirty ones.
        self._frames = self.set_interval(self.frame, bridge.release)
        self.query_one("#prompt", PromptInput).cursor_blink = False
        self.handle = self.engine.chat(self.spec, list(self.history), on_event=bridge)
        # Everything alive now outlives the reply: frozen, the collector's full passes
        # while it streams skip it. A reply of 1,500 tokens had two, ~55 ms each with the
        # GIL held (the model's thread waits for it between tokens); frozen, one of ~20 ms.
        # Unfrozen when the reply ends, so what the user clears later is still collected.
        gc.freeze()

    @on(ReplyBridge.Ready)
    async def _reply_ready(self, event: ReplyBridge.Ready) -> None:
        drained = event.bridge.drain()
        try:
            await self._show(drained)
        except NoMatches:
            # Only while the app closes: a reply's last message can come after the widgets
            # are gone, and there is nothing left to show it in.
            if len(self.query("#transcript, #jump, #prompt")) == 3:
                raise

    async def _show(self, drained: Drained) -> None:
        reply = self.reply
        if drained.text and reply is not None:
            await reply.write(drained.text)
            self._show_jump()
        if drained.stats is not None:
            self.query_one(StatsPane).show_live(drained.stats)
        for notice in drained.notices:
            self.notify(notice)
        final = drained.final
        if final is None:
            return
        if self._frames is not None:
            self._frames.stop()
        self.query_one("#prompt", PromptInput).cursor_blink = True
        gc.unfreeze()
        if isinstance(final, Done):
            answer = Message("assistant", final.text)
            self.history.append(answer)
            self.query_one(StatsPane).show_done(final)
            if reply is not None:
                reply.message = answer
                await reply.finish(final, final.text)
        elif isinstance(final, Failed):
            self.history.pop()
            self.notify(str(final.error), title="the model failed", severity="error")
            if reply is not None:
                await reply.finish(None, reply.text or f"*{final.error}*")
        self._show_jump()
        if self.queued and not self.streaming:
            await self.ask(self.queued.pop(0))

    def _show_jump(self) -> None:
        jump = self.query_one("#jump")
        behind = self.streaming and not self.query_one("#transcript", Transcript).following
        if jump.display != behind:
            jump.display = behind

    @on(Transcript.FollowChanged)
    def _follow_changed(self) -> None:
        self._show_jump()

    def action_follow(self) -> None:
        self.query_one("#transcript", Transcript).action_follow()
        self._show_jump()

    def action_stop(self) -> None:
        if self.streaming:
            assert self.handle is not None
            self.handle.cancel()
        if self.queued:  # stopped: what waited goes back to the input, not to the model
            field = self.query_one("#prompt", PromptInput)
            field.text = "\n\n".join([*self.queued, field.text]).strip()
            self.queued.clear()

    async def _drop_last_turn(self) -> str | None:
        """Take the last prompt and its reply off the transcript; the prompt's text."""
        if self.streaming:
            self.notify("a reply is still streaming (Esc stops it)", severity="warning")
            return None
        if not self.history or self.history[-1].role != "assistant":
            self.notify("there is no reply to take back yet", severity="warning")
            return None
        self.history.pop()
        prompt = self.history.pop().content
        turns = list(self.query_one("#transcript", Transcript).query("UserTurn, Reply"))
        for widget in turns[-2:]:
            await widget.remove()
        return prompt

    async def action_regenerate(self) -> None:
        prompt = await self._drop_last_turn()
        if prompt is not None:
            await self.ask(prompt)

    async def action_edit_last(self) -> None:
        prompt = await self._drop_last_turn()
        if prompt is not None:
            field = self.query_one("#prompt", PromptInput)
            field.take_back(prompt)
            self._current("chat")
            field.focus()

    @on(Transcript.EditFrom)
    async def _edit_from(self, event: Transcript.EditFrom) -> None:
        """Branch: the conversation goes back to before this prompt, which goes to the
        input to be changed and sent again; what followed it goes."""
        turns = await self._turns_from(event.turn, branch=True)
        if turns is None:
            return
        field = self.query_one("#prompt", PromptInput)
        field.take_back(event.turn.text)
        for widget in turns:
            await widget.remove()
        field.focus()

    @on(Transcript.Delete)
    async def _delete_turn(self, event: Transcript.Delete) -> None:
        """Delete a prompt and its reply from the conversation (and the screen)."""
        turns = await self._turns_from(event.turn, branch=False)
        if turns is not None:
            for widget in turns:
                await widget.remove()
            self.notify("deleted the prompt and its reply from the conversation")

    async def _turns_from(self, turn: UserTurn, branch: bool) -> list[Widget] | None:
        """Take `turn` out of the history: with all that followed it (`branch`, an edit),
        or with only its reply (a deletion). The widgets to remove; None if it cannot be
        done now."""
        if self.streaming:
            self.notify("a reply is still streaming (Esc stops it)", severity="warning")
            return None
        at = next((i for i, m in enumerate(self.history) if m is turn.message), None)
        transcript = self.query_one("#transcript", Transcript)
        widgets = list(transcript.children)
        start = widgets.index(turn)
        if branch:
            if at is not None:
                del self.history[at:]
            return widgets[start:]
        end = start + 1
        while end < len(widgets) and not isinstance(widgets[end], UserTurn):
            end += 1  # its reply (and any note after it)
        if at is not None:
            answered = at + 1 < len(self.history) and self.history[at + 1].role == "assistant"
            del self.history[at : at + 2 if answered else at + 1]
        return [w for w in widgets[start:end] if not isinstance(w, ModelSwitch)]

    @on(Transcript.Typed)
    def _typed_in_transcript(self, event: Transcript.Typed) -> None:
        field = self.query_one("#prompt", PromptInput)
        field.focus()
        if event.character:
            field.insert(event.character)

    async def action_clear_chat(self) -> None:
        self.action_stop()
        self.history.clear()
        await self.query_one("#transcript", Transcript).remove_children()

    @on(Transcript.Copied)
    def _copied(self, event: Transcript.Copied) -> None:
        self.copy_to_clipboard(event.text)
        self.notify(f"copied {event.what} ({len(event.text):,} characters)")

    def action_copy_last(self, what: str) -> None:
        transcript = self.query_one("#transcript", Transcript)
        kind = MarkdownFence if what == "code" else Reply
        items = [item for item in transcript.items() if isinstance(item, kind)]
        if not items:
            self.notify(f"no {'code block' if what == 'code' else 'reply'} to copy yet",
                        severity="warning")  # fmt: skip
            return
        transcript.place(items[-1])
        transcript.action_copy()

    # -- slash commands: the chat's system prompt and parameters, through the buffer -------

    async def slash(self, line: str) -> None:
        words = line.split(maxsplit=2)
        command = words[0].lower()
        rest = words[1:]
        if command == "/set" and len(rest) == 2 and rest[0] == "system":
            self._edit_buffer(lambda m: with_system(m, rest[1]), "system prompt set")
        elif command == "/set" and len(rest) == 2 and rest[0] == "parameter":
            name, _, value = rest[1].partition(" ")
            self._edit_buffer(lambda m: with_parameter(m, name, value.strip()),
                              f"parameter {name} set")  # fmt: skip
        elif command == "/show" and rest[:1] == ["system"]:
            modelfile = self._buffer()
            self.notify((modelfile.system if modelfile else None) or "(no system prompt)")
        elif command == "/show" and rest[:1] == ["parameters"]:
            modelfile = self._buffer()
            shown = ", ".join(f"{k} {v}" for k, v in modelfile.parameters) if modelfile else ""
            self.notify(shown or "(no parameters: the model's defaults)")
        elif command == "/clear":
            await self.action_clear_chat()
        elif command in ("/help", "/?"):
            self.notify(SLASH_HELP, title="commands", timeout=15)
        elif command == "/load" and len(rest) == 1:
            try:
                model = find(rest[0])
            except UnknownModel as error:
                self.notify(str(error), severity="error")
                return
            self.switch_model(model)
        else:
            self.notify(SLASH_HELP, title=f"not a command: {line}", severity="warning")

    def _buffer(self) -> Modelfile | None:
        result = self.query_one("#modelfile", ModelfileEditor).validate()
        if isinstance(result, ModelfileError):
            self.notify(f"fix the Modelfile first: {result.line}:{result.column}: "
                        f"{result.reason}", severity="error")  # fmt: skip
            return None
        return result

    def _edit_buffer(self, change: Callable[[Modelfile], Modelfile], said: str) -> None:
        modelfile = self._buffer()
        if modelfile is None:
            return
        try:
            changed = change(modelfile)
        except OptionError as error:
            self.notify(str(error), severity="error")
            return
        self.query_one("#modelfile", ModelfileEditor).text = serialise(changed)
        if self.action_apply_buffer(quiet=True):
            self.notify(f"{said} (in the Modelfile editor's buffer; Ctrl+S saves it)")

    @work(exit_on_error=False)
    async def action_set_system(self) -> None:
        modelfile = self._buffer()
        if modelfile is None:
            return
        text = await self.push_screen_wait(Ask("System prompt:", modelfile.system or ""))
        if text is not None:
            self._edit_buffer(lambda m: with_system(m, text), "system prompt set")

    @work(exit_on_error=False)
    async def action_set_parameter(self) -> None:
        line = await self.push_screen_wait(
            Ask("Parameter:", placeholder="NAME VALUE, e.g. temperature 0.2")
        )
        if line:
            await self.slash(f"/set parameter {line}")

    # -- the editor -----------------------------------------------------------------------

    def _restore_draft(self) -> None:
        draft = self.query_one(ModelfilePane).restore_draft()
        if draft is not None:
            self.notify(f"restored the unsaved Modelfile draft of {draft.path or draft.origin} "
                        "(Ctrl+S saves it)", timeout=10)  # fmt: skip

    def action_apply_buffer(self, quiet: bool = False) -> bool:
        """Chat with the editor's Modelfile now, without saving it."""
        editor = self.query_one("#modelfile", ModelfileEditor)
        result = editor.validate()
        if isinstance(result, ModelfileError):
            self.notify(f"{result.line}:{result.column}: {result.reason}", severity="error")
            return False
        try:
            manifest = build("buffer", result, editor.path.parent if editor.path else Path.cwd())
        except (ModelfileError, ValueError, EngineError) as error:
            self.notify(str(error), severity="error")
            return False
        self.spec = manifest.spec()
        # A copy: the chat keeps it until the next F7, whatever the editor shows meanwhile.
        self.sub_title = f"{result.from_} (a copy of the editor's buffer)"
        if not quiet:
            self.notify("the chat now uses the editor's Modelfile")
        return True

    @work(exit_on_error=False)
    async def action_open(self) -> None:
        if not await self._may_replace_buffer():
            return
        answer = await self.push_screen_wait(
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
        self.query_one("#modelfile", ModelfileEditor).load(text, path)
        self.action_show("editor")

    async def action_save(self) -> None:
        editor = self.query_one("#modelfile", ModelfileEditor)
        if editor.path is None:
            self.action_save_as()
            return
        self._write(editor.path)

    @work(exit_on_error=False)
    async def action_save_as(self) -> None:
        editor = self.query_one("#modelfile", ModelfileEditor)
        answer = await self.push_screen_wait(
            Ask("Save Modelfile as:", str(editor.path or ""),
                placeholder="a path, or a name (saved in modelfiles/; Tab completes)",
                suggester=modelfiles.PathSuggester(), choices=modelfiles.saved())
        )  # fmt: skip
        if answer:
            self._write(modelfiles.resolve(answer))

    def _write(self, path: Path) -> None:
        try:
            self.query_one(ModelfilePane).write(path)
        except OSError as error:
            self.notify(f"cannot save {path}: {error}", severity="error")
            return
        self.notify(f"saved {path}")

    @work(exit_on_error=False)
    async def action_create_model(self) -> None:
        modelfile = self._buffer()
        if modelfile is None:
            return
        name = await self.push_screen_wait(
            Ask("Create a model from the buffer, named:", placeholder="NAME[:TAG]",
                check=_name_problem)
        )  # fmt: skip
        if not name:
            return
        editor = self.query_one("#modelfile", ModelfileEditor)
        try:
            manifest = create(name, modelfile, editor.path.parent if editor.path else Path.cwd())
        except (ModelfileError, ValueError, EngineError, OSError) as error:
            self.notify(str(error), title="not created", severity="error")
            return
        self.notify(f"created {manifest.name}")
        self.query_one(LibraryPane).refresh_models(select=manifest.name)
        if not editor.path:
            self.query_one(ModelfilePane).saved()  # it lives in the store now
        self.choose(manifest.name)

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


def _name_problem(name: str) -> str | None:
    try:
        parse_name(name)
    except InvalidName as error:
        return str(error)
    return None


def run_workbench(
    model: str | None = None, settings: Settings | None = None, problems: Iterable[str] = (),
    mouse: bool = True,
) -> int:  # fmt: skip
    app = Workbench(model, settings=settings, problems=problems)
    app.run(mouse=mouse)
    # Textual sets 1 when an error ended the app: never report a crash as success.
    return app.return_code or 0
