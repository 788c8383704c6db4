"""The engine: every loaded model, each on its own thread, behind one small API.

The CLI, the HTTP server and the TUI all go through `Engine`; none of them touches llama.cpp.
"""

from __future__ import annotations

import contextlib
import os
import re
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import llama_cpp

from llmtui import errorlog, paths
from llmtui.engine import system
from llmtui.engine import threadpool as threadpool_api
from llmtui.engine.events import Event
from llmtui.engine.llamalog import LOG
from llmtui.engine.loaded import DEFAULT_KEEP_ALIVE, LoadedModel
from llmtui.engine.message import Message, PromptTemplate, Tool
from llmtui.engine.native import SharedThread, openmp_build, run_inline
from llmtui.engine.options import (
    DEFAULTS,
    Options,
    check_parallel,
    environment_options,
    environment_parallel,
)
from llmtui.engine.request import Job, RequestHandle
from llmtui.engine.spec import ModelSpec
from llmtui.engine.tools import ToolError, call_grammar
from llmtui.engine.worker import ModelWorker


def detect_backend() -> str:
    """CPU, or the GPU backend this llama-cpp-python build offloads to."""
    if not llama_cpp.llama_supports_gpu_offload():
        return "CPU"
    info = llama_cpp.llama_print_system_info().decode("utf-8", errors="replace")
    for name in ("CUDA", "Metal", "Vulkan", "ROCm", "HIP", "SYCL", "MUSA", "CANN", "OpenCL"):
        if re.search(rf"\b{name}\b", info, re.IGNORECASE):
            return name
    return "GPU"


class Engine:
    """Loads models on demand and runs requests on their owner threads."""

    def __init__(
        self,
        *,
        log_path: Path | None = None,
        check_memory: bool = True,
        available_memory: Callable[[], int] | None = None,
        shared_thread: bool | None = None,
        threadpool: bool | None = None,
        probe_loads: bool = True,
        parallel: int | None = None,
    ) -> None:
        LOG.install(log_path or paths.llama_log_path())
        errorlog.install()
        self.check_memory = check_memory
        # A file's first load is a test load in a child process (probe.py): llama.cpp dying
        # on a file no check could refuse then costs the child, not this process.
        self.probe_loads = probe_loads
        self.available_memory = available_memory or system.available_memory
        # Ollama's defaults, then its environment variables (OLLAMA_KV_CACHE_TYPE...); a
        # request's options (a chat session lays the settings' [parameters], the model's
        # Modelfile and /set in them) come over these.
        self.defaults: Options = DEFAULTS.merged(environment_options(os.environ))
        # Requests each model answers at once (worker.py), the rest queued: 1 unless asked
        # (each costs a KV cache of num_ctx); 0 is as many as fit, up to 4.
        if parallel is None:
            parallel = environment_parallel(os.environ)
        self.parallel = 1 if parallel is None else check_parallel(parallel)
        self.backend = detect_backend()
        # Where llama.cpp's work runs (see native.py): the caller's thread (each model's),
        # or one thread shared by all models, by default on an OpenMP build.
        self.openmp = openmp_build()
        shared = self.openmp if shared_thread is None else shared_thread
        self._shared = SharedThread() if shared else None
        self.shared_thread = shared
        self.run_native = self._shared.call if self._shared else run_inline
        # A persistent llama.cpp threadpool per model (threadpool.py); an OpenMP build has its
        # own team instead.
        usable = threadpool_api.available() and not self.openmp
        self.threadpool = usable if threadpool is None else threadpool and usable
        # llama.cpp's load logs are parsed per load, so loads take turns.
        self.load_lock = threading.Lock()
        self._lock = threading.Lock()
        self._workers: dict[str, ModelWorker] = {}
        self._threads: list[threading.Thread] = []  # every model thread started, until it ends
        self._generating: set[ModelWorker] = set()

    # -- sharing the cores ----------------------------------------------------------------

    @contextlib.contextmanager
    def generating(self, worker: ModelWorker) -> Iterator[None]:
        """While `worker` evaluates a prompt or generates, it counts against the cores."""
        with self._lock:
            self._generating.add(worker)
        try:
            yield
        finally:
            with self._lock:
                self._generating.discard(worker)

    def core_share(self) -> int:
        """The most threads each generating model may use: every core for one, an equal
        share for several (on the shared thread of an OpenMP build they take turns)."""
        cores = system.physical_cores()
        if self.shared_thread:
            return cores
        return max(1, cores // max(1, len(self._generating)))

    def runnable_elsewhere(self, worker: ModelWorker, starting: bool) -> int | None:
        """Runnable threads on the machine that compete with `worker`'s. At the start of a
        request, those of other processes (the face that handed the request on is running
        at that moment, but only for a moment); while it generates, all but the generating
        models' own (the workbench's UI thread counts then: it takes a core while it
        paints)."""
        running = system.runnable_tasks()
        if running is None:
            return None
        if starting:
            here = system.runnable_threads_here()
            return None if here is None else max(0, running - here)
        with self._lock:
            own = sum(w.threads_now() for w in self._generating)
        return max(0, running - own)

    # -- requests -----------------------------------------------------------------------

    def chat(
        self,
        spec: ModelSpec,
        messages: Sequence[Message],
        options: Mapping[str, Any] | None = None,
        *,
        keep_alive: float = DEFAULT_KEEP_ALIVE,
        on_event: Callable[[Event], None] | None = None,
        watch: Callable[[Event], None] | None = None,
        ignore_eos: bool = False,
        grammar: str | None = None,
        tools: Sequence[Tool] = (),
        tool_choice: str = "auto",
        template: PromptTemplate | None = None,
        context: Sequence[int] | None = None,
    ) -> RequestHandle:
        """Answer the last message of a conversation, through the model's chat template.

        With `tools`, the model may call them: its calls come back in `Done.tool_calls`.
        `tool_choice` is "auto" (the model chooses), "none" (no tools), "required" (a call
        to one of them) or a tool's name (a call to it): the last two by grammar, so that
        even a small model writes a well-formed call. `template` replaces the model's for
        this request; `context` is Ollama's (see `generate`)."""
        forced = bool(tools) and tool_choice not in ("auto", "none")
        if forced:
            if grammar is not None:
                raise ToolError("a forced tool call and a format cannot be asked together")
            grammar = call_grammar(tools, None if tool_choice == "required" else tool_choice)
        return self._submit(
            Job(
                spec,
                self.options_for(spec, options),
                messages=tuple(messages),
                keep_alive=keep_alive,
                ignore_eos=ignore_eos,
                grammar=grammar,
                tools=() if tool_choice == "none" else tuple(tools),
                forced=forced,
                template=template,
                context=None if context is None else tuple(context),
            ),
            on_event,
            watch,
        )

    def generate(
        self,
        spec: ModelSpec,
        prompt: str,
        options: Mapping[str, Any] | None = None,
        *,
        keep_alive: float = DEFAULT_KEEP_ALIVE,
        on_event: Callable[[Event], None] | None = None,
        watch: Callable[[Event], None] | None = None,
        ignore_eos: bool = False,
        grammar: str | None = None,
        context: Sequence[int] | None = None,
    ) -> RequestHandle:
        """Continue `prompt` as plain text (no chat template). With `context` (the tokens
        an earlier answer's `Done.context` gave), the prompt continues those tokens, and
        this answer's `Done.context` is given in turn."""
        return self._submit(
            Job(
                spec,
                self.options_for(spec, options),
                prompt=prompt,
                keep_alive=keep_alive,
                ignore_eos=ignore_eos,
                grammar=grammar,
                context=None if context is None else tuple(context),
            ),
            on_event,
            watch,
        )

    def embed(
        self,
        spec: ModelSpec,
        texts: Sequence[str],
        options: Mapping[str, Any] | None = None,
        *,
        keep_alive: float = DEFAULT_KEEP_ALIVE,
        truncate: bool = True,
        on_event: Callable[[Event], None] | None = None,
    ) -> RequestHandle:
        """Each text's embedding (its `Done` carries them), on a context of their own:
        the model's chat cache is left as it was."""
        job = Job(spec, self.options_for(spec, options), texts=tuple(texts),
                  keep_alive=keep_alive, truncate=truncate)  # fmt: skip
        return self._submit(job, on_event)

    def load(
        self,
        spec: ModelSpec,
        options: Mapping[str, Any] | None = None,
        *,
        keep_alive: float = DEFAULT_KEEP_ALIVE,
        on_event: Callable[[Event], None] | None = None,
    ) -> RequestHandle:
        """Load `spec` (if it is not loaded with these options) and generate nothing."""
        return self._submit(
            Job(spec, self.options_for(spec, options), keep_alive=keep_alive), on_event
        )

    def options_for(self, spec: ModelSpec, options: Mapping[str, Any] | None) -> Options:
        """Defaults, then the model's own (Modelfile) options, then the request's."""
        return self.defaults.merged(spec.options).merged(options)

    # -- models in memory ---------------------------------------------------------------

    def loaded(self) -> list[LoadedModel]:
        with self._lock:
            workers = list(self._workers.values())
        models = []
        for worker in workers:
            state = worker.loaded
            if state is None:
                continue
            models.append(
                LoadedModel(
                    name=worker.name,
                    path=Path(state.header.path),
                    size=state.header.data_size + state.kv_cache_size,
                    context_size=state.n_ctx,
                    backend=state.backend,
                    gpu_layers=state.gpu_layers,
                    layers=state.layers,
                    expires_at=None if worker.busy else worker.expires_at,
                    parallel=state.parallel,
                )
            )
        return models

    def unload(self, name: str) -> bool:
        """Unload `name` once its current request ends; False if it was not loaded."""
        with self._lock:
            worker = self._workers.get(name)
            if worker is None:
                return False
            worker.request_unload()
            return True

    def make_room(self, needed: int, keep: ModelWorker, timeout: float = 30.0) -> bool:
        """Unload idle models, the one idle longest first, until `needed` bytes are
        available (as Ollama evicts to load another); whether they are. A model answering
        a request, or with one waiting, stays."""
        if self.shared_thread:
            # Models take turns on one thread there: this load holds it, and the unload it
            # would wait for needs it.
            return False
        with self._lock:
            idle = [w for w in self._workers.values()
                    if w is not keep and w.loaded is not None and w.idle()]  # fmt: skip
        sizes = {w: w.loaded.header.data_size + w.loaded.kv_cache_size
                 for w in idle if w.loaded is not None}  # fmt: skip
        if self.available_memory() + sum(sizes.values()) < needed:
            return False  # not even all of them: unloading would lose them for nothing
        # The soonest to expire was used longest ago (all keep_alive alike).
        idle.sort(key=lambda worker: worker.expires_at or 0.0)
        for worker in idle:
            if self.available_memory() >= needed:
                break
            worker.request_unload()
            worker.thread.join(timeout)  # its thread ends once the model is unloaded
        return self.available_memory() >= needed

    def wait_unloaded(self, name: str, timeout: float = 30.0) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                worker = self._workers.get(name)
            if worker is None:
                return True
            worker.thread.join(timeout=0.05)
        return False

    def close(self) -> None:
        """Cancel nothing, unload everything: each model finishes its request, then stops."""
        with self._lock:
            workers = list(self._workers.values())
            threads = list(self._threads)
        for worker in workers:
            worker.stop()
        # Every model thread, also one whose keep-alive just ran out: it has left the
        # registry but may still be freeing its model, and a process that exits meanwhile
        # dies in llama.cpp ("terminate called without an active exception", exit 134).
        for thread in threads:
            thread.join()
        if self._shared is not None:
            self._shared.close()

    # -- the workers' side --------------------------------------------------------------

    def _submit(
        self,
        job: Job,
        on_event: Callable[[Event], None] | None,
        watch: Callable[[Event], None] | None = None,
    ) -> RequestHandle:
        handle = RequestHandle(job, on_event, watch)
        with self._lock:
            worker = self._workers.get(job.spec.name)
            if worker is None or worker.retired:
                worker = ModelWorker(job.spec.name, self)
                self._workers[job.spec.name] = worker
                self._threads = [t for t in self._threads if t.is_alive()]
                self._threads.append(worker.thread)
                worker.thread.start()
            worker.submit(handle)
        return handle

    def retire(self, worker: ModelWorker, force: bool = False) -> bool:
        """Called by a worker whose keep-alive ran out: leave the registry, unless a request
        arrived meanwhile. Under the same lock as `_submit`, so none is lost."""
        with self._lock:
            if not force and not worker.idle():
                return False
            worker.retired = True
            if self._workers.get(worker.name) is worker:
                del self._workers[worker.name]
            return True
