"""The Modelfile editor: a TextArea highlighted by the Modelfile lexer, validated as you type."""

from __future__ import annotations

from pygments.token import Comment, Keyword, Name, Number, Punctuation, String, Token, _TokenType
from textual.widgets import TextArea

from llmtui.modelfile import Modelfile, ModelfileError, parse
from llmtui.modelfile.lexer import ModelfileLexer

# Pygments token types -> the TextArea theme's syntax style names.
_STYLES: list[tuple[_TokenType, str]] = [
    (Comment, "comment"),
    (Keyword.Constant, "boolean"),
    (Keyword, "keyword"),
    (Name.Attribute, "variable"),
    (Name.Builtin, "type"),
    (Name.Namespace, "string.special"),
    (Name.Variable, "variable"),
    (Number, "number"),
    (String.Escape, "string.special"),
    (String, "string"),
    (Punctuation, "punctuation.bracket"),
]


def _style(kind: _TokenType) -> str | None:
    for parent, name in _STYLES:
        if parent in kind.split():
            return name
    return None


class ModelfileEditor(TextArea):
    """Highlighting comes from the same Pygments lexer as `pygmentize -l modelfile`, in the
    TextArea theme's colours, so it follows the app's theme."""

    DEFAULT_CSS = """
    ModelfileEditor { height: 1fr; }
    """
    # A class attribute: TextArea builds the highlight map before __init__ returns.
    _lexer = ModelfileLexer()

    def __init__(self, text: str = "", **kwargs: object) -> None:
        super().__init__(text, soft_wrap=False, show_line_numbers=True, **kwargs)  # type: ignore[arg-type]
        self.result: Modelfile | ModelfileError | None = None

    def _build_highlight_map(self) -> None:
        self._line_cache.clear()
        highlights = self._highlights
        highlights.clear()
        row, column = 0, 0  # in bytes within the line, as TextArea's highlights are
        for _, kind, value in self._lexer.get_tokens_unprocessed(self.text):
            style = _style(kind) if kind is not Token.Text else None
            for index, piece in enumerate(value.split("\n")):
                if index:
                    row, column = row + 1, 0
                width = len(piece.encode("utf-8"))
                if style and width:
                    highlights[row].append((column, column + width, style))
                column += width

    def validate(self) -> Modelfile | ModelfileError:
        try:
            self.result = parse(self.text)
        except ModelfileError as error:
            self.result = error
        return self.result
