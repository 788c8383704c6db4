"""How many threads a generating model uses, chosen while it generates.

llama.cpp splits every operation of a token across its threads and waits for all of them at
a barrier; when another process takes a core, every barrier waits for the thread that lost
it, and two threads on two cores fall below one (30-35 against 58-62 tok/s here with one
core busy). llama.cpp takes a new count between two decodes, so the tuner moves while the
model generates, by these signals:
- the time of each token: two in a row over 1.5x the recent median at this count (load
  arrived: context growth slows tokens by a few percent over hundreds of tokens, load by
  half or more from one token to the next) start a probe of one thread fewer, unless the
  OS counts nothing competing then (a spike: on a VM, a neighbour's burst), when it takes
  six in a row;
- at the start of a request, the OS's count of runnable tasks of other processes: the
  count begins at the cores they leave free (the prompt is evaluated at it too);
- every 8 tokens (the first time two tokens in), that count again (the least of the last
  three snapshots, as one snapshot catches passing tasks): when it leaves more cores (or
  fewer) than the model uses, a probe of one thread more (or fewer); and, four times more
  rarely, a probe up against it (a task the OS counts may take no core: one at the lowest
  priority).
A probe measures a few tokens at the new count and keeps it only if it is faster than the
count it left; it is abandoned at its first slow token. A failed probe doubles the wait
before the next one of its kind. Where the OS gives no count, probes come by the clock
alone (up where the model may use more, else down). A model never uses more than its
share of the cores while several generate at once.
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
DOUBT = 4  # a probe up against the OS count waits this many times longer
SPIKE = 6  # slow tokens in a row that start a probe down though the OS counts no load


@dataclass
class _Probe:
    count: int  # the count being tried
    back: int  # the count to go back to
    by_clock: bool  # asked for by the clock, not by the OS count or slow tokens
    times: list[int] = field(default_factory=list)
    warm: bool = False  # the first token after a switch wakes threads: not counted


class ThreadTuner:
    """One model's thread count. `observe` each single-token decode's duration; it returns
    the count to use for the next decode."""

    def __init__(
        self,
        most: int,
        share: Callable[[], int] | None = None,
        others_runnable: Callable[[bool], int | None] | None = None,
    ) -> None:
        self.most = max(1, most)
        self._share = share or (lambda: self.most)
        # Runnable tasks that compete with this model's threads (True: at the start of a
        # request; see Engine.runnable_elsewhere).
        self._others = others_runnable or (lambda starting: None)
        self.current = self.most
        self._times: dict[int, deque[int]] = {}
        self._hints: deque[int] = deque(maxlen=3)
        self._probe: _Probe | None = None
        self._wait = FIRST_WAIT  # before a probe the OS count asks for
        self._doubt = DOUBT * FIRST_WAIT  # before a probe by the clock
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
        limit = self.limit()
        self.current = min(self.current, limit)
        others = self._others(True)
        if others is not None:
            # Begin where the OS count says (the prompt is evaluated at this count too); a
            # count it got wrong is corrected at the first look, two tokens in.
            self._hints.clear()
            self._hints.append(others)
            self._switch(max(1, min(self.current, limit - others)))
        self._since = CHECK - 2
        return self.current

    def rebase(self) -> int:
        """The work of a decode changed (sequences joined or left the batch): what was timed
        before no longer compares. A probe under way goes back to the count it left."""
        if self._probe is not None:
            back = self._probe.back
            self._probe = None
            self._switch(back)
        self._times.clear()
        self._slow = 0
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
            if self._slow >= 2 and self.current > 1 and not self._spike():
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

    def _spike(self) -> bool:
        """Whether slow tokens look like a passing spike rather than load: the OS counts
        nothing competing with us (on a VM, a neighbour's burst or the host's own work
        slows a few tokens; a probe down was then kept against the slow tokens, and cost
        ~13 tokens at half speed, up to a few times per 256 idle tokens). Tokens that
        stay slow start the probe anyway."""
        if self._slow >= SPIKE:
            return False
        others = self._others(False)
        return others is not None and others == 0

    def _check(self) -> int:
        limit = self.limit()
        if self.current > limit:
            return self._switch(limit)  # another model began to generate: its share
        others = self._others(False)
        if others is not None:
            self._hints.append(others)
        if others is not None:
            target = max(1, min(limit, limit - min(self._hints)))
            if self._since >= self._wait and target != self.current:
                return self._begin(self.current + (1 if target > self.current else -1))
        if self._since >= self._doubt:
            # The OS count may mislead (a task at the lowest priority is runnable too, yet
            # takes no core from us) or be missing: now and then, ask the clock.
            if self.current < limit:
                return self._begin(self.current + 1, by_clock=True)
            if others is None and self.current > 1:
                return self._begin(self.current - 1, by_clock=True)
        return self.current

    def _begin(self, count: int, by_clock: bool = False) -> int:
        self._probe = _Probe(count, self.current, by_clock)
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
            self._wait, self._doubt = FIRST_WAIT, DOUBT * FIRST_WAIT
            self._hints.clear()
            if probe.back in self._times:
                self._times[probe.back].clear()
            return self._switch(probe.count)
        if probe.by_clock:
            self._doubt = min(DOUBT * LONGEST_WAIT, self._doubt * 2)
        else:
            self._wait = min(LONGEST_WAIT, self._wait * 2)
        return self._switch(probe.back)
