"""Ollama's Modelfile language, parsed with errors placed by line and column.

    FROM smollm2:135m
    PARAMETER temperature 0.2
    SYSTEM \"\"\"You are terse.\"\"\"
    MESSAGE user Hi
    MESSAGE assistant Hello.

Instruction names are case-insensitive and may come in any order; `#` at the start of a line
is a comment. A value is the rest of the line, a "quoted" string (with \\" and \\\\), or a
\"\"\"triple-quoted\"\"\" block that may span lines.
"""

from __future__ import annotations

import bisect
import difflib
import unicodedata
from typing import Any

from llmtui.engine.errors import OptionError
from llmtui.engine.options import OPTION_TYPES, coerce
from llmtui.modelfile.errors import ModelfileError
from llmtui.modelfile.gotemplate import TemplateError
from llmtui.modelfile.model import ROLES, Diagnostic, Modelfile, Role
from llmtui.modelfile.templates import compile_template

INSTRUCTIONS = (
    "FROM", "PARAMETER", "TEMPLATE", "SYSTEM", "ADAPTER", "LICENSE", "MESSAGE", "REQUIRES",
)  # fmt: skip
# Accepted so that Modelfiles written for Ollama keep working, with a warning: older llama.cpp
# options Ollama has dropped or ignores, which llmtui's engine does not use either.
DEPRECATED = {
    "penalize_newline", "tfs_z", "low_vram", "f16_kv", "logits_all", "vocab_only",
    "use_mlock", "numa", "num_gqa", "num_keep", "rope_frequency_base", "rope_frequency_scale",
}  # fmt: skip
_SINGLE = ("FROM", "TEMPLATE", "SYSTEM", "ADAPTER", "REQUIRES")


def parse(text: str) -> Modelfile:
    """The Modelfile in `text`; raises `ModelfileError` (and nothing else) if it is wrong.
    A byte-order mark that an editor put first is not part of the text."""
    return _Parser(text.removeprefix("\ufeff")).parse()


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0
        # Single-valued instructions: value and the line that gave it.
        self.values: dict[str, tuple[str, int]] = {}
        self.parameters: list[tuple[str, Any]] = []
        self.licenses: list[str] = []
        self.messages: list[tuple[Role, str]] = []
        self.warnings: list[Diagnostic] = []
        self.value_at: dict[str, tuple[int, int]] = {}
        self._newlines: list[int] | None = None

    # -- positions ----------------------------------------------------------------------

    def where(self, pos: int) -> tuple[int, int]:
        # Line starts found once: counting from the file's start at each call made a file of
        # 100,000 SYSTEM lines (a warning each) take 44 s to parse.
        if self._newlines is None:
            self._newlines = [i for i, char in enumerate(self.text) if char == "\n"]
        line = bisect.bisect_left(self._newlines, pos)
        start = self._newlines[line - 1] + 1 if line else 0
        return line + 1, pos - start + 1

    def line_text(self, pos: int) -> str:
        start = self.text.rfind("\n", 0, pos) + 1
        end = self.text.find("\n", pos)
        return self.text[start : end if end >= 0 else len(self.text)]

    def error(self, pos: int, reason: str) -> ModelfileError:
        line, column = self.where(pos)
        return ModelfileError(line, column, reason, self.line_text(pos))

    def warn(self, pos: int, message: str) -> None:
        line, column = self.where(pos)
        self.warnings.append(Diagnostic(line, column, message))

    # -- scanning -----------------------------------------------------------------------

    def at_end(self) -> bool:
        return self.pos >= len(self.text)

    def skip_blanks(self) -> None:
        """Past spaces and tabs on this line."""
        while self.pos < len(self.text) and self.text[self.pos] in " \t\r\f\v":
            self.pos += 1

    def rest_of_line(self) -> str:
        end = self.text.find("\n", self.pos)
        end = len(self.text) if end < 0 else end
        value = self.text[self.pos : end]
        self.pos = end
        return value

    def word(self) -> tuple[str, int]:
        start = self.pos
        while self.pos < len(self.text) and not self.text[self.pos].isspace():
            self.pos += 1
        return self.text[start : self.pos], start

    def end_line(self, what: str) -> None:
        self.skip_blanks()
        if not self.at_end() and self.text[self.pos] != "\n":
            raise self.error(self.pos, f"unexpected text after {what}")
        self.pos += 1

    # -- grammar ------------------------------------------------------------------------

    def parse(self) -> Modelfile:
        while not self.at_end():
            self.skip_blanks()
            if self.at_end():
                break
            char = self.text[self.pos]
            if char == "\n":
                self.pos += 1
            elif char == "#":
                self.rest_of_line()
            else:
                self.instruction()
        if "FROM" not in self.values:
            raise ModelfileError(1, 1, "no FROM instruction: a Modelfile must name its base model")
        return Modelfile(
            from_=self.values["FROM"][0],
            parameters=tuple(self.parameters),
            template=self.values.get("TEMPLATE", (None,))[0],
            system=self.values.get("SYSTEM", (None,))[0],
            adapter=self.values.get("ADAPTER", (None,))[0],
            license=tuple(self.licenses),
            messages=tuple(self.messages),
            requires=self.values.get("REQUIRES", (None,))[0],
            warnings=tuple(self.warnings),
            where=self.value_at,
        )

    def instruction(self) -> None:
        name, start = self.word()
        keyword = name.upper()
        if keyword not in INSTRUCTIONS:
            raise self.error(start, _unknown_instruction(name))
        self.skip_blanks()
        if self.at_end() or self.text[self.pos] == "\n":
            raise self.error(self.pos, f"{keyword} needs a value")
        if keyword == "PARAMETER":
            self.parameter()
        elif keyword == "MESSAGE":
            self.message()
        else:
            self.value_at[keyword] = self.where(self.pos)
            value, content_at = self.value()
            if keyword == "TEMPLATE":
                self.check_template(value, content_at)
            if keyword == "LICENSE":
                self.licenses.append(value)
            elif keyword in _SINGLE:
                if keyword in self.values:
                    first = self.values[keyword][1]
                    if keyword == "FROM":
                        raise self.error(start, f"a second FROM (the first is on line {first})")
                    self.warn(start, f"{keyword} given again: this one replaces line {first}'s")
                self.values[keyword] = (value, self.where(start)[0])

    def parameter(self) -> None:
        name, start = self.word()
        key = name.lower()
        self.skip_blanks()
        if self.at_end() or self.text[self.pos] == "\n":
            raise self.error(self.pos, f"PARAMETER {name} needs a value")
        value_at = self.pos
        raw, _ = self.value()
        if key in DEPRECATED:
            self.warn(start, f"parameter {key} is deprecated and has no effect; it is ignored")
            return
        if key not in OPTION_TYPES:
            close = difflib.get_close_matches(key, [*OPTION_TYPES], n=1, cutoff=0.6)
            hint = f" (did you mean {close[0]}?)" if close else ""
            raise self.error(start, f"unknown parameter {name!r}{hint}")
        try:
            value = coerce(key, raw)
        except OptionError as error:
            raise self.error(value_at, str(error).replace("option ", "parameter ", 1)) from None
        self.parameters.append((key, value))

    def message(self) -> None:
        role, start = self.word()
        if role.lower() not in ROLES:
            raise self.error(start, f"unknown MESSAGE role {role!r}: use system, user or assistant")
        self.skip_blanks()
        if self.at_end() or self.text[self.pos] == "\n":
            raise self.error(self.pos, f"MESSAGE {role} needs its text")
        content, _ = self.value()
        self.messages.append((role.lower(), content))  # type: ignore[arg-type]

    def value(self) -> tuple[str, int]:
        """The value here, and where its text starts (for errors inside it)."""
        start = self.pos
        if self.text.startswith('"""', self.pos):
            return self.triple_quoted(), start + 3
        if self.text.startswith('"', self.pos):
            return self.quoted(), start + 1
        value = self.rest_of_line().strip()
        self.pos += 1
        return value, start

    def check_template(self, source: str, content_at: int) -> None:
        try:
            compile_template(source)
        except TemplateError as error:
            raise self.error(content_at + error.offset, f"TEMPLATE: {error.reason}") from None

    def triple_quoted(self) -> str:
        start = self.pos
        end = self.text.find('"""', start + 3)
        if end < 0:
            raise self.error(start, 'unterminated """: no closing """ before the end of the file')
        self.pos = end + 3
        self.end_line('the closing """')
        return self.text[start + 3 : end]

    def quoted(self) -> str:
        start = self.pos
        self.pos += 1
        out: list[str] = []
        while self.pos < len(self.text):
            char = self.text[self.pos]
            if char == "\\" and self.pos + 1 < len(self.text) and self.text[self.pos + 1] in '"\\':
                out.append(self.text[self.pos + 1])
                self.pos += 2
            elif char == '"':
                self.pos += 1
                self.end_line("the closing quote")
                return "".join(out)
            else:
                out.append(char)
                self.pos += 1
        raise self.error(start, 'unterminated ": no closing quote before the end of the file')


def _unknown_instruction(name: str) -> str:
    hidden = [c for c in name if unicodedata.category(c) in ("Cf", "Cc", "Co", "Cn", "Zs")]
    if hidden:
        visible = "".join(c for c in name if c not in hidden)
        what = ", ".join(
            f"U+{ord(c):04X} {unicodedata.name(c, 'an unnamed character')}"
            for c in dict.fromkeys(hidden)
        )
        return (
            f'unknown instruction "{visible}": it holds an invisible character ({what}); '
            "delete it and type the instruction again"
        )
    if name.lower() in OPTION_TYPES or name.lower() in DEPRECATED:
        return f'unknown instruction "{name}"; did you mean "PARAMETER {name.lower()} ..."?'
    close = difflib.get_close_matches(name.upper(), INSTRUCTIONS, n=1, cutoff=0.6)
    hint = f'; did you mean "{close[0]}"?' if close else ""
    return f'unknown instruction "{name}"{hint} (one of {", ".join(INSTRUCTIONS)})'
