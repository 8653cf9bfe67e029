"""Timing and memory: interleaved repeats of several implementations, medians, tracemalloc peaks."""

from __future__ import annotations

import gc
import statistics
import time
import tracemalloc
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Impl:
    """One way of answering: ``run(arg)`` is timed; ``setup()`` (untimed) prepares its argument."""

    run: Callable[[Any], Any]
    setup: Callable[[], Any] = lambda: None
    teardown: Callable[[Any], None] = lambda arg: None


@dataclass
class Sample:
    seconds: list[float] = field(default_factory=list)
    peak_bytes: int | None = None

    @property
    def median(self) -> float | None:
        return statistics.median(self.seconds) if self.seconds else None


def _once(impl: Impl, *, trace: bool) -> tuple[float, int | None]:
    arg = impl.setup()
    gc.collect()
    peak = None
    if trace:
        tracemalloc.start()
    start = time.perf_counter()
    try:
        result = impl.run(arg)
        elapsed = time.perf_counter() - start
        if trace:
            peak = tracemalloc.get_traced_memory()[1]
        del result
    finally:
        if trace:
            tracemalloc.stop()
        impl.teardown(arg)
    return elapsed, peak


def compare(impls: dict[str, Impl], repeat: int, *, memory: bool = True) -> dict[str, Sample]:
    """Run every implementation ``repeat`` times, interleaved (so drift hits all alike), then once more
    each under tracemalloc for the peak of Python allocations (not timed: tracing slows code down)."""
    samples = {name: Sample() for name in impls}
    for _ in range(repeat):
        for name, impl in impls.items():
            samples[name].seconds.append(_once(impl, trace=False)[0])
    if memory:
        for name, impl in impls.items():
            samples[name].peak_bytes = _once(impl, trace=True)[1]
    return samples
