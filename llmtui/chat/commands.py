"""Slash commands, parsed once for every face: Ollama's `ollama run` commands, typed.

`parse` turns a line that starts with "/" into a command, or raises `CommandError` with the
one line both faces show. What a command does is the session's business (session.py); a
face only shows the result, and leaves on `Bye`.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass
from typing import Any

from llmtui.engine.errors import OptionError
from llmtui.engine.options import OPTION_TYPES, coerce

SHOW = ("info", "parameters", "system", "template", "modelfile", "license")

HELP = """Available Commands:
  /set parameter NAME VALUE   Set a parameter (e.g. /set parameter temperature 0.2)
  /set system TEXT            Set the system prompt
  /show info                  Show details for this model
  /show parameters            Show the parameters in use
  /show system                Show the system prompt
  /show template              Show the prompt template
  /show modelfile             Show the Modelfile of this chat (the model and what /set changed)
  /show license               Show the model's license
  /clear                      Clear the conversation (the system prompt stays)
  /save NAME                  Save this chat (system, parameters, messages) as a model
  /load NAME                  Go on with another model (the conversation stays)
  /bye                        Leave
  /?, /help                   This help"""


class CommandError(ValueError):
    """A line that is not a command, or a command used wrongly: one line for the user."""


@dataclass(frozen=True)
class SetSystem:
    text: str


@dataclass(frozen=True)
class SetParameter:
    name: str
    value: Any  # coerced to the option's type
    given: str  # as typed, for the confirmation


@dataclass(frozen=True)
class Show:
    what: str  # one of SHOW


@dataclass(frozen=True)
class Clear:
    pass


@dataclass(frozen=True)
class Load:
    name: str


@dataclass(frozen=True)
class Save:
    name: str


@dataclass(frozen=True)
class Bye:
    pass


@dataclass(frozen=True)
class Help:
    pass


Command = SetSystem | SetParameter | Show | Clear | Load | Save | Bye | Help


def is_command(line: str) -> bool:
    """Whether a line is meant as a command (as in Ollama: it starts with "/")."""
    return line.lstrip().startswith("/")


def parse(line: str) -> Command:
    words = line.strip().split(maxsplit=1)
    name = words[0].lower() if words else ""
    rest = words[1].strip() if len(words) > 1 else ""
    if name in ("/bye", "/exit"):
        return Bye()
    if name in ("/?", "/help"):
        return Help()
    if name == "/clear":
        return Clear()
    if name == "/set":
        return _set(rest)
    if name == "/show":
        what = rest.lower()
        if what not in SHOW:
            raise CommandError(f"Usage: /show {' | '.join(SHOW)}")
        return Show(what)
    if name in ("/load", "/save"):
        if not rest or len(rest.split()) != 1:
            raise CommandError(f"Usage: {name} NAME")
        return Load(rest) if name == "/load" else Save(rest)
    shown = words[0] if words else line
    raise CommandError(f"Unknown command '{shown}'. Type /? for help")


def _set(rest: str) -> Command:
    what, _, value = rest.partition(" ")
    what, value = what.lower(), value.strip()
    if what == "system" and value:
        return SetSystem(_unquote(value))
    if what == "parameter":
        name, _, given = value.partition(" ")
        given = given.strip()
        if not name or not given:
            raise CommandError("Usage: /set parameter NAME VALUE")
        try:
            parsed = coerce(name, shlex.split(given) if OPTION_TYPES.get(name) is tuple else given)
        except (OptionError, ValueError) as error:
            raise CommandError(f"Couldn't set parameter: {error}") from None
        return SetParameter(name, parsed, given)
    raise CommandError("Usage: /set parameter NAME VALUE | /set system TEXT")


def _unquote(text: str) -> str:
    for quote in ('"""', '"'):
        if len(text) >= 2 * len(quote) and text.startswith(quote) and text.endswith(quote):
            return text[len(quote) : -len(quote)]
    return text
