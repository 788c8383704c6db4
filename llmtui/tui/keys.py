"""The workbench's keys: every binding with its id (F1 lists them, the settings' keymap
remaps them), and the actions only the command palette offers."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from textual.binding import Binding
from textual.dom import DOMNode

# Actions without a key of their own, for the command palette: (title, help, action).
PALETTE_ONLY = [
    ("Pull a model", "Pull a GGUF model from Hugging Face, or search for one", "pull"),
    ("Copy model", "Copy the model highlighted in the library under a new name", "copy_model"),
    ("Delete model", "Delete (or hide) the model highlighted in the library", "delete_model"),
    ("Edit model's Modelfile", "Open the highlighted model's Modelfile in the editor",
     "edit_model"),
    ("Refresh library", "Look for models again (store, Ollama, LM Studio, HF cache)",
     "refresh_library"),
    ("Set system prompt", "The chat's system prompt (as /set system)", "set_system"),
    ("Set parameter", "A parameter for the chat, e.g. temperature 0.2 (as /set parameter)",
     "set_parameter"),
    ("Copy last reply", "Copy the last reply to the clipboard (OSC 52: works over SSH)",
     "copy_last('reply')"),
    ("Copy last code block", "Copy the last code block of the chat to the clipboard",
     "copy_last('code')"),
    ("Follow the reply", "Scroll the transcript to the end and follow the reply again",
     "follow"),
    ("Save Modelfile as", "Save the editor's buffer to another file", "save_as"),
    ("Leaderboard", "The blind comparisons' votes: each model's score, wins and ties",
     "leaderboard"),
]  # fmt: skip


def binding_rows(
    holders: Iterable[tuple[str, type[DOMNode]]], keymap: Mapping[str, str]
) -> list[tuple[str, str, str, str]]:
    """(where, key, id, description) of every binding with an id, the keymap applied."""
    rows = []
    for where, holder in holders:
        for binding in holder.BINDINGS:
            assert isinstance(binding, Binding)
            if binding.id:
                key = keymap.get(binding.id, binding.key)
                rows.append((where, key, binding.id, binding.description))
    return rows
