"""Changing one thing in a Modelfile: what `/set system` and `/set parameter` do to the
workbench's editor buffer."""

from __future__ import annotations

import dataclasses

from llmtui.engine.options import coerce
from llmtui.modelfile.model import Modelfile


def with_system(modelfile: Modelfile, system: str | None) -> Modelfile:
    return dataclasses.replace(modelfile, system=system or None)


def with_parameter(modelfile: Modelfile, name: str, value: str) -> Modelfile:
    """`name` set to `value` (parsed as the option wants; OptionError if it cannot be).
    A stop string is added to the others; any other parameter replaces its earlier value."""
    parsed = coerce(name, value)
    kept = (
        modelfile.parameters
        if name == "stop"
        else tuple((key, old) for key, old in modelfile.parameters if key != name)
    )
    return dataclasses.replace(modelfile, parameters=(*kept, (name, parsed)))
