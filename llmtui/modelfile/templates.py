"""A Modelfile's TEMPLATE: Ollama's Go template, or a Hugging Face (Jinja) chat template."""

from __future__ import annotations

import re

import jinja2

from llmtui.engine.message import PromptTemplate
from llmtui.modelfile.gotemplate import GoTemplate, TemplateError

# Jinja's statements, or its names for the conversation: Go templates have neither.
_JINJA = re.compile(r"\{%|\{\{-?\s*(messages|bos_token|eos_token|add_generation_prompt)\b")
_SAMPLE = [
    {"role": "system", "content": "s"},
    {"role": "user", "content": "u"},
    {"role": "assistant", "content": "a"},
    {"role": "user", "content": "u"},
]


def is_jinja(source: str) -> bool:
    return bool(_JINJA.search(source))


def compile_template(source: str) -> str | PromptTemplate:
    """A renderer for `source`: Jinja source is returned as it is (the engine renders it with
    the model's BOS and EOS tokens), a Go template compiled. Raises `TemplateError` for a
    template that could not render, so that it fails at `create`, not in a chat."""
    if not is_jinja(source):
        return GoTemplate(source)
    # Here, not at the top: the formatter is llama-cpp-python's, which loads llama.cpp, and
    # reading the library must not (`llmtui list`, scripted-engine tests).
    from llmtui.engine.prompt import BoundedJinjaFormatter

    try:
        BoundedJinjaFormatter(source, eos_token="</s>", bos_token="<s>")(messages=_SAMPLE)
    except jinja2.TemplateSyntaxError as error:
        raise TemplateError(_line_offset(source, error.lineno), f"Jinja: {error.message}") from None
    except Exception as error:  # the template itself raised (raise_exception, bad filter...)
        raise TemplateError(0, f"Jinja: the template failed on a sample chat: {error}") from None
    return source


def _line_offset(source: str, line: int) -> int:
    offset = 0
    for _ in range(max(0, line - 1)):
        offset = source.find("\n", offset) + 1
    return offset
