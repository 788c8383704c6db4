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


def scan(problems: list[str] | None = None) -> list[Found]:
    """Every GGUF model in the cache (the first part of a split one, projectors aside);
    a sentence for each damaged entry goes to `problems`."""
    problems = problems if problems is not None else []
    try:
        cache = scan_cache_dir(hub_cache())
    except (CacheNotFound, CorruptedCacheException, OSError):
        return []
    found: list[Found] = []
    for repo in cache.repos:
        if repo.repo_type != "model":
            continue
        files: dict[str, tuple[Path, Path]] = {}
        for revision in sorted(repo.revisions, key=lambda r: r.last_modified):
            for file in revision.files:
                if file.file_name.lower().endswith(".gguf"):
                    # the newest revision's copy wins
                    files[file.file_name] = (Path(file.file_path), Path(file.blob_path))
        found += _models(repo.repo_id, files)
    # huggingface_hub leaves out a whole repository for one damaged entry in it (a
    # snapshot link whose blob is gone, say): read those by hand, skipping only the entry.
    scanned = {repo.repo_path.name for repo in cache.repos}
    for folder in sorted(hub_cache().glob("models--*")):
        if folder.name not in scanned and folder.is_dir():
            found += _by_hand(folder, problems)
    return found


def _by_hand(folder: Path, problems: list[str]) -> list[Found]:
    repo_id = folder.name.removeprefix("models--").replace("--", "/")
    files: dict[str, tuple[Path, Path]] = {}
    snapshots = folder / "snapshots"
    revisions = sorted(snapshots.iterdir(), key=_mtime) if snapshots.is_dir() else []
    for revision in revisions:
        for path in sorted(revision.rglob("*")):
            if not path.name.lower().endswith(".gguf"):
                continue
            if not path.is_file():
                problems.append(f"Hugging Face cache: skipped {path} (a link to nothing)")
                continue
            files[path.relative_to(revision).as_posix()] = (path, path.resolve())
    return _models(repo_id, files)


def _mtime(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except OSError:
        return 0.0


def _models(repo_id: str, files: dict[str, tuple[Path, Path]]) -> list[Found]:
    """The models among a repository's GGUF files: {name in the repo: (path, blob)}."""
    found = []
    projector = any(is_projector(Path(name)) for name in files)
    names: set[str] = set()
    for file_name, (path, blob) in sorted(files.items()):
        if is_projector(path) or is_later_split_part(path):
            continue
        parts = split_parts(path)
        if parts and not all(p.exists() for p in parts):
            continue  # an unfinished pull of a split model
        quant = quant_of(path.stem) or Path(file_name).stem
        name = f"hf.co/{repo_id}:{quant}"
        if name in names:
            name = f"hf.co/{repo_id}:{Path(file_name).stem}"
        names.add(name)
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
