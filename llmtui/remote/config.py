"""The remotes the user named: `remotes.toml` in the config dir, llmtui's own file.

A file of its own rather than `[[remote]]` tables in settings.toml: `llmtui remote add` and
`rm` rewrite it whole (tomli_w writes TOML but keeps no comments), and settings.toml is the
user's, which llmtui never rewrites. It may be edited by hand all the same:

    [[remote]]
    name = "team"                   # models are then team/MODEL
    kind = "ollama"                 # or "openai" (an OpenAI-compatible server)
    url = "http://gpu-box:11434"    # an OpenAI-compatible one's ends with /v1
    key_env = "TEAM_API_KEY"        # the variable that holds its key (never the key)
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import asdict, dataclass
from pathlib import Path
from urllib.parse import urlsplit

import tomli_w

from llmtui import atomic, paths

KINDS = ("ollama", "openai")
_NAME = re.compile(r"[a-z0-9][a-z0-9_-]{0,31}")
_VARIABLE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


class RemoteError(ValueError):
    """A remote that cannot be named, added or found: one line."""


@dataclass(frozen=True)
class Remote:
    name: str
    kind: str
    url: str
    key_env: str | None = None


def remotes_path() -> Path:
    return paths.config_dir() / "remotes.toml"


def checked(name: str, kind: str, url: str, key_env: str | None) -> Remote:
    """A remote from what a user wrote, or RemoteError saying what is wrong."""
    if not _NAME.fullmatch(name):
        raise RemoteError(f"a remote's name is lower-case letters, digits, - and _ (at most "
                          f"32; its models are NAME/MODEL), not {name!r}")  # fmt: skip
    if kind not in KINDS:
        raise RemoteError(f"a remote's kind is ollama or openai, not {kind!r}")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise RemoteError(f"a remote's URL is http://HOST[:PORT][/PATH] or https://..., "
                          f"not {url!r}")  # fmt: skip
    if key_env is not None and not _VARIABLE.fullmatch(key_env):
        raise RemoteError(f"--key-env names an environment variable (the key stays in it), "
                          f"not {key_env!r}")  # fmt: skip
    return Remote(name, kind, url.rstrip("/"), key_env)


def load(path: Path | None = None) -> tuple[list[Remote], list[str]]:
    """The remotes, and a sentence for each entry (or file) that could not be used."""
    path = path or remotes_path()
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return [], []
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as error:
        return [], [f"{path} could not be read ({error}); no remotes used"]
    entries = data.get("remote", [])
    if not isinstance(entries, list):
        return [], [f"{path}: remote must be a list of [[remote]] tables"]
    remotes: list[Remote] = []
    problems = []
    for number, entry in enumerate(entries, 1):
        try:
            if not isinstance(entry, dict):
                raise RemoteError("not a table")
            key_env = entry.get("key_env")
            fields = (entry.get("name"), entry.get("kind", "ollama"), entry.get("url"))
            if not all(isinstance(f, str) for f in fields) or not isinstance(key_env, str | None):
                raise RemoteError("name, kind, url and key_env are strings")
            remote = checked(*fields, key_env)  # type: ignore[arg-type]
            if any(r.name == remote.name for r in remotes):
                raise RemoteError(f"{remote.name} is named twice")
            remotes.append(remote)
        except RemoteError as error:
            problems.append(f"{path}: remote {number} ignored: {error}")
    return remotes, problems


def find(name: str) -> Remote | None:
    return next((r for r in load()[0] if r.name == name), None)


def _writable() -> list[Remote]:
    """The remotes, if rewriting the file loses nothing the user wrote."""
    remotes, problems = load()
    if problems:
        raise RemoteError(f"{problems[0]}; fix it by hand first (llmtui rewrites the file whole)")
    return remotes


def _save(remotes: list[Remote]) -> None:
    tables = [{k: v for k, v in asdict(r).items() if v is not None} for r in remotes]
    atomic.write_text(remotes_path(), tomli_w.dumps({"remote": tables}))


def add(remote: Remote, replace: bool = False) -> None:
    remotes = _writable()
    if any(r.name == remote.name for r in remotes) and not replace:
        raise RemoteError(f"there is a remote {remote.name} already (llmtui remote rm "
                          f"{remote.name} first, or --replace)")  # fmt: skip
    _save([r for r in remotes if r.name != remote.name] + [remote])


def remove(name: str) -> Remote:
    remotes = _writable()
    gone = next((r for r in remotes if r.name == name), None)
    if gone is None:
        raise RemoteError(f"no remote named {name!r} (llmtui remote list shows them)")
    _save([r for r in remotes if r.name != name])
    return gone
