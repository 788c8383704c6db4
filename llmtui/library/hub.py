"""Pulling GGUF models from Hugging Face and searching it, through huggingface_hub.

Pulls go into the Hugging Face cache (so other tools share them); a pull resumes where an
interrupted one stopped, and each file is checked against the hub's sha256 before it is
listed. The endpoint is read from HF_ENDPOINT at call time (tests point it at a local
stand-in of the hub).
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import os
import shutil
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from huggingface_hub import HfApi, get_hf_file_metadata, hf_hub_download, hf_hub_url
from huggingface_hub.errors import (
    EntryNotFoundError,
    GatedRepoError,
    HfHubHTTPError,
    OfflineModeIsEnabled,
    RepositoryNotFoundError,
    RevisionNotFoundError,
)
from huggingface_hub.file_download import http_get, repo_folder_name
from huggingface_hub.hf_api import RepoFile
from huggingface_hub.utils import build_hf_headers, get_session  # type: ignore[attr-defined]
from tqdm.auto import tqdm

from llmtui.engine.memory import human_bytes
from llmtui.library.found import SPLIT, is_later_split_part, is_projector, quant_of
from llmtui.library.hfcache import DEFAULT_QUANT, hub_cache, parse_reference

# Quantizations from smallest to largest, to find the closest one to what was asked.
ORDER = [
    "IQ1_S", "IQ1_M", "IQ2_XXS", "IQ2_XS", "IQ2_S", "IQ2_M", "Q2_K", "Q2_K_S", "IQ3_XXS",
    "IQ3_XS", "IQ3_S", "Q3_K_S", "IQ3_M", "Q3_K_M", "Q3_K_L", "IQ4_XS", "IQ4_NL", "Q4_0",
    "Q4_1", "Q4_K_S", "Q4_K_M", "Q5_0", "Q5_1", "Q5_K_S", "Q5_K_M", "Q6_K", "Q8_0", "BF16",
    "F16", "F32",
]  # fmt: skip


class HubError(Exception):
    """A pull or search that failed, in one sentence."""


class PullCancelled(HubError):
    """The pull was cancelled; what was downloaded stays for the next pull to resume."""


@dataclass(frozen=True)
class QuantFile:
    """One downloadable model in a repository: a GGUF, or all parts of a split one."""

    quant: str
    paths: tuple[str, ...]
    size: int
    sha256: tuple[str | None, ...]


@dataclass(frozen=True)
class SearchHit:
    repo_id: str
    downloads: int
    likes: int
    last_modified: datetime | None


@dataclass(frozen=True)
class Pulled:
    path: Path
    quant: str
    note: str | None  # said when the quant asked for was not there


def endpoint() -> str:
    return os.environ.get("HF_ENDPOINT", "https://huggingface.co").rstrip("/")


def _api() -> HfApi:
    return HfApi(endpoint=endpoint())


def _transport_errors() -> tuple[type[BaseException], ...]:
    """The HTTP client's network errors (huggingface_hub 2 uses httpx2, 1 used httpx)."""
    for module in ("httpx2", "httpx"):
        with contextlib.suppress(ImportError):
            client = __import__(module)
            return (client.TransportError,)
    return ()


@contextlib.contextmanager
def _explained(repo_id: str | None = None) -> Iterator[None]:
    """huggingface_hub's exceptions, as one sentence each."""
    what = f"hf.co/{repo_id}" if repo_id else "Hugging Face"
    try:
        yield
    except RepositoryNotFoundError:
        raise HubError(f"there is no model repository {repo_id} on Hugging Face "
                       "(or it is private: log in with `hf auth login`)") from None  # fmt: skip
    except GatedRepoError:
        raise HubError(f"{what} is gated: accept its terms on huggingface.co, then log in "
                       "with `hf auth login`") from None  # fmt: skip
    except (RevisionNotFoundError, EntryNotFoundError) as error:
        raise HubError(f"{what}: {error.args[0].splitlines()[-1]}") from None
    except OfflineModeIsEnabled:
        raise HubError("HF_HUB_OFFLINE is set, so Hugging Face cannot be reached") from None
    except HfHubHTTPError as error:
        status = error.response.status_code if error.response is not None else "?"
        raise HubError(f"Hugging Face answered {status} for {what}") from None
    except _transport_errors() as error:
        raise HubError(f"cannot reach Hugging Face at {endpoint()} ({error}); check the "
                       "network, or use the models already on this machine") from None  # fmt: skip
    except OSError as error:
        if error.errno == errno.ENOSPC:
            raise HubError(f"the disk holding {hub_cache()} is full") from None
        raise


def _check_reachable() -> None:
    """One quick request first: huggingface_hub retries a refused connection with backoff
    for about half a minute, which is no way to learn that the machine is offline."""
    if os.environ.get("HF_HUB_OFFLINE", "").lower() in ("1", "true", "yes", "on"):
        raise HubError("HF_HUB_OFFLINE is set, so Hugging Face cannot be reached")
    with _explained():
        get_session().head(endpoint(), timeout=10)


def repo_files(repo_id: str) -> list[QuantFile]:
    """The GGUF models in a repository (projectors aside, split parts grouped)."""
    _check_reachable()
    with _explained(repo_id):
        tree = list(_api().list_repo_tree(repo_id, recursive=True))
    files = {
        e.path: e for e in tree if isinstance(e, RepoFile) and e.path.lower().endswith(".gguf")
    }
    models = []
    for path in sorted(files):
        if is_projector(Path(path)) or is_later_split_part(Path(path)):
            continue
        parts = [path]
        if match := SPLIT.search(Path(path).stem):
            prefix = path[: len(path) - len(Path(path).name)] + Path(path).stem[: match.start()]
            parts = [f"{prefix}-{i:05d}-of-{match.group(2)}.gguf"
                     for i in range(1, int(match.group(2)) + 1)]  # fmt: skip
            if not all(p in files for p in parts):
                continue
        quant = quant_of(Path(path).stem) or Path(path).stem
        models.append(
            QuantFile(
                quant=quant,
                paths=tuple(parts),
                size=sum(files[p].size for p in parts),
                sha256=tuple(_sha256(files[p]) for p in parts),
            )
        )
    return models


def _sha256(file: RepoFile) -> str | None:
    return file.lfs.sha256 if file.lfs is not None else None


def choose(files: list[QuantFile], wanted: str | None) -> tuple[QuantFile, str | None]:
    """The file for quant `wanted` (default Q4_K_M), else the closest one, with a note."""
    target = (wanted or DEFAULT_QUANT).upper()
    for file in files:
        if file.quant.upper() == target:
            return file, None
    if not files:
        raise HubError("no GGUF files")

    def distance(file: QuantFile) -> tuple[int, int]:
        known = file.quant.upper() in ORDER and target in ORDER
        if not known:
            return (1, 0)
        return (0, abs(ORDER.index(file.quant.upper()) - ORDER.index(target)))

    best = min(files, key=distance)
    have = ", ".join(f.quant for f in files)
    return best, f"no {target} file; took {best.quant}, the closest of: {have}"


def pull(
    reference: str,
    *,
    progress: type[Any] | None = None,
    free_space: Callable[[Path], int] = lambda p: shutil.disk_usage(p).free,
    cancel: threading.Event | None = None,
) -> Pulled:
    """Download `hf.co/OWNER/REPO[:QUANT]` into the Hugging Face cache and verify it.

    `progress` is a tqdm class told of every block; setting `cancel` stops the download at
    the next block with PullCancelled (the partial file is kept, and the next pull resumes)."""
    if cancel is not None:
        progress = _cancellable(progress, cancel)
    try:
        repo_id, quant = parse_reference(reference)
    except LookupError as error:
        raise HubError(str(error)) from None
    files = repo_files(repo_id)
    if not files:
        raise HubError(f"hf.co/{repo_id} has no GGUF files: llmtui runs GGUF models only")
    chosen, note = choose(files, quant)
    cache = hub_cache()
    cache.mkdir(parents=True, exist_ok=True)
    if chosen.size > free_space(cache):
        raise HubError(
            f"not enough disk space for hf.co/{repo_id}:{chosen.quant}: it needs "
            f"{human_bytes(chosen.size)}, and {human_bytes(free_space(cache))} is free in {cache}"
        )
    paths = [
        _download(repo_id, filename, sha256, cache, progress)
        for filename, sha256 in zip(chosen.paths, chosen.sha256, strict=True)
    ]
    return Pulled(paths[0], chosen.quant, note)


def _cancellable(progress: type[Any] | None, cancel: threading.Event) -> type[Any]:
    base: type[Any] = progress or _Silent

    class Cancellable(base):  # type: ignore[misc]
        def update(self, n: float | None = 1) -> bool | None:
            if cancel.is_set():
                raise PullCancelled("pull cancelled; pulling it again resumes where it stopped")
            return super().update(n)  # type: ignore[no-any-return]

    return Cancellable


class _Silent(tqdm):  # type: ignore[type-arg]
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **{**kwargs, "disable": True})


def _download(
    repo_id: str, filename: str, sha256: str | None, cache: Path, progress: type[Any] | None
) -> Path:
    """One file into the cache, resumable across runs, verified before it is visible.

    huggingface_hub (2.x) deletes a partial download when it is interrupted, so llmtui
    fetches the blob itself into `<blob>.part` (kept on Ctrl+C, continued with a Range
    request next time), checks its sha256, renames it into place, and lets hf_hub_download
    link it into the snapshot (it sees the blob and downloads nothing)."""
    url = hf_hub_url(repo_id, filename, endpoint=endpoint())
    with _explained(repo_id):
        meta = get_hf_file_metadata(url, headers=build_hf_headers())
    etag = meta.etag or sha256 or hashlib.sha256(url.encode()).hexdigest()
    blob = cache / repo_folder_name(repo_id=repo_id, repo_type="model") / "blobs" / etag
    if not blob.exists():
        part = blob.with_name(f"{etag}.part")
        part.parent.mkdir(parents=True, exist_ok=True)
        done = part.stat().st_size if part.exists() else 0
        with open(part, "ab") as handle, _explained(repo_id):
            http_get(
                meta.location, handle, resume_size=done, headers=build_hf_headers(),
                expected_size=meta.size, displayed_filename=Path(filename).name,
                tqdm_class=progress,
            )  # fmt: skip
        if sha256:
            _verify(part, sha256, repo_id, filename)
        os.replace(part, blob)
    with _explained(repo_id):
        return Path(hf_hub_download(repo_id, filename, cache_dir=cache, endpoint=endpoint()))


def _verify(local: Path, expected: str, repo_id: str, filename: str) -> None:
    digest = hashlib.sha256()
    with open(local, "rb") as handle:
        while block := handle.read(1 << 20):
            digest.update(block)
    if digest.hexdigest() == expected:
        return
    local.unlink(missing_ok=True)
    raise HubError(
        f"{filename} from hf.co/{repo_id} does not match the hub's sha256 (expected "
        f"{expected[:12]}…, got {digest.hexdigest()[:12]}…); it was deleted, pull again"
    )


def search(query: str, limit: int = 20) -> list[SearchHit]:
    """GGUF repositories matching `query`, most downloaded first."""
    _check_reachable()
    with _explained():
        models = list(
            _api().list_models(filter="gguf", search=query, sort="downloads", limit=limit)
        )
    return [
        SearchHit(m.id, m.downloads or 0, m.likes or 0, getattr(m, "last_modified", None))
        for m in models
    ]
