"""A chat session: the one place that knows what a chat is, for every face.

It holds the model, the system prompt and parameters the user set over the model's own
(`/set`), and the turns: each prompt with its reply, the reply's statistics and how it
ended. What a face shows and what the model is sent are the same list: a failed turn is
kept and shown with its error, and left out of what is sent (regenerate retries it).

A session never blocks and never touches a face: `send` starts a request and returns its
handle; the engine's thread records the reply into the turn (through the handle's `watch`)
before the face hears of it, and tells the observers (the conversation store).
"""

from __future__ import annotations

import contextlib
import dataclasses
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Any

from llmtui.chat import commands
from llmtui.chat.backend import ChatEngine, EventCallback
from llmtui.engine.errors import EngineError, OptionError
from llmtui.engine.events import Chunk, Done, Event, Failed, LiveStats
from llmtui.engine.gguf import read_header
from llmtui.engine.loaded import DEFAULT_KEEP_ALIVE
from llmtui.engine.message import Message
from llmtui.engine.options import coerce
from llmtui.engine.request import RequestHandle
from llmtui.engine.spec import ModelSpec
from llmtui.library import LibraryModel, UnknownModel, find
from llmtui.library.create import create
from llmtui.library.describe import model_rows, modelfile_of, parameter_lines
from llmtui.modelfile import Modelfile, ModelfileError, serialise

if TYPE_CHECKING:
    from llmtui.chat.store import Conversation


class SessionError(ValueError):
    """What the session cannot do now, in one line for the user."""


class Outcome(StrEnum):
    STREAMING = "streaming"
    DONE = "done"
    STOPPED = "stopped"
    FAILED = "failed"


@dataclass(eq=False)
class Turn:
    """A prompt and its reply. The reply grows on the engine's thread while it streams."""

    prompt: str
    model: str  # the model that answered (a conversation can change model)
    started: float = field(default_factory=time.time)
    outcome: Outcome = Outcome.STREAMING
    done: Done | None = None  # the reply's statistics, once it ended (stopped too)
    error: str | None = None  # why it failed
    ended: float | None = None
    parts: list[str] = field(default_factory=list, repr=False)
    uid: str = field(default_factory=lambda: uuid.uuid4().hex)

    @property
    def reply(self) -> str:
        return self.done.text if self.done is not None else "".join(self.parts)

    @property
    def answered(self) -> bool:
        """Whether it is part of what the model is sent next (a stopped reply is)."""
        return self.outcome in (Outcome.DONE, Outcome.STOPPED)

    def record(self, event: Event) -> bool:
        """Take an event of this turn's request; whether the turn ended with it."""
        if isinstance(event, Chunk):
            if event.text:
                self.parts.append(event.text)
        elif isinstance(event, Done):
            self.done = event
            self.outcome = Outcome.STOPPED if event.done_reason == "cancel" else Outcome.DONE
            self.ended = time.time()
            return True
        elif isinstance(event, Failed):
            self.error = str(event.error)
            self.outcome = Outcome.FAILED
            self.ended = time.time()
            return True
        return False


# Called with the session and the turn whose reply changed (from the engine's thread, for
# every piece of text: hand it on), or None when the session's settings, model or list of
# turns changed (from the face's thread).
Observer = Callable[["ChatSession", Turn | None], None]


class ChatSession:
    kind = "chat"  # as the conversation store keeps it (a comparison is another kind)

    def __init__(
        self,
        engine: ChatEngine,
        model: LibraryModel | None = None,
        *,
        defaults: Mapping[str, Any] | None = None,
        keep_alive: float = DEFAULT_KEEP_ALIVE,
    ) -> None:
        self.engine = engine
        self.defaults = dict(defaults or {})  # the settings' [parameters]
        self.keep_alive = keep_alive
        self.model: LibraryModel | None = None
        self.spec: ModelSpec | None = None
        self.origin = ""  # what the chat runs, as shown: a model's name, or a buffer's
        self.system: str | None = None  # /set system: replaces the model's own
        self.options: dict[str, Any] = {}  # /set parameter: over the model's own
        self.turns: list[Turn] = []
        self.handle: RequestHandle | None = None  # the latest request
        self.stats: LiveStats | None = None  # the latest, from any of this chat's replies
        self.observers: list[Observer] = []
        self.conversation = uuid.uuid4().hex  # the conversation's id, new at each /clear
        self.title = ""
        if model is not None:
            self.load(model)

    # -- the model ------------------------------------------------------------------------

    def load(self, model: LibraryModel) -> None:
        """Go on with `model`: the turns, system prompt and parameters stay (each turn
        keeps the name of the model that answered it). SessionError if it cannot run."""
        self._not_streaming()
        try:
            spec = model.spec()
        except (EngineError, ValueError, OSError) as error:
            raise SessionError(f"{model.name} cannot run: {error}") from None
        self.model, self.spec, self.origin, self.stats = model, spec, model.name, None
        self._changed()

    def run_with(self, spec: ModelSpec, origin: str) -> None:
        """Chat with `spec` (a Modelfile not in the library: the editor's buffer)."""
        self.spec, self.origin = spec, origin
        self._changed()

    def has_template(self) -> bool:
        """Whether the model has a chat template (else it is a completion model)."""
        spec = self._spec()
        if spec.served is not None:
            return True  # the server applies the model's template (raw prompts aside)
        return bool(spec.template or read_header(spec.path).chat_template)

    def _spec(self) -> ModelSpec:
        if self.spec is None:
            raise SessionError("no model is selected")
        return self.spec

    # -- turns ----------------------------------------------------------------------------

    @property
    def streaming(self) -> bool:
        return bool(self.turns) and self.turns[-1].outcome is Outcome.STREAMING

    def request_options(self) -> dict[str, Any]:
        """The options a request carries, laid in one place: the settings' [parameters]
        under the model's own (its Modelfile, which the engine applies), /set over both."""
        own = self.spec.options if self.spec is not None else {}
        return {k: v for k, v in self.defaults.items() if k not in own} | self.options

    def _not_streaming(self) -> None:
        if self.streaming:
            raise SessionError("a reply is still streaming (Esc or Ctrl+C stops it)")

    def messages(self, until: int | None = None) -> list[Message]:
        """What the model is sent before turn `until` (all turns by default)."""
        sent = [Message("system", self.system)] if self.system is not None else []
        for turn in self.turns[:until]:
            if turn.answered:
                sent += [Message("user", turn.prompt), Message("assistant", turn.reply)]
        return sent

    def send(self, text: str, on_event: EventCallback | None = None) -> RequestHandle:
        """Start a turn: the conversation so far and `text`, to the model."""
        spec = self._spec()
        self._not_streaming()
        messages = [*self.messages(), Message("user", text)]
        turn = Turn(text, self.origin)
        handle = self.engine.chat(
            spec, messages, self.request_options(), keep_alive=self.keep_alive,
            on_event=on_event, watch=self._watch(turn),
        )  # fmt: skip
        return self._begin(turn, handle)

    def complete(self, prompt: str, on_event: EventCallback | None = None) -> RequestHandle:
        """A turn for a completion model: `prompt` continued as plain text."""
        spec = self._spec()
        self._not_streaming()
        turn = Turn(prompt, self.origin)
        handle = self.engine.generate(
            spec, prompt, self.request_options(), keep_alive=self.keep_alive,
            on_event=on_event, watch=self._watch(turn),
        )  # fmt: skip
        return self._begin(turn, handle)

    def _begin(self, turn: Turn, handle: RequestHandle) -> RequestHandle:
        self.turns.append(turn)
        self.handle = handle
        if not self.title:
            self.title = " ".join(turn.prompt.split())[:80]
        self._changed()
        return handle

    def stop(self) -> None:
        """Stop the reply that streams, if one does (the model stops within a token)."""
        if self.handle is not None:
            self.handle.cancel()

    def _watch(self, turn: Turn) -> EventCallback:
        def watch(event: Event) -> None:
            if isinstance(event, LiveStats):
                self.stats = event
                return
            turn.record(event)
            if not isinstance(event, Chunk) or event.text:
                self._changed(turn)

        return watch

    def regenerate(self, on_event: EventCallback | None = None) -> RequestHandle:
        """The last prompt again, for a new reply (or a retry of a failed one)."""
        self._not_streaming()
        if not self.turns:
            raise SessionError("there is no reply to take back yet")
        prompt = self.turns[-1].prompt
        self.truncate(len(self.turns) - 1)
        return self.send(prompt, on_event)

    def truncate(self, index: int) -> str:
        """Branch: the conversation goes back to before turn `index`; its prompt, to edit."""
        self._not_streaming()
        prompt = self.turns[index].prompt
        del self.turns[index:]
        self._changed()
        return prompt

    def edit(self, index: int, text: str, on_event: EventCallback | None = None) -> RequestHandle:
        """Edit-and-resend: turn `index` and all after it give way to `text`."""
        self.truncate(index)
        return self.send(text, on_event)

    def delete(self, index: int) -> None:
        """Take one prompt and its reply out of the conversation."""
        self._not_streaming()
        del self.turns[index]
        self._changed()

    def restore(self, conversation: Conversation) -> None:
        """Go on with a kept conversation: its turns, system prompt and parameters. Its
        model is the caller's to load (it may no longer exist: the text is still here).
        Nothing is written until the conversation changes (opening one does not make it
        the latest)."""
        self.stop()
        self.conversation, self.title = conversation.uid, conversation.title
        self.system = conversation.system
        self.options = {}
        for name, value in conversation.options.items():
            with contextlib.suppress(OptionError):  # an option this llmtui no longer has
                self.options[name] = coerce(name, value)
        self.turns = list(conversation.turns)

    def clear(self) -> None:
        """A new conversation, with this model, system prompt and parameters (as Ollama's
        /clear). The one before stays in the store; a reply still streaming is stopped,
        and ends there."""
        self.stop()
        self.turns = []
        self.conversation, self.title = uuid.uuid4().hex, ""
        self._changed()

    def _changed(self, turn: Turn | None = None) -> None:
        for observer in self.observers:
            observer(self, turn)

    # -- commands -------------------------------------------------------------------------

    def run(self, command: commands.Command) -> str:
        """Carry out a slash command; what to tell the user. `Bye` is the face's to do."""
        match command:
            case commands.SetSystem(text):
                self.system = text
                self._changed()
                return "Set system message."
            case commands.SetParameter(name, value, given):
                self.options[name] = value
                self._changed()
                return f"Set parameter '{name}' to '{given}'"
            case commands.Show(what):
                return self.show(what)
            case commands.Clear():
                self.clear()
                return "Cleared session context"
            case commands.Load(name):
                try:
                    model = find(name)
                except UnknownModel as error:
                    raise SessionError(f"Couldn't load the model: {error}") from None
                self.load(model)
                return f"Loading model '{model.name}'"
            case commands.Save(name):
                return self.save(name)
            case commands.Help():
                return commands.HELP
            case commands.Bye():
                return ""

    def modelfile(self) -> Modelfile:
        """The model's Modelfile with what this chat changed (`/show modelfile`)."""
        base = self._base_modelfile()
        parameters = dict(base.options()) | self.options
        return dataclasses.replace(
            base,
            parameters=Modelfile.parameters_from(parameters),
            system=self.system if self.system is not None else base.system,
        )

    def _base_modelfile(self) -> Modelfile:
        if self.model is None:
            raise SessionError("no model is selected")
        return modelfile_of(self.model)

    def save(self, name: str, base_dir: Path | None = None) -> str:
        """Ollama's /save: this chat as a new model, built on the current one."""
        if self.model is None:
            raise SessionError("no model is selected")
        modelfile = Modelfile(
            from_=self.model.name,
            parameters=Modelfile.parameters_from(self.options),
            system=self.system,
            messages=tuple(
                (message.role, message.content)
                for message in self.messages()
                if message.role != "system" and message.role != "tool"
            ),
        )
        try:
            manifest = create(name, modelfile, base_dir or Path.cwd())
        except (ModelfileError, ValueError, OSError) as error:
            raise SessionError(f"Couldn't save the model: {error}") from None
        return f"Created new model '{manifest.name}'"

    def show(self, what: str) -> str:
        spec = self._spec()
        if what == "info":
            return "\n".join(f"  {k:<18}{v}" for k, v in self.info_rows())
        if what == "parameters":
            changed = self.engine.options_for(spec, self.request_options()).changed()
            lines = parameter_lines(changed.items())
            return "\n".join(lines) if lines else "No parameters set."
        if what == "system":
            return self.system or spec.system or "No system message was specified."
        if what == "template":
            source = spec.template if isinstance(spec.template, str) else None
            source = source or getattr(spec.template, "source", None)
            if spec.served is not None and not source:
                return f"{spec.served.remote} applies the model's own template."
            return (
                source
                or read_header(spec.path).chat_template
                or "No template: the chat is sent as a plain transcript (a completion model)."
            )
        if what == "modelfile":
            return serialise(self.modelfile()).rstrip()
        license_text = "\n\n".join(self._base_modelfile().license)
        return license_text or "No license was specified."

    def info_rows(self) -> list[tuple[str, str]]:
        model = self.model
        info = model.info if model is not None else None
        facts = model_rows(info) if info is not None and not info.error else []
        rows = [("model", self.origin), *facts]
        if (served := self._spec().served) is not None:
            rows.append(("runs on", f"{served.remote} ({served.kind} at {served.url})"))
        stats = self.stats
        rows.append(("backend", "not loaded yet" if stats is None else stats.offload()))
        if stats is not None:
            rows.append(("attention", stats.attention()))
            rows.append(("threads", stats.thread_use()))
            if stats.shared_thread:
                rows.append(("", stats.SHARED_THREAD_NOTE))
        return rows
