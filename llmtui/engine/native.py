"""Where llama.cpp's work runs: on each model's own thread, or, on an OpenMP build, all of
it on one thread.

llama.cpp's CPU backend built with OpenMP gives each OS thread that computes a graph its
own OpenMP team of worker threads, kept for the thread's life. With two models loaded (one
idle) the process holds more OpenMP threads than cores, libgomp then throttles its
spin-waits, and every barrier of every decode sleeps: the busy model ran at 0.34x its speed
here. One thread for all models means one team, so a loaded, idle model costs nothing; the
price is that two models' requests take turns instead of running at once, which on a CPU
they would mostly do anyway (each decode already uses every core). Builds without OpenMP
(llama.cpp's own threadpool, which `make` builds) keep a thread per model.
"""

from __future__ import annotations

import functools
import queue
import re
import threading
from collections.abc import Callable
from concurrent.futures import Future
from typing import TypeVar

import llama_cpp

T = TypeVar("T")


@functools.cache
def openmp_build() -> bool:
    """Whether this llama.cpp's CPU backend was built with OpenMP (it lists the feature)."""
    info = llama_cpp.llama_print_system_info().decode("utf-8", errors="replace")
    return re.search(r"\bOPENMP\s*=\s*1\b", info) is not None


class SharedThread:
    """One thread that runs, in turn, what the model threads hand it."""

    def __init__(self) -> None:
        self._queue: queue.SimpleQueue[tuple[Callable[[], object], Future[object]] | None] = (
            queue.SimpleQueue()
        )
        self._thread = threading.Thread(target=self._run, name="llmtui-llama.cpp", daemon=True)
        self._thread.start()

    def call(self, work: Callable[[], T]) -> T:
        """Run `work` on the shared thread and return what it returns (or raise what it
        raises); from the shared thread itself, run it at once."""
        if threading.current_thread() is self._thread:
            return work()
        future: Future[object] = Future()
        self._queue.put((work, future))
        return future.result()  # type: ignore[return-value]

    def close(self) -> None:
        self._queue.put(None)
        self._thread.join()

    def _run(self) -> None:
        while (item := self._queue.get()) is not None:
            work, future = item
            try:
                future.set_result(work())
            except BaseException as error:  # handed back to the caller, who raises it
                future.set_exception(error)


def run_inline(work: Callable[[], T]) -> T:
    return work()
