"""Only the TUI may import Textual: the core must run without it (server, CLI, tests). The
chat core and the engine's data types import without llama.cpp (loading it takes ~0.25 s):
a session over a scripted or remote engine, and `llmtui list`, do not pay for it."""

import subprocess
import sys

import pytest


def imported(module: str, what: str) -> bool:
    code = f"import sys, {module}; print({what!r} in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return out.stdout.strip() == "True"


@pytest.mark.parametrize(
    "module",
    ["llmtui.engine", "llmtui.chat", "llmtui.library", "llmtui.cli", "llmtui.paths",
     "llmtui.atomic", "llmtui.server.app", "llmtui.remote.routing", "llmtui.web.server",
     "llmtui.web.engine", "llmtui.remote.shared"],
)  # fmt: skip
def test_core_does_not_import_textual(module: str) -> None:
    assert not imported(module, "textual")


def test_the_cli_loads_the_web_stack_only_to_serve() -> None:
    assert not imported("llmtui.cli", "starlette") and not imported("llmtui.cli", "uvicorn")


@pytest.mark.parametrize(
    "module",
    # A web workbench's tab runs its models on the shared server: never in its own process.
    ["llmtui.engine", "llmtui.chat", "llmtui.library", "llmtui.remote.routing",
     "llmtui.remote.shared", "llmtui.web.server", "llmtui.tui.app", "llmtui.cli"],
)  # fmt: skip
def test_the_chat_core_and_the_engines_types_do_not_load_llama_cpp(module: str) -> None:
    assert not imported(module, "llama_cpp")
