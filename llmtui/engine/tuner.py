"""How many threads a generating model uses, chosen while it generates.

llama.cpp splits every operation of a token across its threads and waits for all of them at
a barrier; when another process takes a core, every barrier waits for the thread that lost
it, and two threads on two cores fall below one (30-35 against 58-62 tok/s here with one
core busy). llama.cpp takes a new count between two decodes, so the tuner moves while the
model generates, by two signals:
- the time of each token: two in a row over 1.5x the recent median at this count (load
  arrived: context growth slows tokens by a few percent over hundreds of tokens, load by
  half or more from one token to the next) start a probe of one thread fewer;
- every 8 tokens, the OS's count of runnable tasks besides the model's own threads (the
  least of the last three snapshots, as one snapshot catches passing tasks): when it leaves
  more cores (or fewer) than the model uses, a probe of one thread more (or fewer).
A probe measures a few tokens at the new count and keeps it only if it is faster than the
count it left; it is abandoned at its first slow token. A failed probe doubles the wait
before the next one the OS count asks for. Where the OS gives no count, probes up come by
the clock alone. A model never uses more than its share of the cores while several
generate at once.
"""

from __future__ import annotations

import statistics
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

SLOW = 1.5  # a token this much slower than the recent median at its count is slow
FASTER = 0.95  # a probe must beat the count it left by 5% to be kept
PROBE_TOKENS = 4  # tokens a probe measures (after the one that wakes its threads)
CHECK = 8  # tokens between two looks at the OS's runnable tasks
FIRST_WAIT = 8  # tokens before a probe, doubled after each failed one...
LONGEST_WAIT = 512  # ...up to this
HISTORY = 16  # token times kept per count


@dataclass
class _Probe:
    count: int  # the count being tried
    back: int  # the count to go back to
    times: list[int] = field(default_factory=list)
    warm: bool = False  # the first token after a switch wakes threads: not counted


class ThreadTuner:
    """One model's thread count. `observe` each single-token decode's duration; it returns
    the count to use for the next decode."""

    def __init__(
        self,
        most: int,
        share: Callable[[], int] | None = None,
        others_runnable: Callable[[], int | None] | None = None,
    ) -> None:
        self.most = max(1, most)
        self._share = share or (lambda: self.most)
        self._others = others_runnable or (lambda: None)
        self.current = self.most
        self._times: dict[int, deque[int]] = {}
        self._hints: deque[int] = deque(maxlen=3)
        self._probe: _Probe | None = None
        self._wait = FIRST_WAIT
        self._since = 0  # tokens since the count last changed
        self._slow = 0  # slow tokens in a row
        self.switches = 0

    def limit(self) -> int:
        return max(1, min(self.most, self._share()))

    def start(self) -> int:
        """At the start of a request: the count to begin with (what measured fastest last,
        within this model's share of the cores)."""
        self._probe = None
        self._slow = 0
        self.current = min(self.current, self.limit())
        return self.current

    def observe(self, ns: int) -> int:
        """After a token that took `ns` to decode: the count for the next one."""
        probe = self._probe
        if probe is not None:
            return self._observe_probe(probe, ns)
        times = self._times.setdefault(self.current, deque(maxlen=HISTORY))
        typical = statistics.median(times) if len(times) >= 4 else None
        times.append(ns)
        self._since += 1
        if typical is not None and ns > SLOW * typical:
            self._slow += 1
            if self._slow >= 2 and self.current > 1:
                # Tokens turned slow at once: fewer threads are measured against the slow ones.
                slow = list(times)[-2:]
                times.clear()
                times.extend(slow)
                return self._begin(self.current - 1)
        else:
            self._slow = 0
        if self._since % CHECK == 0:
            return self._check()
        return self.current

    def _check(self) -> int:
        limit = self.limit()
        if self.current > limit:
            return self._switch(limit)  # another model began to generate: its share
        others = self._others()
        if others is not None:
            self._hints.append(others)
        waited = self._since >= self._wait
        if others is None:
            return (
                self._begin(self.current + 1) if waited and self.current < limit else self.current
            )
        target = max(1, min(limit, limit - min(self._hints)))
        if waited and target != self.current:
            return self._begin(self.current + (1 if target > self.current else -1))
        return self.current

    def _begin(self, count: int) -> int:
        self._probe = _Probe(count, self.current)
        return self._switch(count)

    def _switch(self, count: int) -> int:
        if count != self.current:
            self.switches += 1
        self.current = count
        self._since = 0
        self._slow = 0
        return count

    def _observe_probe(self, probe: _Probe, ns: int) -> int:
        if not probe.warm:
            probe.warm = True
            return self.current
        back = self._times.get(probe.back)
        reference = statistics.median(back) if back and len(back) >= 2 else None
        probe.times.append(ns)
        if reference is not None and ns > SLOW * reference:
            return self._end(probe, kept=False)  # abandoned at its first slow token
        if len(probe.times) < PROBE_TOKENS:
            return self.current
        kept = reference is None or statistics.median(probe.times) < FASTER * reference
        return self._end(probe, kept)

    def _end(self, probe: _Probe, kept: bool) -> int:
        self._probe = None
        times = self._times.setdefault(probe.count, deque(maxlen=HISTORY))
        times.clear()
        times.extend(probe.times)
        if kept:
            # Conditions changed: what was measured or counted before no longer holds.
            self._wait = FIRST_WAIT
            self._hints.clear()
            if probe.back in self._times:
                self._times[probe.back].clear()
            return self._switch(probe.count)
        self._wait = min(LONGEST_WAIT, self._wait * 2)
        return self._switch(probe.back)
