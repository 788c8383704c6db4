"""Writing a Modelfile back out: `parse(serialise(m)) == m` for every Modelfile."""

from __future__ import annotations

from typing import Any

from llmtui.modelfile.model import Modelfile


def quote(value: str) -> str:
    """`value` as the parser will read it back: bare when that is unambiguous, else
    \"\"\"triple-quoted\"\"\" for readable multi-line text, else "escaped"."""
    bare_ok = (
        value
        and value == value.strip()
        and "\n" not in value
        and not value.startswith('"')
        and not any(c in value for c in "\r\f\v")
    )
    if bare_ok:
        return value
    if '"""' not in value and not value.endswith('"'):
        return f'"""{value}"""'
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _parameter(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return repr(value)
    return quote(str(value))


def serialise(modelfile: Modelfile) -> str:
    lines = [f"FROM {quote(modelfile.from_)}"]
    if modelfile.adapter is not None:
        lines.append(f"ADAPTER {quote(modelfile.adapter)}")
    if modelfile.template is not None:
        lines.append(f"TEMPLATE {quote(modelfile.template)}")
    if modelfile.system is not None:
        lines.append(f"SYSTEM {quote(modelfile.system)}")
    for name, value in modelfile.parameters:
        for item in value if isinstance(value, tuple) else (value,):
            lines.append(f"PARAMETER {name} {_parameter(item)}")
    for role, content in modelfile.messages:
        lines.append(f"MESSAGE {role} {quote(content)}")
    for text in modelfile.license:
        lines.append(f"LICENSE {quote(text)}")
    if modelfile.requires is not None:
        lines.append(f"REQUIRES {quote(modelfile.requires)}")
    return "\n".join(lines) + "\n"
