"""Remote engines: the library's listing with a remote that is down, and the tokens/s a
remote chat shows against the server's own figures.

A remote "down" here is the worst kind: a port that accepts the connection and never
answers (a hung server, or a firewall that drops replies), so only the listing's deadline
ends the wait. Each round lists three ways in a home of its own: no remotes; the stalled
remote, asked (the cache emptied); and again, answered from the cache. Goal: a remote down
costs the listing no more than 0.5 s.

Then a `llmtui serve` on loopback, asked greedy prompts through both of its faces as
remotes. The Ollama face's tokens/s are the server's own figures, shown as they are. The
OpenAI face gives only token counts, so llmtui times the stream itself; how well that
timing agrees with the server is measured on one stream: the Ollama face's, timed here as
the OpenAI face's would be, against the server's own figure for that very stream (goal:
within 5%); and, noisier, the OpenAI face's against the server's figure for the same answer
asked again.

    python bench/remotes.py [--rounds 5]
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
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
    hung.close()
    return shown_against_own(args.rounds)


def shown_against_own(rounds: int) -> int:
    import httpx

    from llmtui.engine import Chunk, Event, Message
    from llmtui.library import find
    from llmtui.remote import config
    from llmtui.remote.config import Remote
    from llmtui.remote.engine import RemoteEngine

    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    server = subprocess.Popen([sys.executable, "-m", "llmtui", "serve", "--port", str(port)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                httpx.get(url, timeout=1)
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline, "llmtui serve did not start"
                time.sleep(0.2)
        config.add(Remote("ol", "ollama", url), replace=True)
        config.add(Remote("oa", "openai", f"{url}/v1"), replace=True)
        engine = RemoteEngine()
        options = {"temperature": 0, "num_predict": 200}
        prompts = ["Write a short story about a lighthouse.", "Explain how rain forms."]
        engine.chat(find("ol/smollm2:135m").spec(), [Message("user", "Hi")]).wait(120)
        ollama, same, openai = [], [], []
        for _ in range(rounds):
            for prompt in prompts:
                asked = [Message("user", prompt)]
                arrived: list[int] = []

                def stamp(event: Event, arrived: list[int] = arrived) -> None:
                    if isinstance(event, Chunk) and event.text:
                        arrived.append(time.perf_counter_ns())

                own = engine.chat(find("ol/smollm2:135m").spec(), asked, options,
                                  on_event=stamp).wait(300)  # fmt: skip
                ollama.append(own.eval_rate)
                timed_here = (len(arrived) - 1) / ((arrived[-1] - arrived[0]) / 1e9)
                same.append(timed_here / own.eval_rate)
                timed = engine.chat(find("oa/smollm2:135m").spec(), asked, options).wait(300)
                # The server's own figure for this very answer (greedy: the same tokens).
                again = httpx.post(f"{url}/api/chat", timeout=300, json={
                    "model": "smollm2:135m", "stream": False, "options": options,
                    "messages": [{"role": "user", "content": prompt}]}).json()  # fmt: skip
                server_rate = again["eval_count"] / (again["eval_duration"] / 1e9)
                openai.append(timed.eval_rate / server_rate)
        print(f"remote chat, Ollama's API: tokens/s shown are the server's own "
              f"(median {statistics.median(ollama):.1f} tok/s): 1.00")  # fmt: skip
        print(
            f"one stream timed here / the server's own figure for it: "
            f"{statistics.median(same):.3f} ({min(same):.3f}-{max(same):.3f}; goal within 5%)"
        )
        print(f"remote chat, OpenAI's API: tokens/s timed here / the server's own for the "
              f"same answer asked again: {statistics.median(openai):.3f} "
              f"({min(openai):.3f}-{max(openai):.3f})")  # fmt: skip
    finally:
        server.terminate()
        server.wait(30)
    return 0


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


if __name__ == "__main__":
    sys.exit(main())
