"""Only the TUI may import Textual: the core must run without it (server, CLI, tests)."""

import subprocess
import sys

import pytest


@pytest.mark.parametrize(
    "module", ["llmtui.engine", "llmtui.library", "llmtui.cli", "llmtui.paths", "llmtui.atomic"]
)
def test_core_does_not_import_textual(module: str) -> None:
    code = f"import sys, {module}; print('textual' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
