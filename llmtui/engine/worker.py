"""The owner thread of one loaded model.

It alone touches its `Llama`: it takes requests from a queue and reports through each
request's handle. Generation is llmtui's own decode loop on llama.cpp's C API: one decode, one
sample and one detokenised piece per token (llama-cpp-python's streaming re-detokenises the
whole reply at every token, slowing as the reply grows), with the KV cache kept between
requests so a conversation's next turn only evaluates its new tokens.

A model loaded with `parallel` > 1 answers that many requests at once, as sequences of one
context (continuous batching, as llama.cpp's server and Ollama's OLLAMA_NUM_PARALLEL do):
each decode evaluates the next token of every sequence generating, and prompt tokens of those
starting in the room left; a request that arrives meanwhile joins at the next decode. Each
sequence (slot) keeps its own cache, and a request takes the free slot that shares the
longest start with its prompt: a conversation's next turn finds its earlier ones.
"""

from __future__ import annotations

import contextlib
import io
import logging
import queue
import threading
import time
from collections import deque
from dataclasses import dataclass
from typing import TYPE_CHECKING

import llama_cpp
from llama_cpp import Llama

from llmtui.engine import memory, probe
from llmtui.engine.batch import Batch
from llmtui.engine.detok import Detokenizer, StopMatcher
from llmtui.engine.embedding import Embedder
from llmtui.engine.errors import (
    ContextOverflow,
    EngineError,
    MemoryRefused,
    ModelLoadError,
    OptionError,
)
from llmtui.engine.events import Done, LiveStats, Notice, Perf
from llmtui.engine.gguf import GGUFHeader, check_adapter, read_header
from llmtui.engine.llamalog import LOG
from llmtui.engine.message import Message, PromptTemplate, RenderedPrompt
from llmtui.engine.options import AUTO_PARALLEL, Options
from llmtui.engine.prompt import TemplatePrompt, TranscriptPrompt
from llmtui.engine.request import Job, RequestHandle
from llmtui.engine.sampler import Sampler
from llmtui.engine.sequence import STATS_INTERVAL_NS, Sequence
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
    # Requests answered at once: the context's sequences (slots), each num_ctx long.
    parallel: int
    batch: Batch
    own_context: bool  # `ctx` was made here (parallel > 1), not by the Llama
    # The tokens in each slot's KV cache, in order: what the next request can reuse.
    slots: list[list[int]]
    slot_used: list[float]  # when each slot last ended a request (monotonic)
    warned_no_template: bool = False
    embedder: Embedder | None = None  # made on the first embedding request
    call_prefix: str | None = None  # what begins a tool call (tools.py), on first use


class ModelWorker:
    """One model, one thread, one queue."""

    def __init__(self, name: str, engine: Engine) -> None:
        self.name = name
        self._engine = engine
        self._queue: queue.SimpleQueue[RequestHandle | str] = queue.SimpleQueue()
        # Taken from the queue while sequences ran but not able to join them (another load,
        # an embedding, an unload): served, in order, once they end.
        self._held: deque[RequestHandle | str] = deque()
        self._loaded: _Loaded | None = None
        self.expires_at: float | None = None
        self._keep_alive = 0.0  # that of the request taken up last
        self._width = 1  # sequences in the decodes the tuner timed last
        self.retired = False
        self.busy = False
        self.thread = threading.Thread(target=self._run, name=f"llmtui-model:{name}", daemon=True)

    # -- called from other threads ------------------------------------------------------

    def submit(self, handle: RequestHandle) -> None:
        self._queue.put(handle)

    def request_unload(self) -> None:
        self._queue.put(_UNLOAD)

    def stop(self) -> None:
        self._queue.put(_STOP)

    def idle(self) -> bool:
        return self._queue.empty() and not self._held and not self.busy

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
                    item = self._held.popleft() if self._held else self._queue.get(timeout=timeout)
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
        self._keep_alive = job.keep_alive
        try:
            load_duration = self._ensure_loaded(handle)
            if job.texts is not None:
                handle.emit(self._embed(handle, started, load_duration))
            elif job.messages is None and job.prompt is None:
                handle.emit(self._load_only_done(started, load_duration))
            else:
                self._answer(handle, started, load_duration)
        except EngineError as error:
            handle.fail(error)
        except Exception as error:  # never let one request kill the model's thread
            handle.fail(self._internal(error))
        finally:
            if self._loaded is not None:
                self._loaded.threads.pause()
            self.busy = False
            keep = self._keep_alive
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
        parallel = self._engine.parallel
        if not parallel:  # auto: as many as Ollama's old default where they fit
            wide = memory.estimate(header, options.num_ctx * AUTO_PARALLEL, batch, kv_type)
            parallel = AUTO_PARALLEL if wide.total <= self._engine.available_memory() else 1
        estimate = memory.estimate(header, options.num_ctx * parallel, batch, kv_type)
        if self._engine.check_memory:
            available = self._engine.available_memory()
            if estimate.total > available and self._engine.make_room(estimate.total, self):
                available = self._engine.available_memory()
            if estimate.total > available:
                each = f" for each of {parallel} requests at once" if parallel > 1 else ""
                fewer = ", fewer at once (num_parallel)" if parallel > 1 else ""
                raise MemoryRefused(
                    f"{name} needs about {memory.human_bytes(estimate.total)} "
                    f"(weights {memory.human_bytes(estimate.weights)}, KV cache "
                    f"{memory.human_bytes(estimate.kv_cache)} at num_ctx {options.num_ctx}"
                    f"{each}) but only {memory.human_bytes(available)} is available; "
                    f"lower num_ctx{fewer}, or turn the memory check off to try anyway"
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
                    # With several sequences the context is made below; the Llama's own is
                    # then the smallest llama.cpp makes (256 cells, ~6 MB for SmolLM2).
                    n_ctx=options.num_ctx if parallel == 1 else 1,
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
            ctx = llm.ctx
            if parallel > 1:
                LOG.new_context()
                made = _sequences_context(llm, options.num_ctx, batch, parallel)
                if made is None:
                    llm.close()
                    raise ModelLoadError(
                        f"llama.cpp could not make a context of {parallel} sequences of "
                        f"{options.num_ctx} tokens for {name} (details in {LOG.path})"
                    )
                ctx = made
            offloaded = LOG.offloaded
            kv_mib = LOG.kv_mib
        threads_in_use = ContextThreads(ctx, pooled=self._engine.threadpool)
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
            _close(llm, threads_in_use, ctx if parallel > 1 else None)
            raise ModelLoadError(f"the chat template of {name} is not valid: {error}") from None
        return _Loaded(
            llm=llm,
            header=header,
            identity=spec.load_identity(),
            load_key=options.load_key(),
            ctx=ctx,
            vocab=vocab,
            n_ctx=llm.n_ctx() if parallel == 1 else llama_cpp.llama_n_ctx_seq(ctx),
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
            parallel=parallel,
            # llama.cpp caps the batch at the context size it was asked for (num_ctx 64 gives
            # 64, though the context is padded to 256); a longer batch aborts the process.
            batch=Batch(llama_cpp.llama_n_batch(ctx)),
            own_context=parallel > 1,
            slots=[[] for _ in range(parallel)],
            slot_used=[0.0] * parallel,
        )

    def _unload(self) -> None:
        loaded, self._loaded = self._loaded, None
        if loaded is not None:
            if loaded.embedder is not None:
                loaded.embedder.close()
            loaded.batch.free()
            _close(loaded.llm, loaded.threads, loaded.ctx if loaded.own_context else None)

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

    def _answer(self, first: RequestHandle, started: int, load_duration: int) -> None:
        """Answer `first`, and every request that joins it while it runs, until all end."""
        loaded = self._loaded
        assert loaded is not None
        sequences = [self._begin(first, started, load_duration, set())]
        if loaded.tuner is not None:
            loaded.threads.use(loaded.tuner.start())
        with self._engine.generating(self):
            try:
                while sequences:
                    self._admit(sequences)
                    self._step(sequences)
            except Exception as error:
                failure = error if isinstance(error, EngineError) else self._internal(error)
                for sequence in sequences:
                    sequence.sampler.close()
                    sequence.handle.fail(failure)

    def _internal(self, error: Exception) -> EngineError:
        """A bug's exception, logged, as the error its request ends with."""
        log.exception("request on %s failed", self.name)
        detail = repr(error)
        detail = detail if len(detail) <= 200 else f"{detail[:200]}..."
        return EngineError(f"internal error in the engine: {detail} (see {LOG_HINT})")

    def _joins(self, item: RequestHandle | str) -> bool:
        """Whether `item` can be answered beside the requests in flight: a generation on
        the model as loaded."""
        loaded = self._loaded
        if not isinstance(item, RequestHandle) or loaded is None:
            return False
        job = item.job
        return (
            job.texts is None
            and (job.messages is not None or job.prompt is not None)
            and job.spec.load_identity() == loaded.identity
            and job.options.load_key() == loaded.load_key
        )

    def _admit(self, sequences: list[Sequence]) -> None:
        """Requests waiting join while a slot is free, in the order they came; the first
        that cannot (another load, an embedding...) stops the joining until all end."""
        loaded = self._loaded
        assert loaded is not None
        while len(sequences) < loaded.parallel and not self._held:
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                return
            if not self._joins(item):
                self._held.append(item)
                return
            assert isinstance(item, RequestHandle)
            self._keep_alive = item.job.keep_alive
            busy = {sequence.slot for sequence in sequences}
            try:
                sequences.append(self._begin(item, time.perf_counter_ns(), 0, busy))
            except EngineError as error:
                item.fail(error)
            except Exception as error:  # its own failure: the others go on
                item.fail(self._internal(error))

    def _begin(
        self, handle: RequestHandle, started: int, load_duration: int, busy: set[int]
    ) -> Sequence:
        """`handle`'s prompt, checked, in the free slot that shares most of it."""
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
        calls = self._call_reader(job)
        sampler = Sampler(options, loaded.n_vocab, loaded.n_ctx, loaded.vocab, job.grammar)
        # The penalties look back over the prompt too, as in llama.cpp's own server.
        for token in tokens[-sampler.history :] if sampler.history else ():
            sampler.accept(token)
        free = [slot for slot in range(loaded.parallel) if slot not in busy]
        slot = max(free, key=lambda s: (_shared(loaded.slots[s], tokens), -loaded.slot_used[s]))
        if loaded.parallel == 1:
            llama_cpp.llama_perf_context_reset(loaded.ctx)
        return Sequence(
            handle=handle,
            slot=slot,
            tokens=tokens,
            keep=self._reuse_prefix(slot, tokens),
            limit=limit,
            sampler=sampler,
            detok=Detokenizer(loaded.vocab),
            matcher=StopMatcher(options.stop + template_stops),
            calls=calls,
            started=started,
            load_duration=load_duration,
        )

    def _continued(self, context: tuple[int, ...], tokens: list[int]) -> list[int]:
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

    def _reuse_prefix(self, slot: int, tokens: list[int]) -> int:
        """Drop from `slot`'s KV cache what `tokens` does not share with it; return how
        many leading tokens are kept (always at least one short of all, to get fresh
        logits)."""
        loaded = self._loaded
        assert loaded is not None
        cached = loaded.slots[slot]
        keep = min(_shared(cached, tokens), len(tokens) - 1)
        mem = llama_cpp.llama_get_memory(loaded.ctx)
        if not llama_cpp.llama_memory_seq_rm(mem, slot, keep, -1):
            llama_cpp.llama_memory_seq_rm(mem, slot, -1, -1)
            keep = 0
        del cached[keep:]
        return keep

    def _step(self, sequences: list[Sequence]) -> None:
        """One decode: the next token of every sequence generating, then prompt tokens of
        one sequence in the room left; then each sequence with fresh logits samples its
        next token."""
        loaded = self._loaded
        assert loaded is not None
        ctx, batch, slots = loaded.ctx, loaded.batch, loaded.slots
        for sequence in [s for s in sequences if s.handle.cancelled]:
            self._end(sequences, sequence, "cancel")
        batch.clear()
        for sequence in sequences:
            sequence.index = -1
            token = sequence.next_token
            if token is not None and batch.count < batch.size:
                cache = slots[sequence.slot]
                sequence.index = batch.add(token, len(cache), sequence.slot, True)
                cache.append(token)
                sequence.next_token = None
        generating = batch.count
        # One prompt per decode, the earliest first: it gets its first token after its own
        # prompt, not after every prompt that came with it (the same work in all).
        room = batch.size - batch.count
        prompting = next((s for s in sequences if s.next_token is None and s.prompt_left), None)
        prompting = prompting if room else None
        if prompting is not None:
            cache, tokens, slot = slots[prompting.slot], prompting.tokens, prompting.slot
            start = prompting.evaluated
            end = start + min(room, prompting.prompt_left)
            prompting.prompt_started = prompting.prompt_started or time.perf_counter_ns()
            for i in range(start, end):
                index = batch.add(tokens[i], len(cache), slot, i == len(tokens) - 1)
                cache.append(tokens[i])
            if end == len(tokens):
                prompting.index = index
            prompting.evaluated = end
        if not batch.count:
            return
        before = time.perf_counter_ns()
        status = batch.decode(ctx)
        after = time.perf_counter_ns()
        if status != 0:
            llama_cpp.llama_memory_clear(llama_cpp.llama_get_memory(ctx), True)
            for cache in slots:
                cache.clear()
            if status == 1:
                raise ContextOverflow("the context is full (num_ctx); raise num_ctx")
            raise EngineError(f"llama.cpp failed to evaluate the prompt (llama_decode: {status})")
        stats_now = self._tune(after - before, generating, prompting is not None)
        if prompting is not None and not prompting.prompt_left:
            prompting.prompt_done = after
            prompting.next_stats = after + STATS_INTERVAL_NS
        vocab, is_eog = loaded.vocab, llama_cpp.llama_vocab_is_eog
        for sequence in [s for s in sequences if s.index >= 0]:
            if sequence.count >= sequence.limit:  # num_predict 0: the prompt only
                self._end(sequences, sequence, "length")
                continue
            token = sequence.sampler.sample(ctx, sequence.index)
            now = time.perf_counter_ns()
            reason = sequence.take(token, is_eog(vocab, token), now)
            if reason is not None:
                self._end(sequences, sequence, reason)
            elif stats_now or sequence.stats_due(now):
                cached = len(slots[sequence.slot])
                sequence.handle.emit(self._live_stats(sequence.rate(), sequence.count, cached))

    def _tune(self, took: int, generating: int, prompting: bool) -> bool:
        """The tuner times decodes of the same work: one token of each sequence generating,
        as many as it timed before (a decode with prompt tokens is not timed). Whether the
        thread count changed."""
        loaded = self._loaded
        assert loaded is not None
        tuner = loaded.tuner
        if tuner is None or prompting:
            return False
        if generating != self._width:
            self._width = generating
            threads = tuner.rebase()
        else:
            threads = tuner.observe(took)
        if threads == loaded.threads.count:
            return False
        loaded.threads.use(threads)
        return True  # the stats show the new count at once

    def _end(self, sequences: list[Sequence], sequence: Sequence, reason: str) -> None:
        loaded = self._loaded
        assert loaded is not None
        sequences.remove(sequence)
        perf = None
        if loaded.parallel == 1:
            own = llama_cpp.llama_perf_context(loaded.ctx)
            perf = Perf(own.t_p_eval_ms, own.n_p_eval, own.t_eval_ms, own.n_eval)
        cached = len(loaded.slots[sequence.slot])
        done = sequence.finish(self.name, reason, cached, perf)
        loaded.slot_used[sequence.slot] = time.monotonic()
        sequence.handle.emit(self._live_stats(sequence.rate(), sequence.count, cached))
        sequence.handle.emit(done)

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
            context_used=max(len(cache) for cache in loaded.slots),
            perf=Perf(0.0, 0, 0.0, 0),
        )


def _sequences_context(
    llm: Llama, num_ctx: int, batch: int, parallel: int
) -> llama_cpp.llama_context_p | None:
    """A context of `parallel` sequences of `num_ctx` each, made as the Llama made its own
    (llama-cpp-python's Llama takes no sequence count). Each sequence has a KV stream of its
    own (not unified): attention reads only its own cells, as Ollama sizes them."""
    params = llama_cpp.llama_context_params.from_buffer_copy(llm.context_params)
    params.n_ctx = num_ctx * parallel
    # Room for every sequence's next token in one decode, even at a num_batch below it.
    params.n_batch = params.n_ubatch = max(batch, parallel)
    params.n_seq_max = parallel
    params.kv_unified = False
    ctx: llama_cpp.llama_context_p | None = llama_cpp.llama_init_from_model(llm.model, params)
    return ctx or None


def _close(llm: Llama, threads: ContextThreads, own: llama_cpp.llama_context_p | None) -> None:
    threads.detach()
    if own is not None:
        llama_cpp.llama_free(own)  # before its model
    llm.close()
    threads.free()


def _shared(cached: list[int], tokens: list[int]) -> int:
    """How many leading tokens two lists share."""
    count = 0
    for a, b in zip(cached, tokens, strict=False):
        if a != b:
            break
        count += 1
    return count


def _token_text(vocab: llama_cpp.llama_vocab_p, token: int) -> str:
    if token < 0:
        return ""
    text = llama_cpp.llama_vocab_get_text(vocab, token)
    return text.decode("utf-8", errors="replace") if text else ""
