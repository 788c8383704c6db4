"""A Pygments lexer for Modelfiles (`pygmentize -l modelfile`); the TUI's editor uses it."""

from __future__ import annotations

import re
from typing import ClassVar

from pygments.lexer import RegexLexer, bygroups
from pygments.token import (
    Comment,
    Keyword,
    Name,
    Number,
    Operator,
    Punctuation,
    String,
    Text,
    Whitespace,
)

_TAGS = [
    (r"\{\{-?", Punctuation, "action"),
]


class ModelfileLexer(RegexLexer):
    name = "Modelfile"
    aliases: ClassVar[list[str]] = ["modelfile", "ollama-modelfile"]
    filenames: ClassVar[list[str]] = ["Modelfile", "*.Modelfile", "*.modelfile"]
    mimetypes: ClassVar[list[str]] = ["text/x-modelfile"]
    flags = re.IGNORECASE | re.MULTILINE

    tokens: ClassVar[dict[str, list]] = {  # type: ignore[type-arg]
        "root": [
            (r"^\s*#.*$", Comment.Single),
            (
                r"^(\s*)(PARAMETER)(\s+)(\S+)",
                bygroups(Whitespace, Keyword, Whitespace, Name.Attribute),
                "value",
            ),
            (
                r"^(\s*)(MESSAGE)(\s+)(\S+)",
                bygroups(Whitespace, Keyword, Whitespace, Name.Builtin),
                "value",
            ),
            (r"^(\s*)(TEMPLATE)\b", bygroups(Whitespace, Keyword), "template"),
            (r"^(\s*)(FROM|ADAPTER)\b", bygroups(Whitespace, Keyword), "reference"),
            (r"^(\s*)(SYSTEM|LICENSE|REQUIRES)\b", bygroups(Whitespace, Keyword), "value"),
            (r"\s+", Whitespace),
            (r"\S.*$", Text),
        ],
        "value": [
            (r"[ \t]+", Whitespace),
            (r'"""', String.Delimiter, ("#pop", "triple")),
            (r'"', String.Delimiter, ("#pop", "quoted")),
            (r"-?\d+(\.\d+)?(?=\s*$)", Number, "#pop"),
            (r"(true|false)(?=\s*$)", Keyword.Constant, "#pop"),
            (r".*$", String, "#pop"),
        ],
        "reference": [
            (r"[ \t]+", Whitespace),
            (r'"', String.Delimiter, ("#pop", "quoted")),
            (r".*$", Name.Namespace, "#pop"),
        ],
        "triple": [
            (r'"""', String.Delimiter, "#pop"),
            (r'[^"]+|"', String),
        ],
        "quoted": [
            (r'\\[\\"]', String.Escape),
            (r'"', String.Delimiter, "#pop"),
            (r'[^"\\]+|\\', String),
        ],
        "template": [
            (r"[ \t]+", Whitespace),
            (r'"""', String.Delimiter, ("#pop", "template-triple")),
            (r"(?=\S)", Text, ("#pop", "template-line")),
        ],
        "template-triple": [
            (r'"""', String.Delimiter, "#pop"),
            *_TAGS,
            (r'[^"{]+|"|\{', String),
        ],
        "template-line": [
            (r"$", Text, "#pop"),
            *_TAGS,
            (r"[^{\n]+|\{", String),
        ],
        "action": [
            (r"-?\}\}", Punctuation, "#pop"),
            (r"/\*.*?\*/", Comment.Multiline),
            (r"\b(if|else|end|range|with|define|template|block)\b", Keyword),
            (r"\b(eq|ne|lt|le|gt|ge|and|or|not|len|slice|index)\b", Name.Builtin),
            (r"\$?[\w]*(\.\w+)+|\$\w*|\.", Name.Variable),
            (r'"(\\.|[^"\\])*"', String.Double),
            (r"\d+", Number),
            (r":=|\|", Operator),
            (r"[()]", Punctuation),
            (r"\s+", Whitespace),
            (r"[^}\s]+|\}", Text),
        ],
    }
