"""`llmtui run`: one answer, or an interactive line chat with Ollama's slash commands."""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import TextIO

from llmtui.chat import ChatSession, CommandError, SessionError, commands
from llmtui.cli import format as fmt
from llmtui.engine import Chunk, Done, EngineError, Failed, Notice, RequestHandle


def stream(handle: RequestHandle, out: TextIO, err: TextIO) -> Done:
    """Print a request's text as it arrives; Ctrl+C cancels it and keeps what was said."""
    printed = ""
    try:
        for event in handle.events():
            if isinstance(event, Chunk) and event.text:
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


class LineChat:
    """`llmtui run`'s chat on a terminal: a view of a chat session, which holds the rules."""

    def __init__(
        self, session: ChatSession, out: TextIO, err: TextIO, verbose: bool = False
    ) -> None:
        self.session = session
        self.out = out
        self.err = err
        self.verbose = verbose

    def ask(self, text: str) -> Done:
        """Send one user message and print the answer as it streams."""
        done = stream(self.session.send(text), self.out, self.err)
        self._report(done)
        return done

    def complete(self, prompt: str) -> Done:
        """Continue `prompt` as plain text: how a completion model answers a one-shot run."""
        done = stream(self.session.complete(prompt), self.out, self.err)
        self._report(done)
        return done

    def _report(self, done: Done) -> None:
        if done.done_reason == "cancel":
            self.err.write("(stopped)\n")
        if self.verbose and done.served_by:
            whence = "its own figures" if done.figures == "server" else "figures measured here"
            self.err.write(fmt.timings(done) + "\n")
            self.err.write(f"ran on:               {done.served_by} ({whence})\n")
        elif self.verbose:
            stats = self.session.stats
            self.err.write(fmt.timings(done) + "\n")
            where = stats.offload() if stats else "not loaded yet"
            self.err.write(f"backend:              {where}\n")
            if stats is not None:
                self.err.write(f"attention:            {stats.attention()}\n")
                self.err.write(f"threads:              {stats.thread_use()}\n")
        self.err.flush()

    def command(self, line: str) -> bool:
        """Run a slash command; False means leave the chat."""
        try:
            command = commands.parse(line)
            if isinstance(command, commands.Bye):
                return False
            said = self.session.run(command)
        except (CommandError, SessionError) as error:
            said = str(error)
        self.out.write(said + "\n")
        return True


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


def interactive(chat: LineChat, read: Callable[[str], str] = input) -> int:
    """The read-answer loop, until /bye or Ctrl+D."""
    with contextlib.suppress(ImportError):
        import readline  # noqa: F401 - line editing and Up/Down history for input()
    chat.out.write("Type /? for help, Ctrl+D or /bye to leave.\n")
    if not chat.session.has_template():
        chat.err.write(
            f"{chat.session.origin} has no chat template (a completion model): the chat is "
            "sent to it as a plain transcript.\n"
        )
    while True:
        try:
            text = read_message(read)
        except KeyboardInterrupt:
            chat.out.write("\nUse Ctrl + d or /bye to exit.\n")
            continue
        if text is None:
            chat.out.write("\n")
            return 0
        if not text.strip():
            continue
        if commands.is_command(text):
            if not chat.command(text.strip()):
                return 0
            continue
        try:
            chat.ask(text)
        except (EngineError, SessionError) as error:
            chat.err.write(f"Error: {error}\n")
        except KeyboardInterrupt:  # before the answer began streaming: nothing to keep
            chat.err.write("(stopped)\n")
        chat.out.write("\n")
