"""Ollama's Modelfile language: parse, check, write back. No UI here."""

from llmtui.modelfile.errors import ModelfileError
from llmtui.modelfile.model import Diagnostic, Modelfile
from llmtui.modelfile.parser import parse
from llmtui.modelfile.serialise import serialise
from llmtui.modelfile.templates import compile_template

__all__ = ["Diagnostic", "Modelfile", "ModelfileError", "compile_template", "parse", "serialise"]
