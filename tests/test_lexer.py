"""The Modelfile lexer: tokens for each part, and `pygmentize -l modelfile`."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from pygments.lexers import get_lexer_by_name
from pygments.token import Comment, Keyword, Name, Number, Punctuation, String, Token

SAMPLE = '''# a comment
FROM smollm2:135m
PARAMETER temperature 0.2
PARAMETER stop "<|im_end|>"
SYSTEM """Be brief."""
MESSAGE user Hi
TEMPLATE """{{ if .System }}{{ .System }}{{ end }}{{ .Prompt }}"""
'''


def tokens() -> list[tuple[object, str]]:
    lexer = get_lexer_by_name("modelfile")
    return [(kind, text) for kind, text in lexer.get_tokens(SAMPLE) if text.strip()]


def test_registered_as_a_pygments_plugin() -> None:
    assert get_lexer_by_name("modelfile").name == "Modelfile"


def test_each_part_gets_its_token() -> None:
    found = tokens()
    assert (Comment.Single, "# a comment") in found
    for keyword in ("FROM", "PARAMETER", "SYSTEM", "MESSAGE", "TEMPLATE"):
        assert (Keyword, keyword) in found
    assert (Name.Namespace, "smollm2:135m") in found
    assert (Name.Attribute, "temperature") in found
    assert (Number, "0.2") in found
    assert (String, "<|im_end|>") in found
    assert (String, "Be brief.") in found
    assert (Name.Builtin, "user") in found
    assert (Keyword, "if") in found and (Keyword, "end") in found
    assert (Name.Variable, ".System") in found
    assert (Punctuation, "{{") in found


def test_no_error_tokens_on_the_examples() -> None:
    lexer = get_lexer_by_name("modelfile")
    for path in (Path(__file__).parent.parent / "modelfiles").glob("*.Modelfile"):
        assert all(kind is not Token.Error for kind, _ in lexer.get_tokens(path.read_text()))


def test_pygmentize_command(tmp_path: Path) -> None:
    source = tmp_path / "Modelfile"
    source.write_text(SAMPLE)
    out = subprocess.run(
        [sys.executable, "-m", "pygments", "-l", "modelfile", "-f", "terminal", str(source)],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    assert "\x1b[" in out.stdout and "smollm2:135m" in out.stdout
