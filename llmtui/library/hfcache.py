"""GGUF files already in the Hugging Face cache, named `hf.co/OWNER/REPO:QUANT`."""

from __future__ import annotations

import re
from pathlib import Path

from huggingface_hub import scan_cache_dir
from huggingface_hub.errors import CacheNotFound

DEFAULT_QUANT = "Q4_K_M"
_REFERENCE = re.compile(r"^(?:hf\.co/|huggingface\.co/)?([\w.-]+/[\w.-]+)(?::([\w.-]+))?$")


def is_reference(text: str) -> bool:
    """`hf.co/OWNER/REPO[:QUANT]`, or `OWNER/REPO:QUANT`."""
    if text.startswith(("hf.co/", "huggingface.co/")):
        return bool(_REFERENCE.match(text))
    return bool(_REFERENCE.match(text)) and ":" in text


def cached_gguf(reference: str) -> Path:
    """The cached GGUF for `reference`; `LookupError` with a sentence if there is none."""
    match = _REFERENCE.match(reference)
    if not match:
        raise LookupError(f"{reference!r} is not a Hugging Face reference (hf.co/OWNER/REPO:QUANT)")
    repo_id, quant = match.group(1), (match.group(2) or DEFAULT_QUANT)
    try:
        cache = scan_cache_dir()
    except CacheNotFound:
        cache = None
    for repo in cache.repos if cache else ():
        if repo.repo_type != "model" or repo.repo_id.lower() != repo_id.lower():
            continue
        files = [f.file_path for rev in repo.revisions for f in rev.files
                 if f.file_name.lower().endswith(".gguf")]  # fmt: skip
        matching = sorted(f for f in files if quant.lower() in f.name.lower())
        if matching:
            return matching[0]
        have = ", ".join(sorted({f.name for f in files})) or "no GGUF files"
        raise LookupError(f"hf.co/{repo_id} has no {quant} GGUF in the cache (it has {have})")
    raise LookupError(
        f"hf.co/{repo_id}:{quant} is not in the Hugging Face cache; download it first"
    )
