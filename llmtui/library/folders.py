"""GGUF files in LM Studio's model folders and in folders named in the settings."""

from __future__ import annotations

from pathlib import Path

from llmtui.library.found import (
    Found,
    is_later_split_part,
    is_projector,
    name_from_stem,
    quant_of,
    split_parts,
)


def lmstudio_roots() -> list[Path]:
    home = Path.home()
    return [home / ".lmstudio" / "models", home / ".cache" / "lm-studio" / "models"]


def _ggufs(root: Path) -> list[Path]:
    try:
        return sorted(p for p in root.rglob("*") if p.suffix.lower() == ".gguf" and p.is_file())
    except OSError:
        return []


def _models(root: Path) -> list[tuple[Path, bool, int | None]]:
    """(first file, a projector lies beside it, size of all split parts)."""
    models = []
    for path in _ggufs(root):
        if is_projector(path) or is_later_split_part(path):
            continue
        parts = split_parts(path)
        if parts and not all(p.exists() for p in parts):
            continue
        projector = any(is_projector(p) for p in path.parent.glob("*.gguf"))
        models.append((path, projector, sum(p.stat().st_size for p in parts) if parts else None))
    return models


def scan_lmstudio(roots: list[Path] | None = None) -> list[Found]:
    """LM Studio keeps `<publisher>/<repo>/<file>.gguf`, mirroring Hugging Face: the models
    are named as the hub names them, so the same download in both places is one model."""
    found = []
    for root in roots if roots is not None else lmstudio_roots():
        for path, projector, size in _models(root):
            relative = path.relative_to(root).parts
            if len(relative) >= 3:
                quant = quant_of(path.stem) or path.stem
                name = f"hf.co/{relative[0]}/{relative[1]}:{quant}"
            else:
                name = name_from_stem(path.stem)
            found.append(Found(name, path, "lmstudio", size=size, has_projector=projector))
    return found


def scan_folders(folders: list[Path]) -> list[Found]:
    found = []
    for folder in folders:
        for path, projector, size in _models(folder.expanduser()):
            found.append(
                Found(name_from_stem(path.stem), path, "folder", size=size, has_projector=projector)
            )
    return found
