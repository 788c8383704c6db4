"""The library's listing with a remote that is down, against the same listing without remotes.

A remote "down" here is the worst kind: a port that accepts the connection and never
answers (a hung server, or a firewall that drops replies), so only the listing's deadline
ends the wait. Each round lists three ways in a home of its own: no remotes; the stalled
remote, asked (the cache emptied); and again, answered from the cache. Goal: a remote down
costs the listing no more than 0.5 s.

    python bench/remotes.py [--rounds 5]
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import sys
import tempfile
import time


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    home = tempfile.TemporaryDirectory(prefix="llmtui-bench-", ignore_cleanup_errors=True)
    os.environ["LLMTUI_HOME"] = home.name
    from llmtui.library import list_models
    from llmtui.library.remotes import _cache_path, served_models
    from llmtui.remote import config
    from llmtui.remote.config import Remote

    hung = socket.socket()
    hung.bind(("127.0.0.1", 0))
    hung.listen(16)  # connections wait in the backlog, never accepted, never answered

    def listing() -> tuple[float, int, list[str]]:
        problems: list[str] = []
        began = time.perf_counter()
        models = list_models(problems) + served_models(problems)
        return time.perf_counter() - began, len(models), problems

    listing()  # metadata cache warm, imports done
    plain, asked, cached = [], [], []
    for _ in range(args.rounds):
        config.remotes_path().unlink(missing_ok=True)
        took, count, _ = listing()
        plain.append(took)
        config.add(Remote("hung", "ollama", f"http://127.0.0.1:{hung.getsockname()[1]}"))
        _cache_path().unlink(missing_ok=True)
        took, with_remote, problems = listing()
        asked.append(took)
        assert with_remote == count and problems, "the local models, and the remote said"
        took, _, _ = listing()
        cached.append(took)
    base, down, again = (statistics.median(x) * 1000 for x in (plain, asked, cached))
    print(f"listing without remotes {base:.0f} ms; with one remote down {down:.0f} ms "
          f"(+{down - base:.0f} ms, goal <= +500 ms); again within 30 s, from the cache "
          f"{again:.0f} ms (+{again - base:.0f} ms)")  # fmt: skip
    print(f"  said: {problems[0]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
