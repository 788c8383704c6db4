"""Is it still the same model? Greedy replies with flash attention on and off and with each KV
cache type, against flash attention off with an f16 cache (llama-cpp-python's default).

For each prompt, each setting's greedy reply is tokenised with the model's vocabulary and
compared with the reference: the share of tokens before the first divergence, the share of
positions with the same token, and where the first divergence falls. Numerics differ between
the kernels, so replies may part after a near-tie between two tokens; a model that still
answers sensibly parts late or not at all.

    python bench/fidelity.py [--model smollm2:135m] [--tokens 128]
"""

from __future__ import annotations

import argparse
import statistics
import sys

from llama_cpp import Llama

from llmtui import library
from llmtui.engine import Engine, Message

PROMPTS = [
    "What is the capital of France?",
    "Write a Python function that reverses a string.",
    "List five fruits.",
    "Explain photosynthesis in two sentences.",
    "What is 12 times 12?",
    "Write a haiku about the sea.",
    "Who wrote Romeo and Juliet?",
    "Give three tips for a job interview.",
    "Translate 'good morning' into Spanish.",
    "Why is the sky blue?",
]
SETTINGS = {
    "fa off, f16 (reference)": (False, "f16"),
    # Reloaded between the two: the engine is deterministic, so this row is all identical.
    "fa off, f16 (again)": (False, "f16"),
    "fa on, f16": (True, "f16"),
    "fa on, q8_0": (True, "q8_0"),
    "fa on, q4_0": (True, "q4_0"),
}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", default="smollm2:135m")
    parser.add_argument("--tokens", type=int, default=128)
    args = parser.parse_args()
    spec = library.find(args.model).spec()
    engine = Engine()
    vocab = Llama(str(spec.path), vocab_only=True, verbose=False)
    replies: dict[str, list[list[int]]] = {}
    for label, (flash, kv_type) in SETTINGS.items():
        options = {
            "temperature": 0,
            "repeat_penalty": 1.0,
            "num_predict": args.tokens,
            "flash_attention": flash,
            "kv_cache_type": kv_type,
        }
        replies[label] = []
        engine.unload(spec.name)
        engine.wait_unloaded(spec.name)
        for prompt in PROMPTS:
            done = engine.chat(spec, [Message("user", prompt)], options).wait()
            replies[label].append(vocab.tokenize(done.text.encode(), add_bos=False))
    engine.close()

    reference = replies[next(iter(SETTINGS))]
    print(f"{spec.name}, {len(PROMPTS)} prompts, greedy, up to {args.tokens} tokens each")
    print(f"  {'':26}{'identical':>10}{'prefix':>8}{'same pos':>10}  first divergence")
    for label, runs in list(replies.items())[1:]:
        prefixes, same, firsts = [], [], []
        for ref, got in zip(reference, runs, strict=True):
            length = max(len(ref), len(got), 1)
            first = next(
                (i for i, (a, b) in enumerate(zip(ref, got, strict=False)) if a != b),
                min(len(ref), len(got)),
            )
            if ref == got:
                first = length
            prefixes.append(first / length)
            same.append(sum(a == b for a, b in zip(ref, got, strict=False)) / length)
            if first < length:
                firsts.append(first)
        identical = sum(ref == got for ref, got in zip(reference, runs, strict=True))
        where = ", ".join(str(f) for f in sorted(firsts)) or "none"
        print(
            f"  {label:26}{identical:>5}/{len(PROMPTS):<4}{statistics.mean(prefixes):8.2f}"
            f"{statistics.mean(same):10.2f}  {where}"
        )
    print("  prefix: share of tokens before the first divergence; same pos: share of positions")
    print("  with the same token; first divergence: token index, per prompt that diverged")
    return 0


if __name__ == "__main__":
    sys.exit(main())
