"""The one error type the Modelfile layer raises, placed like a compiler's."""

from __future__ import annotations


class ModelfileError(Exception):
    """A Modelfile problem at `line`:`column` (1-based), with the offending text."""

    def __init__(self, line: int, column: int, reason: str, text: str = "") -> None:
        super().__init__(f"{line}:{column}: {reason}")
        self.line = line
        self.column = column
        self.reason = reason
        self.text = text

    def located(self, path: str) -> str:
        """`PATH:LINE:COL: reason`, then the offending line, as a compiler prints it."""
        where = f"{path}:{self.line}:{self.column}: {self.reason}"
        if not self.text:
            return where
        return f"{where}\n    {self.text}\n    {' ' * (self.column - 1)}^"
