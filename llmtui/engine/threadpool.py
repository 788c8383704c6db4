"""Persistent llama.cpp threadpools for each loaded model, as llama-bench keeps one.

Without one, llama.cpp's CPU backend (built without OpenMP) starts and joins its worker
threads for every graph it computes: every token. A pool attached to the context keeps them;
between two graphs they spin for a while (the poll level) and then sleep. A model has a pool
per thread count the tuner has used (a pool's workers above the count in force would keep
spinning for their poll, on the cores another process needs); switching pools pauses the
one left. The engine pauses a model's pool when its request ends, so a loaded, idle model's
threads sleep at once instead of spinning (its next decode wakes them).

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
        for call in (self.free, self.pause):
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


class _Pool:
    def __init__(self, api: _Api, threads: int, poll: int) -> None:
        params = _Params()
        api.params_init(ctypes.byref(params), threads)
        params.poll = poll
        handle = api.new(ctypes.byref(params))
        if not handle:
            raise OSError(f"llama.cpp could not start a threadpool of {threads} threads")
        self.handle: int = handle


class ContextThreads:
    """The threads that compute one context's graphs: how many, and (where `pooled`) a pool
    for each count in use, started the first time that count is used and kept until `free`.
    One thread needs no pool: the calling thread computes alone."""

    def __init__(self, ctx: llama_cpp.llama_context_p, pooled: bool, poll: int = POLL) -> None:
        self._ctx = ctx
        self._api = _api() if pooled else None
        self._poll = poll
        self._pools: dict[int, _Pool] = {}
        self._attached: _Pool | None = None
        self.count = 0

    def use(self, count: int) -> None:
        """Compute the next graphs on `count` threads (the pool left behind is paused)."""
        if count == self.count:
            return
        llama_cpp.llama_set_n_threads(self._ctx, count, count)
        self.count = count
        if self._api is None:
            return
        pool = None
        if count > 1:
            pool = self._pools.get(count)
            if pool is None:
                try:
                    pool = self._pools[count] = _Pool(self._api, count, self._poll)
                except OSError as error:  # llama.cpp then starts threads per graph
                    log.warning("%s", error)
        if pool is self._attached:
            return
        if self._attached is not None:
            self._api.pause(self._attached.handle)
        if pool is None:
            self._api.detach(self._ctx)
        else:
            self._api.attach(self._ctx, pool.handle, pool.handle)
        self._attached = pool

    def pause(self) -> None:
        """Put the threads to sleep now rather than after their poll; the next graph the
        context computes wakes them."""
        if self._api is not None and self._attached is not None:
            self._api.pause(self._attached.handle)

    def detach(self) -> None:
        """Before the context is freed."""
        if self._api is not None and self._attached is not None:
            self._api.detach(self._ctx)
            self._attached = None

    def free(self) -> None:
        """After the context is freed (or detached)."""
        if self._api is not None:
            for pool in self._pools.values():
                self._api.free(pool.handle)
        self._pools.clear()
