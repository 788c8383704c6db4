"""A model's facts in words, as `llmtui show` and a chat's /show print them."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from llmtui.library.catalog import LibraryModel
from llmtui.library.metadata import ModelInfo
from llmtui.modelfile import Modelfile


def modelfile_of(model: LibraryModel) -> Modelfile:
    """Its Modelfile-level settings: a created model's own, or what its source gave it
    (Ollama's params and system layers)."""
    if model.manifest is not None:
        return model.manifest.modelfile()
    spec = model.spec()
    named = model.sources == ("starter",) or model.remote
    base = model.name if named else str(spec.path)
    template = spec.template if isinstance(spec.template, str) else None
    go_source = getattr(spec.template, "source", None)
    return Modelfile(
        from_=base, parameters=Modelfile.parameters_from(spec.options), system=spec.system,
        template=template or go_source,
    )  # fmt: skip


def capabilities(model: LibraryModel) -> list[str]:
    """As Ollama's /api/show lists them: "completion", and "tools" when the model's chat
    template shows the tools it is given (a Modelfile's `.Tools`, a GGUF's Jinja `tools`)."""
    from llmtui.engine.gguf import read_header
    from llmtui.engine.prompt import jinja_shows_tools

    spec = model.spec()
    template = spec.template
    if template is None and model.info is not None and model.info.has_chat_template:
        template = read_header(spec.path).chat_template
    if isinstance(template, str):
        tools = jinja_shows_tools(template)
    else:
        tools = template is not None and template.supports_tools
    return ["completion", "tools"] if tools else ["completion"]


def model_rows(info: ModelInfo) -> list[tuple[str, str]]:
    """A GGUF's facts as `show` and the chat's /show info print them."""
    return [
        ("architecture", info.architecture),
        ("parameters", count(info.parameters)),
        ("context length", str(info.context_length)),
        ("embedding length", str(info.embedding_length)),
        ("quantization", info.quantization),
        ("chat template", "yes" if info.has_chat_template else "none (completion model)"),
        ("vision", "yes" if info.has_vision else "no"),
    ]


def count(n: int) -> str:
    """Parameter counts as model cards give them: 134.5M, 2.7B."""
    for unit, size in (("B", 1e9), ("M", 1e6), ("K", 1e3)):
        if n >= size:
            return f"{n / size:.1f}{unit}"
    return str(n)


def parameter_lines(parameters: Iterable[tuple[str, Any]]) -> list[str]:
    """`name  value` lines as `ollama show --parameters` prints them: text quoted, and one
    line per item of a list (stop)."""
    lines = []
    for name, value in parameters:
        for item in value if isinstance(value, tuple | list) else (value,):
            lines.append(f"{name:<20}{item!r}" if isinstance(item, str) else f"{name:<20}{item}")
    return lines
