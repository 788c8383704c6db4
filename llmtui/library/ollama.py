"""Models downloaded by Ollama, read in place (llmtui never writes to Ollama's store).

$OLLAMA_MODELS (else ~/.ollama/models)/
  manifests/<host>/<namespace>/<model>/<tag>   JSON: config + layers
  blobs/sha256-<hex>                           the layers' contents
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

from llmtui import files
from llmtui.engine.errors import OptionError
from llmtui.engine.options import coerce
from llmtui.library.found import Found

MODEL = "application/vnd.ollama.image.model"
PARAMS = "application/vnd.ollama.image.params"
SYSTEM = "application/vnd.ollama.image.system"
TEMPLATE = "application/vnd.ollama.image.template"
PROJECTOR = "application/vnd.ollama.image.projector"
DEFAULT_HOST = "registry.ollama.ai"


def root() -> Path:
    return Path(os.environ.get("OLLAMA_MODELS") or Path.home() / ".ollama" / "models")


def _name(host: str, namespace: str, model: str, tag: str) -> str:
    """As Ollama prints it: `llama3:8b`, `user/model:tag`, `hf.co/owner/repo:tag`."""
    if host == DEFAULT_HOST:
        prefix = "" if namespace == "library" else f"{namespace}/"
    else:
        prefix = f"{host}/{namespace}/"
    return f"{prefix}{model}:{tag}"


_DIGEST = re.compile(r"sha256:[0-9a-f]{64}")


def _blob(base: Path, digest: str) -> Path:
    return base / "blobs" / digest.replace(":", "-")


def _text(base: Path, layer: dict[str, Any]) -> str | None:
    try:
        return files.read_text(_blob(base, layer["digest"]))
    except (OSError, KeyError, UnicodeDecodeError):
        return None


def _options(base: Path, layer: dict[str, Any]) -> dict[str, Any]:
    """Ollama's params layer as engine options; what llmtui does not know is dropped."""
    try:
        raw = json.loads(_text(base, layer) or "{}")
    except ValueError:
        return {}
    options = {}
    for key, value in raw.items() if isinstance(raw, dict) else ():
        try:
            options[key] = coerce(key, value)
        except OptionError:
            continue
    return options


def scan(base: Path | None = None) -> tuple[list[Found], list[str]]:
    """The models in Ollama's store, and a sentence for each manifest that is unusable."""
    base = base or root()
    manifests = base / "manifests"
    found: list[Found] = []
    problems: list[str] = []
    if not manifests.is_dir():
        return found, problems
    for path in sorted(p for p in manifests.glob("*/*/*/*") if p.is_file()):
        host, namespace, model, tag = path.relative_to(manifests).parts
        name = _name(host, namespace, model, tag)
        try:
            manifest = json.loads(files.read_text(path))
            layers = {layer["mediaType"]: layer for layer in manifest["layers"]}
        except (OSError, ValueError, KeyError, TypeError) as error:
            problems.append(f"Ollama's manifest for {name} is unreadable ({error})")
            continue
        # A digest names a file in the blobs folder: anything but sha256:<64 hex> could name
        # any file (an absolute path, ../..), so that layer is skipped.
        bad = sorted(
            kind.rsplit(".", 1)[-1]
            for kind, layer in layers.items()
            if not (isinstance(layer, dict) and _DIGEST.fullmatch(str(layer.get("digest"))))
        )
        if bad:
            problems.append(
                f"Ollama's manifest for {name} has layers whose digest is not sha256:<64 hex> "
                f"({', '.join(bad)}): skipped them"
            )
            layers = {k: v for k, v in layers.items() if k.rsplit(".", 1)[-1] not in bad}
        if MODEL not in layers:
            continue  # not a GGUF model (an embedding-only or cloud model)
        digest = layers[MODEL]["digest"]
        found.append(
            Found(
                name=name,
                path=_blob(base, digest),
                source="ollama",
                digest=digest.removeprefix("sha256:"),
                options=_options(base, layers[PARAMS]) if PARAMS in layers else {},
                system=_text(base, layers[SYSTEM]) if SYSTEM in layers else None,
                template=_text(base, layers[TEMPLATE]) if TEMPLATE in layers else None,
                has_projector=PROJECTOR in layers,
            )
        )
    return found, problems
