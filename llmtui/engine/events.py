"""What a model's owner thread reports: small immutable events, safe to hand to any thread."""

from __future__ import annotations

from dataclasses import dataclass

from llmtui.engine.errors import EngineError
from llmtui.engine.message import ToolCall


@dataclass(frozen=True, slots=True)
class Chunk:
    """Text from `tokens` newly generated tokens (it may be empty while a character or a
    possible stop string is incomplete)."""

    text: str
    tokens: int = 1


@dataclass(frozen=True, slots=True)
class Notice:
    """Something the user should know that does not stop the request."""

    message: str


@dataclass(frozen=True, slots=True)
class LiveStats:
    """The model's state, sent after loading and about ten times a second while generating."""

    model: str
    tokens_per_second: float
    eval_count: int
    context_used: int
    context_size: int
    rss: int
    model_size: int
    kv_cache_size: int
    backend: str
    shared_thread: bool  # (an OpenMP build) loaded models take turns on one thread
    flash_attention: bool
    kv_cache_type: str
    gpu_layers: int
    layers: int
    load_duration: int
    threads: int  # CPU threads computing the model now
    most_threads: int  # the most it may use: its share of the cores, or num_thread
    adaptive: bool  # the count follows the machine's load (num_thread not set)

    SHARED_THREAD_NOTE = "OpenMP build of llama.cpp: loaded models take turns on one thread"

    def offload(self) -> str:
        """Where the model runs, e.g. 'CUDA, 31/31 layers offloaded' or 'CPU'."""
        where = self.backend
        if self.backend != "CPU":
            where += f", {self.gpu_layers}/{self.layers} layers offloaded"
        return where

    def thread_use(self) -> str:
        """e.g. '1 of 2, adapting to load' or '4 (num_thread)'."""
        if self.adaptive:
            return f"{self.threads} of {self.most_threads}, adapting to load"
        return f"{self.threads} (num_thread)"

    def attention(self) -> str:
        """e.g. 'flash attention on · KV cache q8_0'."""
        return (
            f"flash attention {'on' if self.flash_attention else 'off'} · "
            f"KV cache {self.kv_cache_type}"
        )


@dataclass(frozen=True, slots=True)
class Perf:
    """llama.cpp's own timings for the request (`llama_perf_context`), in milliseconds."""

    prompt_eval_ms: float
    prompt_eval_tokens: int
    eval_ms: float
    eval_tokens: int


@dataclass(frozen=True, slots=True)
class Done:
    """The request finished. Durations are in nanoseconds, named as Ollama names them."""

    model: str
    text: str
    done_reason: str  # "stop", "length" or "cancel"
    total_duration: int
    load_duration: int
    prompt_eval_count: int
    prompt_eval_duration: int
    eval_count: int
    eval_duration: int
    time_to_first_token: int
    context_used: int
    perf: Perf
    # An embedding request's vectors, one per input, of unit length (nothing else has any).
    embeddings: tuple[tuple[float, ...], ...] = ()
    # The functions the model called, when it was offered tools (`text` is what it said
    # beside them, often nothing).
    tool_calls: tuple[ToolCall, ...] = ()
    # The tokens of prompt and answer, when the request asked (Ollama's `context`).
    context: tuple[int, ...] = ()
    # Where it ran, for a model another server runs ("" here), and whence its figures:
    # "server" (its own counts and durations) or "measured" (here, from what arrived).
    served_by: str = ""
    figures: str = "engine"

    @property
    def place(self) -> str:
        """Where a served model ran, for a stats line ("" here): "on team", its own
        figures; "on team, timed here" where the server gave none. Short: it ends a line
        that must fit a chat pane's width."""
        if not self.served_by:
            return ""
        return f"on {self.served_by}" + ("" if self.figures == "server" else ", timed here")

    @property
    def prompt_eval_rate(self) -> float:
        return _rate(self.prompt_eval_count, self.prompt_eval_duration)

    @property
    def eval_rate(self) -> float:
        return _rate(self.eval_count, self.eval_duration)


@dataclass(frozen=True, slots=True)
class Failed:
    """The request failed; the model (if it loaded) stays usable."""

    error: EngineError


Event = Chunk | Notice | LiveStats | Done | Failed


def _rate(count: int, duration_ns: int) -> float:
    return count / (duration_ns / 1e9) if duration_ns > 0 else 0.0
