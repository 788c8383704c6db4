"""A persistent llama.cpp threadpool for each loaded model, as llama-bench keeps one.

Without one, llama.cpp's CPU backend (built without OpenMP) starts and joins its worker
threads for every graph it computes: every token. A pool attached to the context keeps them;
between two graphs they spin for a while (the poll level) and then sleep. The engine pauses
a model's pool when its request ends, so a loaded, idle model's threads sleep at once instead
of spinning (its next decode wakes them).

llama-cpp-python does not bind these functions; they are llama.cpp's public C API
(`ggml-cpu.h`, `llama.h`), called here through ctypes. A build where they are not found (the
CPU backend loaded as a plugin, an OpenMP build, which uses its own team) runs without a pool.
"""

from __future__ import annotations

import ctypes
import functools
import logging

import llama_cpp
from llama_cpp import llama_cpp as bindings

log = logging.getLogger(__name__)

_MAX_THREADS = 512  # GGML_MAX_N_THREADS
# How long pool threads spin for the next graph before they sleep, on llama.cpp's scale of
# 0-100 (llama-bench's default, 50, is 6.5 M pause instructions: longer than the engine's
# own work between two tokens, so a generating model's threads never sleep). Measured with
# the engine, 256 greedy tokens, 8 rounds: 50 streamed 1.024x as fast as no pool, 0 and 1
# 1.006x and 0.993x. The engine pauses the pool at the end of each request, so an idle
# model never spins.
POLL = 50


class _Params(ctypes.Structure):
    _fields_ = [
        ("cpumask", ctypes.c_bool * _MAX_THREADS),
        ("n_threads", ctypes.c_int),
        ("prio", ctypes.c_int),
        ("poll", ctypes.c_uint32),
        ("strict_cpu", ctypes.c_bool),
        ("paused", ctypes.c_bool),
    ]


class _Api:
    def __init__(self, lib: ctypes.CDLL) -> None:
        self.params_init = lib.ggml_threadpool_params_init
        self.params_init.argtypes = [ctypes.POINTER(_Params), ctypes.c_int]
        self.params_init.restype = None
        self.new = lib.ggml_threadpool_new
        self.new.argtypes = [ctypes.POINTER(_Params)]
        self.new.restype = ctypes.c_void_p
        self.free = lib.ggml_threadpool_free
        self.pause = lib.ggml_threadpool_pause
        self.resume = lib.ggml_threadpool_resume
        for call in (self.free, self.pause, self.resume):
            call.argtypes = [ctypes.c_void_p]
            call.restype = None
        self.attach = lib.llama_attach_threadpool
        self.attach.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_void_p]
        self.attach.restype = None
        self.detach = lib.llama_detach_threadpool
        self.detach.argtypes = [ctypes.c_void_p]
        self.detach.restype = None


@functools.cache
def _api() -> _Api | None:
    try:
        # Looked up through libllama, whose dependencies hold ggml's CPU backend.
        return _Api(bindings._lib)
    except AttributeError as error:
        log.info("no llama.cpp threadpool API here (%s): llama.cpp starts threads per graph", error)
        return None


def available() -> bool:
    return _api() is not None


class ThreadPool:
    """A pool of `threads` threads (the calling thread is one of them) for one context."""

    def __init__(self, threads: int, poll: int = POLL) -> None:
        api = _api()
        assert api is not None
        self._api = api
        params = _Params()
        api.params_init(ctypes.byref(params), threads)
        params.poll = poll
        handle = api.new(ctypes.byref(params))
        if not handle:
            raise OSError(f"llama.cpp could not start a threadpool of {threads} threads")
        self._handle: int | None = handle
        self._ctx: llama_cpp.llama_context_p | None = None
        self.threads = threads

    def attach(self, ctx: llama_cpp.llama_context_p) -> None:
        self._api.attach(ctx, self._handle, self._handle)
        self._ctx = ctx

    def pause(self) -> None:
        """Put the threads to sleep now rather than after their poll; the next graph the
        context computes wakes them."""
        if self._handle is not None:
            self._api.pause(self._handle)

    def detach(self) -> None:
        """Before the context is freed."""
        if self._ctx is not None:
            self._api.detach(self._ctx)
            self._ctx = None

    def free(self) -> None:
        """After the context is freed (or detached)."""
        if self._handle is not None:
            self._api.free(self._handle)
            self._handle = None
