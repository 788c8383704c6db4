"""A Modelfile as data: what `FROM`, `PARAMETER`, `TEMPLATE`... say, in order."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

Role = Literal["system", "user", "assistant"]
ROLES: tuple[Role, ...] = ("system", "user", "assistant")


@dataclass(frozen=True)
class Diagnostic:
    """Something accepted but worth telling the user, placed like an error."""

    line: int
    column: int
    message: str

    def __str__(self) -> str:
        return f"{self.line}:{self.column}: warning: {self.message}"


@dataclass(frozen=True)
class Modelfile:
    """Everything a Modelfile can say. Equality ignores warnings."""

    from_: str
    parameters: tuple[tuple[str, Any], ...] = ()
    template: str | None = None
    system: str | None = None
    adapter: str | None = None
    license: tuple[str, ...] = ()
    messages: tuple[tuple[Role, str], ...] = ()
    requires: str | None = None
    warnings: tuple[Diagnostic, ...] = field(default=(), compare=False)
    # Where FROM and ADAPTER values start (line, column), for errors found when creating.
    where: dict[str, tuple[int, int]] = field(default_factory=dict, compare=False)

    @staticmethod
    def parameters_from(options: Mapping[str, Any]) -> tuple[tuple[str, Any], ...]:
        """Engine options as PARAMETER lines: one per stop string, as `options()` reads them."""
        parameters: list[tuple[str, Any]] = []
        for name, value in options.items():
            if name == "stop":
                parameters += [("stop", (item,)) for item in value]
            else:
                parameters.append((name, value))
        return tuple(parameters)

    def options(self) -> dict[str, Any]:
        """The parameters as engine options: `stop` accumulates, others take the last."""
        options: dict[str, Any] = {}
        for name, value in self.parameters:
            if name == "stop":
                options["stop"] = (*options.get("stop", ()), *value)
            else:
                options[name] = value
        return options
