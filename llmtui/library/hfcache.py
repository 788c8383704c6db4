"""GGUF files in the Hugging Face cache, named `hf.co/OWNER/REPO:QUANT`.

llmtui's pulls go there too, so every tool that reads the cache shares them.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from huggingface_hub import scan_cache_dir
from huggingface_hub.errors import CacheNotFound, CorruptedCacheException

from llmtui.library.found import Found, is_later_split_part, is_projector, quant_of, split_parts

DEFAULT_QUANT = "Q4_K_M"
_REFERENCE = re.compile(r"^(?:hf\.co/|huggingface\.co/)?([\w.-]+/[\w.-]+)(?::([\w.-]+))?$")


def hub_cache() -> Path:
    """The cache folder, as huggingface_hub resolves it, read now (not at import)."""
    if cache := os.environ.get("HF_HUB_CACHE"):
        return Path(cache).expanduser()
    home = (
        os.environ.get("HF_HOME")
        or Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "huggingface"
    )
    return Path(home).expanduser() / "hub"


def is_reference(text: str) -> bool:
    """`hf.co/OWNER/REPO[:QUANT]`, or `OWNER/REPO:QUANT`."""
    if text.startswith(("hf.co/", "huggingface.co/")):
        return bool(_REFERENCE.match(text))
    return bool(_REFERENCE.match(text)) and ":" in text


def parse_reference(text: str) -> tuple[str, str | None]:
    """(`OWNER/REPO`, quant or None)."""
    match = _REFERENCE.match(text.strip())
    if not match:
        raise LookupError(f"{text!r} is not a Hugging Face reference (hf.co/OWNER/REPO:QUANT)")
    return match.group(1), match.group(2)


def scan() -> list[Found]:
    """Every GGUF model in the cache (the first part of a split one, projectors aside)."""
    try:
        cache = scan_cache_dir(hub_cache())
    except (CacheNotFound, CorruptedCacheException, OSError):
        return []
    found: list[Found] = []
    for repo in cache.repos:
        if repo.repo_type != "model":
            continue
        files = {}
        for revision in sorted(repo.revisions, key=lambda r: r.last_modified):
            for file in revision.files:
                if file.file_name.lower().endswith(".gguf"):
                    files[file.file_name] = file  # the newest revision's copy wins
        projector = any(is_projector(Path(name)) for name in files)
        names: set[str] = set()
        for file_name, file in sorted(files.items()):
            path = Path(file.file_path)
            if is_projector(path) or is_later_split_part(path):
                continue
            parts = split_parts(path)
            if parts and not all(p.exists() for p in parts):
                continue  # an unfinished pull of a split model
            quant = quant_of(path.stem) or Path(file_name).stem
            name = f"hf.co/{repo.repo_id}:{quant}"
            if name in names:
                name = f"hf.co/{repo.repo_id}:{Path(file_name).stem}"
            names.add(name)
            blob = Path(file.blob_path)
            digest = blob.name if re.fullmatch(r"[0-9a-f]{64}", blob.name) else None
            size = sum(p.stat().st_size for p in parts) if parts else None
            found.append(Found(name, path, "hf-cache", digest, size, has_projector=projector))
    return found


def cached_gguf(reference: str) -> Path:
    """The cached GGUF for `reference`; `LookupError` with a sentence if there is none."""
    repo_id, quant = parse_reference(reference)
    quant = (quant or DEFAULT_QUANT).upper()
    candidates = [f for f in scan() if f.name.lower().startswith(f"hf.co/{repo_id.lower()}:")]
    for candidate in candidates:
        if candidate.name.rsplit(":", 1)[1].upper() == quant:
            return candidate.path
    if candidates:
        have = ", ".join(sorted(c.name.rsplit(":", 1)[1] for c in candidates))
        raise LookupError(f"hf.co/{repo_id} has no {quant} GGUF in the cache (it has {have})")
    raise LookupError(
        f"hf.co/{repo_id}:{quant} is not in the Hugging Face cache; "
        f"`llmtui pull hf.co/{repo_id}:{quant}` downloads it"
    )
