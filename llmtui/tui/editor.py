"""The Modelfile editor: a TextArea highlighted by the Modelfile lexer, validated as you type."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import ClassVar

from pygments.token import Comment, Keyword, Name, Number, Punctuation, String, Token, _TokenType
from rich.style import Style
from textual.binding import Binding, BindingType
from textual.color import Color

from llmtui.modelfile import Modelfile, ModelfileError, parse
from llmtui.modelfile.lexer import ModelfileLexer
from llmtui.tui.overrides import LexerTextArea

ERROR = "llmtui.error"  # the highlight that marks a Modelfile error in the buffer

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


class ModelfileEditor(LexerTextArea):
    """Highlighting comes from the same Pygments lexer as `pygmentize -l modelfile`, in the
    TextArea theme's colours, so it follows the app's theme."""

    DEFAULT_CSS = """
    ModelfileEditor { height: 1fr; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("ctrl+end", "document_end", "End of file", id="editor.end", show=False),
        Binding("ctrl+home", "document_start", "Start of file", id="editor.start", show=False),
    ]
    # A class attribute: TextArea builds the highlight map before __init__ returns.
    _lexer = ModelfileLexer()
    result: Modelfile | ModelfileError | None = None

    def __init__(self, text: str = "", **kwargs: object) -> None:
        super().__init__(text, soft_wrap=False, show_line_numbers=True, **kwargs)  # type: ignore[arg-type]
        self.path: Path | None = None  # the file the buffer was opened from or saved to
        self.saved_text = text  # what is on disk (or in the model): unsaved if different
        self._checked: str | None = None  # the text `result` is for

    def action_document_end(self) -> None:
        self.move_cursor(self.document.end)

    def action_document_start(self) -> None:
        self.move_cursor((0, 0))

    @property
    def unsaved(self) -> bool:
        return self.text != self.saved_text

    def load(self, text: str, path: Path | None = None) -> None:
        """Show `text` as the clean, saved state (a model's Modelfile or a file)."""
        self.path = path
        self.saved_text = text
        self.text = text

    def highlight_spans(self) -> Iterator[tuple[int, int, int, str]]:
        row, column = 0, 0  # in bytes within the line, as TextArea's highlights are
        for _, kind, value in self._lexer.get_tokens_unprocessed(self.text):
            style = _style(kind) if kind is not Token.Text else None
            for index, piece in enumerate(value.split("\n")):
                if index:
                    row, column = row + 1, 0
                width = len(piece.encode("utf-8"))
                if style and width:
                    yield row, column, column + width, style
                column += width
        yield from self._error_mark()

    def _error_mark(self) -> Iterator[tuple[int, int, int, str]]:
        """Underline the error from its column to the end of its line, in the theme's error
        colour: TextArea has no gutter marks, so the mark is a highlight of its own."""
        error = self.result
        styles = self.syntax_styles()
        if not isinstance(error, ModelfileError) or not error.line or styles is None:
            return
        colour = Color.parse(self.app.current_theme.error or "red")
        styles[ERROR] = Style(color=colour.rich_color, underline=True, bold=True)
        row = min(error.line, self.document.line_count) - 1
        line = self.document.get_line(row)
        start = len(line[: max(0, (error.column or 1) - 1)].encode("utf-8"))
        end = len(line.encode("utf-8"))
        yield row, min(start, max(0, end - 1)), max(end, start + 1), ERROR

    def validate(self) -> Modelfile | ModelfileError:
        """The buffer's Modelfile (or its error) now: the as-you-type check's result if it
        is for the text shown, else parsed here (bounded: templates render under a time
        limit)."""
        text = self.text
        if self._checked != text or self.result is None:
            self.show_result(text, check(text))
        assert self.result is not None
        return self.result

    def show_result(self, text: str, result: Modelfile | ModelfileError) -> None:
        """The check of `text` is `result`: mark its error (or remove the old mark)."""
        before = self.result
        self.result, self._checked = result, text
        if isinstance(before, ModelfileError) or isinstance(result, ModelfileError):
            self.rehighlight()  # move or remove the error's mark


def check(text: str) -> Modelfile | ModelfileError:
    """Parse and check a Modelfile: its templates are rendered once, on a sample chat."""
    try:
        return parse(text)
    except ModelfileError as error:
        return error
