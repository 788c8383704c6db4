"""Themes from TOML files: those shipped in themes/, then the user's in the config dir.

A theme that is not valid (bad TOML, a missing or unknown key, a colour Textual cannot
parse) is reported and skipped; it never stops the app.
"""

from __future__ import annotations

import dataclasses
import tomllib
from pathlib import Path

from textual.theme import Theme

from llmtui import paths

_FIELDS = {f.name for f in dataclasses.fields(Theme)}
_ANSI_VARIABLES = {"ansi-background": "ansi_black", "ansi-foreground": "ansi_white"}


def theme_folders() -> list[Path]:
    shipped = Path(__file__).resolve().parent.parent / "themes"  # inside an installed wheel
    source = Path(__file__).resolve().parents[2] / "themes"  # a source checkout
    return [shipped, source, paths.config_dir() / "themes"]


def load_theme(path: Path) -> Theme:
    """The theme in `path`; ValueError with the reason if it is not a valid one."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as error:
        raise ValueError(f"cannot read it ({error})") from None
    unknown = sorted(set(data) - _FIELDS)
    if unknown:
        raise ValueError(f"unknown keys: {', '.join(unknown)}")
    if not isinstance(data.get("name"), str) or not isinstance(data.get("primary"), str):
        raise ValueError("it needs a name and a primary colour (text)")
    try:
        theme = Theme(**data)
        if theme.ansi:
            # Textual's screen CSS uses these, and only its own ANSI themes define them:
            # without them, switching to the theme raised in the stylesheet and quit.
            theme.variables = {**_ANSI_VARIABLES, **theme.variables}
        theme.to_color_system().generate()  # parses every colour
    except Exception as error:  # Textual raises several kinds for bad colours
        raise ValueError(f"not a valid theme: {error}") from None
    return theme


def load_themes(folders: list[Path] | None = None) -> tuple[list[Theme], list[str]]:
    themes: dict[str, Theme] = {}
    problems: list[str] = []
    for folder in folders if folders is not None else theme_folders():
        for path in sorted(folder.glob("*.toml")) if folder.is_dir() else ():
            try:
                theme = load_theme(path)
            except ValueError as error:
                problems.append(f"theme {path} skipped: {error}")
                continue
            themes[theme.name] = theme  # a user's theme may replace a shipped one
    return list(themes.values()), problems
