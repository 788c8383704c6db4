"""Model options with Ollama's names and defaults.

Load-time options (context size, batch, offload, threads, mmap) change the loaded model and
force a reload; the rest apply per request.
"""

from __future__ import annotations

import dataclasses
import difflib
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from llmtui.engine.errors import OptionError


def _doc(text: str) -> dict[str, str]:
    return {"doc": text}


@dataclass(frozen=True)
class Options:
    """Every option Ollama documents, with its default."""

    num_ctx: int = field(default=4096, metadata=_doc("Context window, in tokens."))
    num_batch: int = field(default=512, metadata=_doc("Prompt tokens evaluated per batch."))
    num_gpu: int = field(
        default=-1, metadata=_doc("Layers to offload to the GPU; -1 offloads all of them.")
    )
    main_gpu: int = field(default=0, metadata=_doc("GPU that holds the non-split tensors."))
    num_thread: int = field(
        default=0,
        metadata=_doc("CPU threads for generation; 0 picks the fastest for this machine."),
    )
    use_mmap: bool = field(default=True, metadata=_doc("Map the model file instead of reading it."))
    flash_attention: bool = field(
        default=True,
        metadata=_doc("Flash attention (faster, needed by a quantised KV cache); off as fallback."),
    )
    kv_cache_type: str = field(
        default="f16",
        metadata=_doc("KV cache type: f16, q8_0 (half the memory) or q4_0 (a quarter)."),
    )
    seed: int = field(default=-1, metadata=_doc("Random seed; -1 draws a new one each request."))
    num_predict: int = field(
        default=-1, metadata=_doc("Most tokens to generate; -1 no limit, -2 fill the context.")
    )
    top_k: int = field(default=40, metadata=_doc("Sample from the k most likely tokens."))
    top_p: float = field(default=0.9, metadata=_doc("Nucleus sampling threshold."))
    min_p: float = field(
        default=0.0, metadata=_doc("Drop tokens less likely than min_p times the most likely.")
    )
    typical_p: float = field(default=1.0, metadata=_doc("Locally typical sampling; 1.0 is off."))
    temperature: float = field(default=0.8, metadata=_doc("Randomness; 0 always picks the top."))
    repeat_penalty: float = field(default=1.1, metadata=_doc("Penalty for repeated tokens."))
    repeat_last_n: int = field(
        default=64, metadata=_doc("How far back to look for repeats; 0 off, -1 the whole context.")
    )
    presence_penalty: float = field(default=0.0, metadata=_doc("Penalty for any repeated token."))
    frequency_penalty: float = field(
        default=0.0, metadata=_doc("Penalty growing with each repetition.")
    )
    stop: tuple[str, ...] = field(default=(), metadata=_doc("Strings that end the reply."))
    mirostat: int = field(default=0, metadata=_doc("Mirostat sampling: 0 off, 1 or 2."))
    mirostat_tau: float = field(default=5.0, metadata=_doc("Mirostat target entropy."))
    mirostat_eta: float = field(default=0.1, metadata=_doc("Mirostat learning rate."))

    def merged(self, overrides: Mapping[str, Any] | None) -> Options:
        """A copy with `overrides` applied, each coerced to its option's type."""
        if not overrides:
            return self
        changes = {name: coerce(name, value) for name, value in overrides.items()}
        return dataclasses.replace(self, **changes)

    def load_key(self) -> tuple[Any, ...]:
        """What a loaded model depends on: a change here means a reload."""
        return tuple(getattr(self, name) for name in LOAD_OPTIONS)

    def changed(self) -> dict[str, Any]:
        """The options that differ from the defaults."""
        return {
            name: getattr(self, name)
            for name in OPTION_TYPES
            if getattr(self, name) != getattr(DEFAULTS, name)
        }


LOAD_OPTIONS = (
    "num_ctx", "num_batch", "num_gpu", "main_gpu", "num_thread", "use_mmap",
    "flash_attention", "kv_cache_type",
)  # fmt: skip
OPTION_TYPES: dict[str, type] = {
    f.name: (
        tuple
        if f.name == "stop"
        else {"int": int, "float": float, "bool": bool, "str": str}[str(f.type)]
    )
    for f in dataclasses.fields(Options)
}
# Options that take one of a few words.
CHOICES: dict[str, tuple[str, ...]] = {"kv_cache_type": ("f16", "q8_0", "q4_0")}
OPTION_DOCS: dict[str, str] = {f.name: f.metadata["doc"] for f in dataclasses.fields(Options)}
DEFAULTS = Options()

_RANGES: dict[str, tuple[float, float]] = {
    "num_ctx": (1, 2**31 - 1),
    "num_batch": (1, 2**31 - 1),
    "num_thread": (0, 1024),
    "num_predict": (-2, 2**31 - 1),
    "top_k": (0, 2**31 - 1),
    "top_p": (0.0, 1.0),
    "min_p": (0.0, 1.0),
    "typical_p": (0.0, 1.0),
    "temperature": (0.0, 100.0),
    "repeat_last_n": (-1, 2**31 - 1),
    "mirostat": (0, 2),
    "num_gpu": (-1, 2**31 - 1),
    "main_gpu": (0, 1024),
}
_TRUE = {"true", "1", "yes", "on"}
_FALSE = {"false", "0", "no", "off"}


def suggest(name: str) -> str:
    """' (did you mean X?)' for a near miss among the option names, else ''."""
    close = difflib.get_close_matches(name, OPTION_TYPES, n=1, cutoff=0.6)
    return f" (did you mean {close[0]}?)" if close else ""


def coerce(name: str, value: Any) -> Any:
    """`value` as option `name` wants it; strings are parsed (from a CLI or a Modelfile)."""
    kind = OPTION_TYPES.get(name)
    if kind is None:
        raise OptionError(f"unknown option {name!r}{suggest(name)}")
    if kind is str:
        text = str(value).strip().lower()
        if text not in CHOICES[name]:
            raise OptionError(
                f"option {name} must be one of {', '.join(CHOICES[name])}, not {value!r}"
            )
        return text
    try:
        if kind is tuple:
            items = [value] if isinstance(value, str) else list(value)
            if not all(isinstance(item, str) for item in items):
                raise TypeError
            return tuple(items)
        if kind is bool:
            if isinstance(value, bool):
                return value
            text = str(value).strip().lower()
            if text in _TRUE | _FALSE:
                return text in _TRUE
            raise ValueError
        if isinstance(value, bool):
            raise TypeError
        if kind is int:
            number: float = int(value) if not isinstance(value, float) else _exact_int(value)
        else:
            number = float(value)
    except (TypeError, ValueError):
        wanted = {int: "an integer", float: "a number", bool: "true or false", tuple: "text"}[kind]
        raise OptionError(f"option {name} must be {wanted}, not {value!r}") from None
    low, high = _RANGES.get(name, (float("-inf"), float("inf")))
    if not low <= number <= high or number != number:
        raise OptionError(
            f"option {name} must be between {_number(low)} and {_number(high)}, not {value!r}"
        )
    return number


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else f"{value:g}"


def _exact_int(value: float) -> int:
    if not value.is_integer():
        raise ValueError
    return int(value)


_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}


def parse_keep_alive(value: str | float) -> float:
    """Seconds from Ollama's keep_alive forms: a number of seconds, or '5m', '1h30m', '10s';
    0 unloads at once and a negative value keeps the model loaded for good."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return _keep_alive_in_range(float(value), value)
    text = str(value).strip().lower()
    try:
        return _keep_alive_in_range(float(text), value)
    except ValueError:
        pass
    sign = -1.0 if text.startswith("-") else 1.0
    rest, total = text.lstrip("+-"), 0.0
    parts = re.findall(r"(\d+(?:\.\d+)?)(ms|s|m|h)", rest)
    if not parts or "".join(n + u for n, u in parts) != rest:
        raise OptionError(f"keep_alive must be seconds or a duration like 5m or 1h, not {value!r}")
    for number, unit in parts:
        total += float(number) * _UNITS[unit]
    return _keep_alive_in_range(sign * total, value)


MAX_KEEP_ALIVE = 10 * 365 * 24 * 3600.0  # seconds: longer waits overflow the thread's timer


def _keep_alive_in_range(seconds: float, given: object) -> float:
    if seconds != seconds or seconds > MAX_KEEP_ALIVE:  # NaN, or centuries
        raise OptionError(
            f"keep_alive {given} is too long: at most 10 years (87600h); "
            "a negative value keeps the model loaded for good"
        )
    return seconds


# Ollama's server-wide switches, honoured here as defaults (under the settings' [parameters],
# a Modelfile and a request); LLMTUI_* first where both are set.
ENVIRONMENT = {
    "flash_attention": ("LLMTUI_FLASH_ATTENTION", "OLLAMA_FLASH_ATTENTION"),
    "kv_cache_type": ("LLMTUI_KV_CACHE_TYPE", "OLLAMA_KV_CACHE_TYPE"),
}


def environment_options(environ: Mapping[str, str]) -> dict[str, Any]:
    """The options the environment sets; OptionError naming the variable if one is wrong."""
    options: dict[str, Any] = {}
    for name, variables in ENVIRONMENT.items():
        for variable in variables:
            value = environ.get(variable, "").strip()
            if value:
                try:
                    options[name] = coerce(name, value)
                except OptionError as error:
                    raise OptionError(f"{variable}={value}: {error}") from None
                break
    return options


PARALLEL_VARIABLES = ("LLMTUI_NUM_PARALLEL", "OLLAMA_NUM_PARALLEL")
MOST_PARALLEL = 64
AUTO_PARALLEL = 4  # answered at once where `parallel` is 0 (auto) and memory allows


def check_parallel(value: int, source: str = "num_parallel") -> int:
    """Requests a model answers at once: 0 (as many as fit, up to 4) to 64."""
    if not 0 <= value <= MOST_PARALLEL:
        raise OptionError(f"{source} is the number of requests a model answers at once: "
                          f"0 (as memory allows) to {MOST_PARALLEL}, not {value}")  # fmt: skip
    return value


def environment_parallel(environ: Mapping[str, str]) -> int | None:
    """`num_parallel` as the environment sets it (Ollama's OLLAMA_NUM_PARALLEL), if it does."""
    for variable in PARALLEL_VARIABLES:
        value = environ.get(variable, "").strip()
        if value:
            if not value.isdigit():
                raise OptionError(f"{variable}={value}: not a number of requests")
            return check_parallel(int(value), variable)
    return None
