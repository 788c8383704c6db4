"""Facts about this machine that the engine decides by."""

from __future__ import annotations

import functools
import os
import platform
import subprocess

import psutil


@functools.cache
def _this_process() -> psutil.Process:
    return psutil.Process()  # reads /proc once, not at each of ten stats a second


def rss_bytes() -> int:
    """This process's resident memory."""
    return int(_this_process().memory_info().rss)


def available_memory() -> int:
    """Memory that a new model could use without swapping."""
    return int(psutil.virtual_memory().available)


def runnable_tasks() -> int | None:
    """Threads the OS counts as running or ready to run now, machine-wide (Linux; None
    elsewhere). A snapshot: cheap (one small read), and noisy."""
    try:
        with open("/proc/loadavg", "rb") as handle:
            return int(handle.read().split()[3].split(b"/")[0])
    except (OSError, IndexError, ValueError):
        return None


def runnable_threads_here() -> int | None:
    """This process's threads that are running or ready to run now (Linux; None elsewhere)."""
    try:
        tasks = os.listdir("/proc/self/task")
    except OSError:
        return None
    running = 0
    for task in tasks:
        try:
            with open(f"/proc/self/task/{task}/stat", "rb") as handle:
                # The state follows the command name, which is in parentheses.
                running += handle.read().rpartition(b")")[2].split()[0] == b"R"
        except (OSError, IndexError):
            continue  # a thread that ended meanwhile
    return running


def usable_cpus() -> int:
    """Logical CPUs this process may run on."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


@functools.cache
def physical_cores() -> int:
    """Cores llama.cpp should use for generation.

    Token generation is bound by memory bandwidth and one thread per physical core is fastest;
    hyper-threads and efficiency cores only add contention. Measured on a 2-core machine:
    llama-cpp-python's default (half the logical CPUs, 1 thread) 42 tok/s, 2 threads 69."""
    cores = _linux_physical_cores() or _mac_performance_cores() or psutil.cpu_count(logical=False)
    counts = [n for n in (usable_cpus(), cores, os.cpu_count()) if n]
    return max(1, min(counts)) if counts else 1


def _linux_physical_cores() -> int | None:
    try:
        with open("/proc/cpuinfo", encoding="ascii", errors="replace") as handle:
            text = handle.read()
    except OSError:
        return None
    cores: set[tuple[str, str]] = set()
    physical = core = ""
    for line in text.splitlines():
        key, _, value = line.partition(":")
        key = key.strip()
        if key == "physical id":
            physical = value.strip()
        elif key == "core id":
            core = value.strip()
            cores.add((physical, core))
    return len(cores) or None


def _mac_performance_cores() -> int | None:
    if platform.system() != "Darwin":
        return None
    try:
        out = subprocess.run(
            ["sysctl", "-n", "hw.perflevel0.physicalcpu"],
            capture_output=True,
            text=True,
            timeout=2,
            check=True,
        )
        return int(out.stdout.strip())
    except (OSError, ValueError, subprocess.SubprocessError):
        return None
