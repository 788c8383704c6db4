"""A stand-in for the Hugging Face Hub on loopback, answering the routes huggingface_hub
uses to list, search and download: tests point HF_ENDPOINT at it.

It can misbehave on purpose: cut a transfer midway, stream slowly, or serve corrupt bytes.
"""

from __future__ import annotations

import hashlib
import json
import re
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlparse

COMMIT = "0123456789abcdef0123456789abcdef01234567"


@dataclass
class HubFile:
    path: Path

    def __post_init__(self) -> None:
        digest = hashlib.sha256()
        with open(self.path, "rb") as handle:
            while block := handle.read(1 << 20):
                digest.update(block)
        self.sha256 = digest.hexdigest()
        self.size = self.path.stat().st_size


@dataclass
class FakeHub:
    repos: dict[str, dict[str, Path]]
    downloads: dict[str, int] = field(default_factory=dict)
    cut: set[str] = field(default_factory=set)  # files whose first GET stops halfway
    corrupt: set[str] = field(default_factory=set)  # files served with one byte flipped
    slow: dict[str, int] = field(default_factory=dict)  # file -> bytes per second
    requests: list[tuple[str, str, str | None]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.files = {repo: {name: HubFile(p) for name, p in files.items()}
                      for repo, files in self.repos.items()}  # fmt: skip
        hub = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def do_HEAD(self) -> None:
                hub.serve(self, head=True)

            def do_GET(self) -> None:
                hub.serve(self, head=False)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    # -- routes -------------------------------------------------------------------------

    def serve(self, request: BaseHTTPRequestHandler, head: bool) -> None:
        url = urlparse(request.path)
        path = unquote(url.path)
        self.requests.append((request.command, path, request.headers.get("Range")))
        if match := re.fullmatch(r"/api/models/([^/]+/[^/]+)/tree/([^/]+)(/.*)?", path):
            self.tree(request, match.group(1))
        elif path == "/api/models":
            self.search(request, parse_qs(url.query))
        elif match := re.fullmatch(r"/([^/]+/[^/]+)/resolve/([^/]+)/(.+)", path):
            self.resolve(request, match.group(1), match.group(3), head)
        else:
            self.json(request, 404, {"error": "not found"})

    def json(self, request: BaseHTTPRequestHandler, status: int, body: object,
             headers: dict[str, str] | None = None) -> None:  # fmt: skip
        data = json.dumps(body).encode()
        request.send_response(status)
        request.send_header("Content-Type", "application/json")
        request.send_header("Content-Length", str(len(data)))
        for key, value in (headers or {}).items():
            request.send_header(key, value)
        request.end_headers()
        request.wfile.write(data)

    def missing_repo(self, request: BaseHTTPRequestHandler) -> None:
        self.json(
            request,
            404,
            {"error": "Repository not found"},
            {"X-Error-Code": "RepoNotFound", "X-Error-Message": "Repository not found"},
        )

    def tree(self, request: BaseHTTPRequestHandler, repo: str) -> None:
        if repo not in self.files:
            return self.missing_repo(request)
        entries = [
            {"type": "file", "path": name, "size": f.size, "oid": f.sha256[:40],
             "lfs": {"oid": f.sha256, "size": f.size, "pointerSize": 134}}
            for name, f in sorted(self.files[repo].items())
        ]  # fmt: skip
        self.json(request, 200, entries)

    def search(self, request: BaseHTTPRequestHandler, query: dict[str, list[str]]) -> None:
        words = query.get("search", [""])[0].lower()
        hits = [
            {"id": repo, "_id": repo, "downloads": self.downloads.get(repo, 0), "likes": 3,
             "lastModified": "2026-11-01T10:00:00.000Z", "tags": ["gguf"], "private": False}
            for repo in self.files
            if words in repo.lower() and any(n.endswith(".gguf") for n in self.files[repo])
        ]  # fmt: skip
        hits.sort(key=lambda h: -int(h["downloads"]))  # type: ignore[call-overload]
        self.json(request, 200, hits[: int(query.get("limit", ["20"])[0])])

    def resolve(self, request: BaseHTTPRequestHandler, repo: str, name: str, head: bool) -> None:
        if repo not in self.files:
            return self.missing_repo(request)
        file = self.files[repo].get(name)
        if file is None:
            return self.json(request, 404, {"error": "Entry not found"},
                             {"X-Error-Code": "EntryNotFound"})  # fmt: skip
        start = 0
        if (wanted := request.headers.get("Range")) and (m := re.match(r"bytes=(\d+)-", wanted)):
            start = int(m.group(1))
        request.send_response(206 if start else 200)
        request.send_header("X-Repo-Commit", COMMIT)
        request.send_header("ETag", f'"{file.sha256}"')
        request.send_header("X-Linked-Etag", f'"{file.sha256}"')
        request.send_header("X-Linked-Size", str(file.size))
        request.send_header("Accept-Ranges", "bytes")
        request.send_header("Content-Length", str(file.size - start))
        if start:
            request.send_header("Content-Range", f"bytes {start}-{file.size - 1}/{file.size}")
        request.end_headers()
        if head:
            return
        self.stream(request, file, name, start)

    def stream(self, request: BaseHTTPRequestHandler, file: HubFile, name: str, start: int) -> None:
        stop_at = file.size
        if name in self.cut:
            self.cut.discard(name)
            stop_at = start + (file.size - start) // 2
        rate = self.slow.get(name)
        with open(file.path, "rb") as handle:
            handle.seek(start)
            position = start
            while position < stop_at:
                block = handle.read(min(1 << 16, stop_at - position))
                if name in self.corrupt and position == start:
                    block = bytes([block[0] ^ 0xFF]) + block[1:]
                try:
                    request.wfile.write(block)
                except (BrokenPipeError, ConnectionResetError):
                    return
                position += len(block)
                if rate:
                    time.sleep(len(block) / rate)
        if stop_at < file.size:
            request.close_connection = True
            request.connection.shutdown(2)  # the client sees the body end early
