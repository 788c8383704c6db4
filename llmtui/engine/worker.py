"""The owner thread of one loaded model.

It alone touches its `Llama`: it takes requests from a queue, one at a time, and reports
through each request's handle. Generation is llmtui's own decode loop on llama.cpp's C API:
one decode, one sample and one detokenised piece per token (llama-cpp-python's streaming
re-detokenises the whole reply at every token, slowing as the reply grows), with the KV cache
kept between requests so a conversation's next turn only evaluates its new tokens.
"""

from __future__ import annotations

import contextlib
import io
import logging
import queue
import threading
import time
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import llama_cpp
from llama_cpp import Llama

from llmtui.engine import memory, probe
from llmtui.engine.detok import Detokenizer, StopMatcher
from llmtui.engine.embedding import Embedder
from llmtui.engine.errors import (
    ContextOverflow,
    EngineError,
    MemoryRefused,
    ModelLoadError,
    OptionError,
)
from llmtui.engine.events import Chunk, Done, LiveStats, Notice, Perf
from llmtui.engine.gguf import GGUFHeader, check_adapter, read_header
from llmtui.engine.llamalog import LOG
from llmtui.engine.message import Message, PromptTemplate, RenderedPrompt, ToolCall
from llmtui.engine.options import Options
from llmtui.engine.prompt import TemplatePrompt, TranscriptPrompt
from llmtui.engine.request import Job, RequestHandle
from llmtui.engine.sampler import Sampler
from llmtui.engine.spec import ModelSpec
from llmtui.engine.system import physical_cores, rss_bytes
from llmtui.engine.threadpool import ContextThreads
from llmtui.engine.tools import CallReader, ToolError, call_prefix
from llmtui.engine.tuner import ThreadTuner

if TYPE_CHECKING:
    from llmtui.engine.engine import Engine

log = logging.getLogger(__name__)

LOG_HINT = "llmtui.log in the state dir"
_CACHE_TYPES = {
    "f16": llama_cpp.GGML_TYPE_F16,
    "q8_0": llama_cpp.GGML_TYPE_Q8_0,
    "q4_0": llama_cpp.GGML_TYPE_Q4_0,
}
_UNLOAD = "unload"
_STOP = "stop"
_STATS_INTERVAL_NS = 100_000_000  # live stats at most ten times a second
_RATE_WINDOW = 32  # tokens over which the live tokens/s is measured


class _StderrToLog(io.TextIOBase):
    """llama-cpp-python's own Python prints while loading, sent to llama.cpp's log file."""

    def write(self, text: str) -> int:
        LOG.write(text.encode("utf-8", errors="replace"))
        return len(text)


@dataclass
class _Loaded:
    llm: Llama
    header: GGUFHeader
    identity: tuple[object, ...]
    load_key: tuple[object, ...]
    ctx: llama_cpp.llama_context_p
    vocab: llama_cpp.llama_vocab_p
    n_ctx: int
    n_vocab: int
    prompt: PromptTemplate
    load_duration: int
    backend: str
    shared_thread: bool
    gpu_layers: int
    # Offloadable layers as llama.cpp counts them (blocks + output) on a GPU build, else blocks.
    layers: int
    kv_cache_size: int
    flash_attention: bool
    kv_cache_type: str
    threads: ContextThreads  # llama.cpp's threads, kept while the model is loaded
    tuner: ThreadTuner | None  # None: num_thread pins the count
    notes: tuple[str, ...]  # what the load could not do as asked, for the user
    # The tokens now in the KV cache, in order: what the next request can reuse.
    cached: list[int]
    warned_no_template: bool = False
    embedder: Embedder | None = None  # made on the first embedding request
    call_prefix: str | None = None  # what begins a tool call (tools.py), on first use


class ModelWorker:
    """One model, one thread, one queue."""

    def __init__(self, name: str, engine: Engine) -> None:
        self.name = name
        self._engine = engine
        self._queue: queue.SimpleQueue[RequestHandle | str] = queue.SimpleQueue()
        self._loaded: _Loaded | None = None
        self.expires_at: float | None = None
        self.retired = False
        self.busy = False
        self._single = (llama_cpp.llama_token * 1)()
        self.thread = threading.Thread(target=self._run, name=f"llmtui-model:{name}", daemon=True)

    # -- called from other threads ------------------------------------------------------

    def submit(self, handle: RequestHandle) -> None:
        self._queue.put(handle)

    def request_unload(self) -> None:
        self._queue.put(_UNLOAD)

    def stop(self) -> None:
        self._queue.put(_STOP)

    def idle(self) -> bool:
        return self._queue.empty() and not self.busy

    @property
    def loaded(self) -> _Loaded | None:
        return self._loaded

    def threads_now(self) -> int:
        loaded = self._loaded
        return loaded.threads.count if loaded else 0

    # -- the owner thread ---------------------------------------------------------------

    def _run(self) -> None:
        try:
            while True:
                timeout = None
                if self.expires_at is not None:
                    timeout = max(0.0, self.expires_at - time.monotonic())
                try:
                    item = self._queue.get(timeout=timeout)
                except queue.Empty:
                    if self._engine.retire(self):
                        return
                    continue
                if item == _STOP:
                    return
                if item == _UNLOAD:
                    self.expires_at = time.monotonic()
                    continue
                assert isinstance(item, RequestHandle)
                self._engine.run_native(lambda: self._serve(item))  # noqa: B023 (run now)
        finally:
            self._engine.retire(self, force=True)
            self._engine.run_native(self._unload)

    def _serve(self, handle: RequestHandle) -> None:
        job = handle.job
        started = time.perf_counter_ns()
        self.busy = True
        try:
            load_duration = self._ensure_loaded(handle)
            if job.texts is not None:
                handle.emit(self._embed(handle, started, load_duration))
            elif job.messages is None and job.prompt is None:
                handle.emit(self._load_only_done(started, load_duration))
            else:
                self._generate(handle, started, load_duration)
        except EngineError as error:
            handle.fail(error)
        except Exception as error:  # never let one request kill the model's thread
            log.exception("request on %s failed", self.name)
            detail = repr(error)
            detail = detail if len(detail) <= 200 else f"{detail[:200]}..."
            handle.fail(EngineError(f"internal error in the engine: {detail} (see {LOG_HINT})"))
        finally:
            if self._loaded is not None:
                self._loaded.threads.pause()
            self.busy = False
            keep = job.keep_alive
            self.expires_at = None if keep < 0 else time.monotonic() + keep

    # -- loading ------------------------------------------------------------------------

    def _ensure_loaded(self, handle: RequestHandle) -> int:
        job = handle.job
        identity = job.spec.load_identity()
        key = job.options.load_key()
        current = self._loaded
        if current and current.identity == identity and current.load_key == key:
            return 0
        self._unload()
        started = time.perf_counter_ns()
        self._loaded = self._load(job.spec, job.options, started)
        for note in self._loaded.notes:
            handle.emit(Notice(f"{self.name}: {note}"))
        handle.emit(self._live_stats(0.0, 0, 0))
        return self._loaded.load_duration

    def _load(self, spec: ModelSpec, options: Options, started: int) -> _Loaded:
        name = spec.name
        header = read_header(spec.path)
        if spec.adapter:
            check_adapter(spec.adapter, header)
        # llama.cpp never evaluates more than the context at once, but llama-cpp-python sizes
        # its logits buffer by the batch: num_batch 2**31-1 was a MemoryError.
        batch = min(options.num_batch, options.num_ctx)
        flash, kv_type = options.flash_attention, options.kv_cache_type
        notes = []
        if kv_type != "f16" and not flash:
            notes.append(f"kv_cache_type {kv_type} needs flash attention, which is off: f16 used")
            kv_type = "f16"
        estimate = memory.estimate(header, options.num_ctx, batch, kv_type)
        if self._engine.check_memory:
            available = self._engine.available_memory()
            if estimate.total > available and self._engine.make_room(estimate.total, self):
                available = self._engine.available_memory()
            if estimate.total > available:
                raise MemoryRefused(
                    f"{name} needs about {memory.human_bytes(estimate.total)} "
                    f"(weights {memory.human_bytes(estimate.weights)}, KV cache "
                    f"{memory.human_bytes(estimate.kv_cache)} at num_ctx {options.num_ctx}) "
                    f"but only {memory.human_bytes(available)} is available; "
                    "lower num_ctx, or turn the memory check off to try anyway"
                )
        threads = options.num_thread or physical_cores()
        if self._engine.probe_loads:
            probe.ensure_loadable(spec.path, spec.adapter)
        with self._engine.load_lock, contextlib.redirect_stderr(_StderrToLog()):
            LOG.start_load()

            def load(flash: bool, kv_type: str) -> Llama:
                cache_type = _CACHE_TYPES[kv_type]
                return Llama(
                    model_path=str(spec.path),
                    n_ctx=options.num_ctx,
                    n_batch=batch,
                    n_ubatch=batch,
                    n_gpu_layers=options.num_gpu,
                    main_gpu=options.main_gpu,
                    n_threads=threads,
                    n_threads_batch=threads,
                    use_mmap=options.use_mmap,
                    lora_path=str(spec.adapter) if spec.adapter else None,
                    flash_attn=flash,
                    type_k=cache_type,
                    type_v=cache_type,
                    # verbose=False would point fds 1 and 2 at /dev/null process-wide while
                    # loading; the log callback already keeps llama.cpp off the terminal.
                    verbose=True,
                )

            try:
                try:
                    llm = load(flash, kv_type)
                except (ValueError, RuntimeError, OSError):
                    if not flash:
                        raise
                    # A backend without flash attention: without it (and so in f16).
                    llm = load(False, "f16")
                    notes.append("flash attention failed to load here: off, KV cache f16")
                    flash, kv_type = False, "f16"
            except (ValueError, RuntimeError, OSError) as error:
                raise ModelLoadError(
                    f"llama.cpp could not load {name} from {spec.path}: {error} "
                    f"(details in {LOG.path})"
                ) from None
            offloaded = LOG.offloaded
            kv_mib = LOG.kv_mib
        threads_in_use = ContextThreads(llm.ctx, pooled=self._engine.threadpool)
        threads_in_use.use(threads)
        tuner = None
        if not options.num_thread and self._engine.backend == "CPU":
            tuner = ThreadTuner(
                threads,
                self._engine.core_share,
                lambda starting: self._engine.runnable_elsewhere(self, starting),
            )
        vocab = llama_cpp.llama_model_get_vocab(llm.model)
        template = spec.template or header.chat_template
        try:
            prompt: PromptTemplate = (
                TemplatePrompt(
                    template,
                    _token_text(vocab, llm.token_bos()),
                    _token_text(vocab, llm.token_eos()),
                )
                if isinstance(template, str)
                else template or TranscriptPrompt()
            )
        except Exception as error:
            _close(llm, threads_in_use)
            raise ModelLoadError(f"the chat template of {name} is not valid: {error}") from None
        return _Loaded(
            llm=llm,
            header=header,
            identity=spec.load_identity(),
            load_key=options.load_key(),
            ctx=llm.ctx,
            vocab=vocab,
            n_ctx=llm.n_ctx(),
            n_vocab=llama_cpp.llama_vocab_n_tokens(vocab),
            prompt=prompt,
            load_duration=time.perf_counter_ns() - started,
            backend=self._engine.backend,
            shared_thread=self._engine.shared_thread,
            gpu_layers=offloaded[0] if offloaded else 0,
            layers=offloaded[1] if offloaded else header.block_count,
            kv_cache_size=int(kv_mib * 1024 * 1024) or estimate.kv_cache,
            flash_attention=flash,
            kv_cache_type=kv_type,
            threads=threads_in_use,
            tuner=tuner,
            notes=tuple(notes),
            cached=[],
        )

    def _unload(self) -> None:
        loaded, self._loaded = self._loaded, None
        if loaded is not None:
            if loaded.embedder is not None:
                loaded.embedder.close()
            _close(loaded.llm, loaded.threads)

    def _embed(self, handle: RequestHandle, started: int, load_duration: int) -> Done:
        loaded = self._loaded
        assert loaded is not None and handle.job.texts is not None
        if loaded.embedder is None:
            loaded.embedder = Embedder(loaded.llm.model, loaded.n_ctx, physical_cores())
        embedder = loaded.embedder
        vectors, count = [], 0
        begun = time.perf_counter_ns()
        for text in handle.job.texts:
            if handle.cancelled:
                break
            tokens = loaded.llm.tokenize(text.encode("utf-8", errors="replace"), add_bos=True)
            if handle.job.truncate:
                tokens = tokens[: embedder.n_ctx]
            vectors.append(tuple(embedder.embed(tokens)))
            count += len(tokens)
        took = time.perf_counter_ns() - begun
        return Done(
            model=self.name, text="", done_reason="cancel" if handle.cancelled else "stop",
            total_duration=time.perf_counter_ns() - started, load_duration=load_duration,
            prompt_eval_count=count, prompt_eval_duration=took, eval_count=0, eval_duration=0,
            time_to_first_token=0, context_used=0, perf=Perf(took / 1e6, count, 0.0, 0),
            embeddings=tuple(vectors),
        )  # fmt: skip

    # -- generating ---------------------------------------------------------------------

    def _conversation(self, handle: RequestHandle) -> list[Message]:
        job = handle.job
        assert job.messages is not None
        messages = list(job.spec.messages) + list(job.messages)
        if job.spec.system and not any(m.role == "system" for m in messages):
            messages.insert(0, Message("system", job.spec.system))
        return messages

    def _chat_tokens(self, handle: RequestHandle) -> tuple[list[int], tuple[str, ...]]:
        loaded = self._loaded
        assert loaded is not None
        prompt = handle.job.template or loaded.prompt
        if isinstance(prompt, TranscriptPrompt) and not loaded.warned_no_template:
            loaded.warned_no_template = True
            handle.emit(
                Notice(
                    f"{self.name} has no chat template (a completion model): chatting by plain "
                    "completion of the transcript; give it a TEMPLATE in a Modelfile to chat "
                    "properly"
                )
            )
        messages = self._conversation(handle)
        tools = handle.job.tools
        if tools and not prompt.supports_tools:
            raise ToolError(
                f"{self.name} does not support tools: its template does not show "
                "them (a Modelfile's TEMPLATE can: see modelfiles/tools.Modelfile)"
            )
        # Too long for the context: drop the oldest turns (never the system prompt or the
        # latest message), as Ollama does, rather than fail.
        reserve = min(256, loaded.n_ctx // 4)
        while True:
            try:
                rendered = prompt.render(messages, tools)
            except Exception as error:  # the template's own failure (raise_exception...)
                raise EngineError(
                    f"the chat template of {self.name} failed on this conversation: {error}"
                ) from None
            tokens = self._tokenize(rendered)
            droppable = [i for i, m in enumerate(messages[:-1]) if m.role != "system"]
            if len(tokens) + reserve <= loaded.n_ctx or not droppable:
                handle.prompt = rendered.text
                return tokens, rendered.stop
            del messages[droppable[0]]

    def _tokenize(self, rendered: RenderedPrompt) -> list[int]:
        assert self._loaded is not None
        # A face may hand on text with lone surrogates (bytes that were not UTF-8).
        text = rendered.text.encode("utf-8", errors="replace")
        return self._loaded.llm.tokenize(text, add_bos=not rendered.has_special, special=True)

    def _generate(self, handle: RequestHandle, started: int, load_duration: int) -> None:
        loaded = self._loaded
        assert loaded is not None
        job = handle.job
        options = job.options
        if job.messages is not None:
            tokens, template_stops = self._chat_tokens(handle)
        else:
            assert job.prompt is not None
            handle.prompt = job.prompt
            tokens = self._tokenize(RenderedPrompt(job.prompt, (), False))
            template_stops = ()
        if job.context is not None:
            tokens = self._continued(job.context, tokens)
        if not tokens:
            raise EngineError("the prompt is empty")
        if len(tokens) >= loaded.n_ctx:
            raise ContextOverflow(
                f"the prompt is {len(tokens)} tokens but the context holds {loaded.n_ctx} "
                "(num_ctx); raise num_ctx or shorten the prompt"
            )
        budget = loaded.n_ctx - len(tokens)
        limit = budget if options.num_predict < 0 else min(options.num_predict, budget)
        sampler = Sampler(options, loaded.n_vocab, loaded.n_ctx, loaded.vocab, job.grammar)
        try:
            with self._engine.generating(self):
                self._decode_loop(
                    handle,
                    tokens,
                    options,
                    options.stop + template_stops,
                    limit,
                    sampler,
                    started,
                    load_duration,
                )
        finally:
            sampler.close()

    def _continued(self, context: Sequence[int], tokens: list[int]) -> list[int]:
        """The prompt after an earlier answer's tokens (without a second BOS)."""
        loaded = self._loaded
        assert loaded is not None
        wrong = next((t for t in context if not 0 <= t < loaded.n_vocab), None)
        if wrong is not None:
            raise OptionError(f"context holds {wrong}, which is not a token of {self.name} "
                              f"(its vocabulary has {loaded.n_vocab})")  # fmt: skip
        bos = llama_cpp.llama_vocab_bos(loaded.vocab)
        if context and tokens and tokens[0] == bos:
            tokens = tokens[1:]
        return [*context, *tokens]

    def _reuse_prefix(self, tokens: Sequence[int]) -> int:
        """Drop from the KV cache what `tokens` does not share with it; return how many
        leading tokens are kept (always at least one short of all, to get fresh logits)."""
        loaded = self._loaded
        assert loaded is not None
        cached = loaded.cached
        keep = 0
        for a, b in zip(cached, tokens, strict=False):
            if a != b:
                break
            keep += 1
        keep = min(keep, len(tokens) - 1)
        mem = llama_cpp.llama_get_memory(loaded.ctx)
        if not llama_cpp.llama_memory_seq_rm(mem, 0, keep, -1):
            llama_cpp.llama_memory_clear(mem, True)
            keep = 0
        del cached[keep:]
        return keep

    def _decode(self, tokens: Sequence[int]) -> None:
        loaded = self._loaded
        assert loaded is not None
        if len(tokens) == 1:
            self._single[0] = tokens[0]
            array = self._single
        else:
            array = (llama_cpp.llama_token * len(tokens))(*tokens)
        status = llama_cpp.llama_decode(
            loaded.ctx, llama_cpp.llama_batch_get_one(array, len(tokens))
        )
        if status != 0:
            mem = llama_cpp.llama_get_memory(loaded.ctx)
            llama_cpp.llama_memory_clear(mem, True)
            loaded.cached.clear()
            if status == 1:
                raise ContextOverflow("the context is full (num_ctx); raise num_ctx")
            raise EngineError(f"llama.cpp failed to evaluate the prompt (llama_decode: {status})")
        loaded.cached.extend(tokens)

    def _decode_loop(
        self,
        handle: RequestHandle,
        tokens: list[int],
        options: Options,
        stops: tuple[str, ...],
        limit: int,
        sampler: Sampler,
        started: int,
        load_duration: int,
    ) -> None:
        loaded = self._loaded
        assert loaded is not None
        ctx, vocab = loaded.ctx, loaded.vocab
        llama_cpp.llama_perf_context_reset(ctx)

        # The penalties look back over the prompt too, as in llama.cpp's own server.
        for token in tokens[-sampler.history :] if sampler.history else ():
            sampler.accept(token)

        tuner = loaded.tuner
        if tuner is not None:
            loaded.threads.use(tuner.start())
        keep = self._reuse_prefix(tokens)
        prompt_started = time.perf_counter_ns()
        # llama.cpp caps the batch at the context size it was asked for (num_ctx 64 gives 64,
        # though the context is padded to 256); a longer batch aborts the process.
        batch = llama_cpp.llama_n_batch(ctx)
        for i in range(keep, len(tokens), batch):
            if handle.cancelled:
                break
            self._decode(tokens[i : i + batch])
        prompt_done = time.perf_counter_ns()

        detok = Detokenizer(vocab)
        matcher = StopMatcher(stops)
        calls = self._call_reader(handle.job)
        parts: list[str] = []
        reason = "cancel" if handle.cancelled else "length"
        count = 0
        first_token = 0
        made: list[int] = []  # the answer's tokens (Ollama's `context` ends with them)
        next_stats = prompt_done + _STATS_INTERVAL_NS
        times: deque[int] = deque(maxlen=_RATE_WINDOW)
        sample = sampler.sample
        is_eog = llama_cpp.llama_vocab_is_eog
        ignore_eos = handle.job.ignore_eos
        hit = False  # a stop string matched: what followed it is dropped, not flushed
        while reason != "cancel" and count < limit:
            token = sample(ctx)
            if is_eog(vocab, token) and not ignore_eos:
                reason = "stop"
                break
            count += 1
            made.append(token)
            text, hit = matcher.feed(detok.piece(token))
            now = time.perf_counter_ns()
            times.append(now)
            if not first_token:
                first_token = now
            if calls is not None:
                text = calls.feed(text)
            parts.append(text)
            handle.emit(Chunk(text))
            if hit:
                reason = "stop"
                break
            if count >= limit:
                break
            if handle.cancelled:
                reason = "cancel"
                break
            if tuner is None:
                self._decode((token,))
            else:
                before = time.perf_counter_ns()
                self._decode((token,))
                threads = tuner.observe(time.perf_counter_ns() - before)
                if threads != loaded.threads.count:
                    loaded.threads.use(threads)
                    next_stats = now  # the stats show the new count at once
            if now >= next_stats:
                next_stats = now + _STATS_INTERVAL_NS
                handle.emit(self._live_stats(_window_rate(times), count, len(loaded.cached)))
        tail = "" if hit else detok.flush() + matcher.flush()
        called: tuple[ToolCall, ...] = ()
        if calls is not None:
            tail = calls.feed(tail)
            rest, called = calls.finish()
            tail += rest
        if tail:
            parts.append(tail)
            handle.emit(Chunk(tail, 0))
        finished = time.perf_counter_ns()
        perf = llama_cpp.llama_perf_context(ctx)
        handle.emit(self._live_stats(_window_rate(times), count, len(loaded.cached)))
        handle.emit(
            Done(
                model=self.name,
                text="".join(parts),
                done_reason=reason,
                total_duration=finished - started,
                load_duration=load_duration,
                prompt_eval_count=len(tokens) - keep,
                prompt_eval_duration=prompt_done - prompt_started,
                eval_count=count,
                eval_duration=finished - prompt_done,
                time_to_first_token=(first_token - started) if first_token else 0,
                context_used=len(loaded.cached),
                perf=Perf(perf.t_p_eval_ms, perf.n_p_eval, perf.t_eval_ms, perf.n_eval),
                tool_calls=called,
                context=(*tokens, *made) if handle.job.context is not None else (),
            )
        )

    def _call_reader(self, job: Job) -> CallReader | None:
        loaded = self._loaded
        assert loaded is not None
        if not job.tools:
            return None
        if job.template is not None:
            prefix = call_prefix(job.template)
        else:
            if loaded.call_prefix is None:
                loaded.call_prefix = call_prefix(loaded.prompt)
            prefix = loaded.call_prefix
        return CallReader(prefix, {t.name for t in job.tools}, job.forced)

    # -- reporting ----------------------------------------------------------------------

    def _live_stats(self, rate: float, eval_count: int, used: int) -> LiveStats:
        loaded = self._loaded
        assert loaded is not None
        return LiveStats(
            model=self.name,
            tokens_per_second=rate,
            eval_count=eval_count,
            context_used=used,
            context_size=loaded.n_ctx,
            rss=rss_bytes(),
            model_size=loaded.header.data_size,
            kv_cache_size=loaded.kv_cache_size,
            backend=loaded.backend,
            shared_thread=loaded.shared_thread,
            flash_attention=loaded.flash_attention,
            kv_cache_type=loaded.kv_cache_type,
            gpu_layers=loaded.gpu_layers,
            layers=loaded.layers,
            load_duration=loaded.load_duration,
            threads=loaded.threads.count,
            most_threads=loaded.tuner.limit() if loaded.tuner else loaded.threads.count,
            adaptive=loaded.tuner is not None,
        )

    def _load_only_done(self, started: int, load_duration: int) -> Done:
        loaded = self._loaded
        assert loaded is not None
        return Done(
            model=self.name,
            text="",
            done_reason="load",
            total_duration=time.perf_counter_ns() - started,
            load_duration=load_duration,
            prompt_eval_count=0,
            prompt_eval_duration=0,
            eval_count=0,
            eval_duration=0,
            time_to_first_token=0,
            context_used=len(loaded.cached),
            perf=Perf(0.0, 0, 0.0, 0),
        )


def _close(llm: Llama, threads: ContextThreads) -> None:
    threads.detach()
    llm.close()
    threads.free()


def _window_rate(times: deque[int]) -> float:
    if len(times) < 2:
        return 0.0
    return (len(times) - 1) / ((times[-1] - times[0]) / 1e9)


def _token_text(vocab: llama_cpp.llama_vocab_p, token: int) -> str:
    if token < 0:
        return ""
    text = llama_cpp.llama_vocab_get_text(vocab, token)
    return text.decode("utf-8", errors="replace") if text else ""
