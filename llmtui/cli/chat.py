"""`llmtui run`: one answer, or an interactive line chat with Ollama's slash commands."""

from __future__ import annotations

import contextlib
import shlex
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from llmtui.cli import format as fmt
from llmtui.engine import (
    Chunk,
    Done,
    Engine,
    EngineError,
    Failed,
    LiveStats,
    Message,
    Notice,
    OptionError,
    RequestHandle,
)
from llmtui.engine.gguf import read_header
from llmtui.engine.options import OPTION_TYPES, coerce
from llmtui.library import LibraryModel, UnknownModel, find
from llmtui.library.create import create
from llmtui.modelfile import Modelfile, ModelfileError

HELP = """Available Commands:
  /set parameter NAME VALUE   Set a parameter (e.g. /set parameter temperature 0.2)
  /set system TEXT            Set the system prompt
  /show info                  Show details for this model
  /show parameters            Show the parameters in use
  /show system                Show the system prompt
  /clear                      Clear the conversation
  /save NAME                  Save this chat (system, parameters, messages) as a model
  /load NAME                  Switch to another model
  /bye                        Exit
  /?, /help                   Help for a command

Use \"\"\" to begin and end a multi-line message.
Ctrl+C stops an answer; Ctrl+D or /bye leaves."""


def stream(
    handle: RequestHandle, out: TextIO, err: TextIO, on_stats: Callable[[LiveStats], None]
) -> Done:
    """Print a request's text as it arrives; Ctrl+C cancels it and keeps what was said."""
    printed = ""
    try:
        for event in handle.events():
            if isinstance(event, LiveStats):
                on_stats(event)
            elif isinstance(event, Chunk) and event.text:
                out.write(event.text)
                out.flush()
                printed = event.text
            elif isinstance(event, Notice):
                err.write(f"{event.message}\n")
            elif isinstance(event, Failed):
                raise event.error
    except KeyboardInterrupt:
        handle.cancel()
        while True:  # the model stops within a token; a second Ctrl+C must not lose that
            with contextlib.suppress(KeyboardInterrupt):
                return handle.wait()
    finally:
        if printed and not printed.endswith("\n"):
            out.write("\n")
            out.flush()
    return handle.wait()


@dataclass
class ChatSession:
    """The state of a chat on the command line: model, system prompt, options, history."""

    engine: Engine
    model: LibraryModel
    out: TextIO
    err: TextIO
    verbose: bool = False
    keep_alive: float = 300.0
    options: dict[str, Any] = field(default_factory=dict)
    system: str | None = None
    history: list[Message] = field(default_factory=list)
    stats: LiveStats | None = None

    def __post_init__(self) -> None:
        self.spec = self.model.spec()

    def has_template(self) -> bool:
        return bool(self.spec.template or read_header(self.spec.path).chat_template)

    def ask(self, text: str) -> Done:
        """Send one user message and print the answer as it streams."""
        messages = [Message("system", self.system)] if self.system else []
        messages += [*self.history, Message("user", text)]
        handle = self.engine.chat(self.spec, messages, self.options, keep_alive=self.keep_alive)
        done = stream(handle, self.out, self.err, self._keep_stats)
        self.history += [Message("user", text), Message("assistant", done.text)]
        self._report(done)
        return done

    def complete(self, prompt: str) -> Done:
        """Continue `prompt` as plain text: how a completion model answers a one-shot run."""
        handle = self.engine.generate(self.spec, prompt, self.options, keep_alive=self.keep_alive)
        done = stream(handle, self.out, self.err, self._keep_stats)
        self._report(done)
        return done

    def _keep_stats(self, stats: LiveStats) -> None:
        self.stats = stats

    def offload(self) -> str:
        """Where the model runs, e.g. 'CUDA, 31/31 layers offloaded' or 'CPU'."""
        return "not loaded yet" if self.stats is None else self.stats.offload()

    def _report(self, done: Done) -> None:
        if done.done_reason == "cancel":
            self.err.write("(stopped)\n")
        if self.verbose:
            self.err.write(fmt.timings(done) + "\n")
            self.err.write(f"backend:              {self.offload()}\n")
            if self.stats is not None:
                self.err.write(f"attention:            {self.stats.attention()}\n")
                self.err.write(f"threads:              {self.stats.thread_use()}\n")
        self.err.flush()

    # -- slash commands -----------------------------------------------------------------

    def command(self, line: str) -> bool:
        """Run a slash command; False means leave the chat."""
        words = line.split(maxsplit=3)
        name = words[0].lower()
        if name in ("/bye", "/exit"):
            return False
        if name in ("/?", "/help"):
            self.out.write(HELP + "\n")
        elif name == "/clear":
            self.history.clear()
            self.out.write("Cleared session context\n")
        elif name == "/set":
            self._set(line)
        elif name == "/show":
            self._show(words[1].lower() if len(words) > 1 else "")
        elif name == "/save" and len(words) == 2:
            self._save(words[1])
        elif name == "/load" and len(words) == 2:
            self._load(words[1])
        elif name in ("/save", "/load"):
            self.out.write(f"Usage: {name} NAME\n")
        else:
            self.out.write(f"Unknown command '{words[0]}'. Type /? for help\n")
        return True

    def _save(self, name: str) -> None:
        """Ollama's /save: this chat as a new model, built on the current one."""
        modelfile = Modelfile(
            from_=self.model.name,
            parameters=tuple((key, value) for key, value in self.options.items() if key != "stop")
            + tuple(("stop", (stop,)) for stop in self.options.get("stop", ())),
            system=self.system,
            messages=tuple((m.role, m.content) for m in self.history),
        )
        try:
            manifest = create(name, modelfile, Path.cwd())
        except (ModelfileError, ValueError) as error:
            self.out.write(f"Couldn't save the model: {error}\n")
            return
        self.out.write(f"Created new model '{manifest.name}'\n")

    def _load(self, name: str) -> None:
        try:
            model = find(name)
        except UnknownModel as error:
            self.out.write(f"Couldn't load the model: {error}\n")
            return
        self.model, self.spec, self.stats = model, model.spec(), None
        self.system = None
        self.history.clear()
        self.out.write(f"Loading model '{model.name}'\n")

    def _set(self, line: str) -> None:
        parts = line.split(maxsplit=2)
        what = parts[1].lower() if len(parts) > 1 else ""
        if what == "system" and len(parts) > 2:
            self.system = _unquote(parts[2])
            self.out.write("Set system message.\n")
            return
        if what == "parameter":
            rest = parts[2].split(maxsplit=1) if len(parts) > 2 else []
            if len(rest) < 2:
                self.out.write("Usage: /set parameter NAME VALUE\n")
                return
            name, value = rest[0], rest[1]
            try:
                parsed = coerce(
                    name, shlex.split(value) if OPTION_TYPES.get(name) is tuple else value
                )
            except (OptionError, ValueError) as error:
                self.out.write(f"Couldn't set parameter: {error}\n")
                return
            self.options[name] = parsed
            self.out.write(f"Set parameter '{name}' to '{value}'\n")
            return
        self.out.write("Usage: /set parameter NAME VALUE | /set system TEXT\n")

    def _show(self, what: str) -> None:
        if what == "info":
            info = self.model.info
            facts = fmt.model_rows(info) if info and not info.error else []
            rows = [("model", self.model.name), *facts, ("backend", self.offload())]
            if self.stats is not None:
                rows.append(("attention", self.stats.attention()))
                rows.append(("threads", self.stats.thread_use()))
            if self.stats is not None and self.stats.shared_thread:
                rows.append(("", self.stats.SHARED_THREAD_NOTE))
            self.out.write("\n".join(f"  {k:<18}{v}" for k, v in rows) + "\n")
        elif what == "parameters":
            changed = self.engine.options_for(self.spec, self.options).changed()
            lines = fmt.parameter_lines(changed.items())
            self.out.write("\n".join(lines) + "\n" if lines else "No parameters set.\n")
        elif what == "system":
            self.out.write(
                (self.system or self.spec.system or "No system message was specified.") + "\n"
            )
        else:
            self.out.write("Usage: /show info | parameters | system\n")


def _unquote(text: str) -> str:
    text = text.strip()
    for quote in ('"""', '"'):
        if len(text) >= 2 * len(quote) and text.startswith(quote) and text.endswith(quote):
            return text[len(quote) : -len(quote)]
    return text


def read_message(read: Callable[[str], str] = input) -> str | None:
    """One message from the terminal: a line, or a \"\"\"-delimited block. None at EOF."""
    try:
        line = read(">>> ")
    except EOFError:
        return None
    if not line.lstrip().startswith('"""'):
        return line
    body = line.lstrip()[3:]
    lines = []
    while not body.rstrip().endswith('"""'):
        lines.append(body)
        try:
            body = read("... ")
        except EOFError:
            return "\n".join(lines)
    lines.append(body.rstrip()[:-3])
    return "\n".join(lines).strip("\n")


def interactive(session: ChatSession, read: Callable[[str], str] = input) -> int:
    """The read-answer loop, until /bye or Ctrl+D."""
    with contextlib.suppress(ImportError):
        import readline  # noqa: F401 - line editing and Up/Down history for input()
    session.out.write("Type /? for help, Ctrl+D or /bye to leave.\n")
    if not session.has_template():
        session.err.write(
            f"{session.model.name} has no chat template (a completion model): the chat is "
            "sent to it as a plain transcript.\n"
        )
    while True:
        try:
            text = read_message(read)
        except KeyboardInterrupt:
            session.out.write("\nUse Ctrl + d or /bye to exit.\n")
            continue
        if text is None:
            session.out.write("\n")
            return 0
        if not text.strip():
            continue
        if text.startswith("/"):
            if not session.command(text.strip()):
                return 0
            continue
        try:
            session.ask(text)
        except EngineError as error:
            session.err.write(f"Error: {error}\n")
        except KeyboardInterrupt:  # before the answer began streaming: nothing to keep
            session.err.write("(stopped)\n")
        session.out.write("\n")
