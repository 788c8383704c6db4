"""Settings: parameters and keymap are checked; a bad value is reported and skipped."""

from __future__ import annotations

from pathlib import Path

from llmtui import settings


def test_parameters_and_keymap(tmp_path: Path) -> None:
    path = tmp_path / "settings.toml"
    path.write_text(
        'theme = "paper-light"\n'
        '[parameters]\ntemperature = 0.2\nnum_ctx = 2048\ntemprature = 1\ntop_k = "many"\n'
        '[keymap]\n"chat.stop" = "ctrl+c"\n'
    )
    loaded, problems = settings.load(path)
    assert loaded.theme == "paper-light"
    assert loaded.parameters == {"temperature": 0.2, "num_ctx": 2048}
    assert loaded.keymap == {"chat.stop": "ctrl+c"}
    assert any("parameter temprature: unknown option 'temprature'" in p for p in problems)
    assert any("parameter top_k: option top_k must be an integer" in p for p in problems)


def test_wrong_types_fall_back_to_defaults(tmp_path: Path) -> None:
    path = tmp_path / "settings.toml"
    path.write_text('keymap = "ctrl+c"\nparameters = 3\nnum_ctx = "big"\n')
    loaded, problems = settings.load(path)
    assert loaded == settings.Settings()
    assert len(problems) == 3 and all("has the wrong type" in p for p in problems)


def test_frame_ms_is_checked(tmp_path: Path) -> None:
    path = tmp_path / "settings.toml"
    path.write_text("frame_ms = 100\n")
    assert settings.load(path) == (settings.Settings(frame_ms=100), [])
    for wrong, problem in [("5", "frame_ms 5 is not 0 or 20-1000"), ('"fast"', "wrong type")]:
        path.write_text(f"frame_ms = {wrong}\n")
        loaded, problems = settings.load(path)
        assert loaded.frame_ms == 0
        assert len(problems) == 1 and problem in problems[0]


def test_a_context_size_out_of_range_is_reported(tmp_path: Path) -> None:
    """A negative num_ctx was taken, and the library showed a negative KV cache."""
    path = tmp_path / "settings.toml"
    for value in ("-5", "0", "99999999999"):
        path.write_text(f"num_ctx = {value}\n")
        loaded, problems = settings.load(path)
        assert loaded.num_ctx == 4096
        assert len(problems) == 1 and "num_ctx" in problems[0] and "using 4096" in problems[0]


def test_keep_chats_is_a_boolean(tmp_path: Path) -> None:
    path = tmp_path / "settings.toml"
    path.write_text("keep_chats = false\n")
    assert settings.load(path) == (settings.Settings(keep_chats=False), [])
    path.write_text('keep_chats = "no"\n')
    loaded, problems = settings.load(path)
    assert loaded.keep_chats and "wrong type" in problems[0]
