"""Mutual exclusion under contention: N processes each do M read-modify-write increments of one
counter object under ``backend.lock``. The final count must be exact (no lost update) and no two
holders' intervals may overlap. Contention surfaces as StackLocked, which the workers retry with
jittered backoff, as a CI job would.

Sizes: the issue's 8 x 25 on local files, GCS and PostgreSQL. moto and Azurite answer in tens of
milliseconds per request (an increment costs about six requests, ~170 ms on moto, so 8 x 25 on S3
needs over 35 s even without contention): the normal suite runs 8 x 8 on S3 and 8 x 10 on Azure,
about a minute for the module on a loaded 2-CPU machine. PULUMI_DIY_TEST_FULL_LOCKS=1 runs 8 x 25
on every kind.
"""

from __future__ import annotations

import itertools
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

SRC = Path(__file__).resolve().parents[2] / "src"
COUNTER = "counter.txt"

FULL = os.environ.get("PULUMI_DIY_TEST_FULL_LOCKS", "") == "1"
SIZES = {"file": (8, 25), "s3": (8, 8), "gcs": (8, 25), "azure": (8, 10), "postgres": (8, 25)}
if FULL:
    SIZES = dict.fromkeys(SIZES, (8, 25))
# First back-off step of a refused worker: about one critical section on that store.
BACKOFF = {"file": 0.005, "s3": 0.1, "gcs": 0.1, "azure": 0.1, "postgres": 0.02}

_WORKER = r"""
import json, random, sys, time
from pulumi_diy.backend.backend import open_backend
from pulumi_diy.backend.layout import StackRef
from pulumi_diy.config import resolve_settings
from pulumi_diy.errors import StackLocked

url, env, increments, log_path, key, first = sys.argv[1], json.loads(sys.argv[2]), int(sys.argv[3]), \
    sys.argv[4], sys.argv[5], float(sys.argv[6])
backend = open_backend(settings=resolve_settings(backend=url, environ=env), use_cache=False)
ref = StackRef("bench", "counter")
rng = random.Random()
refusals = 0
began = time.monotonic()
with open(log_path, "w") as log:
    for _ in range(increments):
        delay = first
        while True:
            try:
                with backend.lock(ref, reason="increment"):
                    entered = time.monotonic_ns()
                    value = int(backend.store.read(key))
                    backend.store.write(key, str(value + 1).encode())
                    left = time.monotonic_ns()
                break
            except StackLocked:
                refusals += 1
                time.sleep(rng.uniform(delay / 2, delay))
                delay = min(delay * 2, 10 * first)
        log.write(f"{entered} {left}\n")
        log.flush()
print(refusals, time.monotonic() - began)
"""


@pytest.mark.parametrize("kind", list(SIZES))
def test_no_lost_update_and_no_overlap(kind: str, target_factory: Any, tmp_path: Path) -> None:
    processes, increments = SIZES[kind]
    target = target_factory(kind)
    backend = target.open(use_cache=False)
    backend.store.write(COUNTER, b"0")
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("PULUMI_")}, **target.env,
           "PULUMI_DIY_CACHE_DIR": str(tmp_path / "cache")}
    logs = [tmp_path / f"worker-{i}.log" for i in range(processes)]
    started = time.monotonic()
    procs = [subprocess.Popen([sys.executable, "-c", _WORKER, target.url, json.dumps(env), str(increments),
                               str(log), COUNTER, str(BACKOFF[kind])],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                              env={**env, "PYTHONPATH": str(SRC)})
             for log in logs]
    outputs = []
    try:
        for p in procs:
            out, err = p.communicate(timeout=max(5.0, (600 if FULL else 90) - (time.monotonic() - started)))
            assert p.returncode == 0, f"worker failed:\n{err[-3000:]}"
            outputs.append(out)
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait()
    elapsed = time.monotonic() - started

    assert int(backend.store.read(COUNTER)) == processes * increments, "a lost update"
    intervals = sorted(tuple(map(int, line.split())) for log in logs for line in log.read_text().splitlines())
    assert len(intervals) == processes * increments
    for (_, prev_end), (start, _) in itertools.pairwise(intervals):
        assert start >= prev_end, "two holders overlapped"
    assert backend.store.list(".pulumi/locks") == [], "every lock was released"
    refusals = sum(int(o.split()[0]) for o in outputs)
    busy = max(float(o.split()[1]) for o in outputs)
    print(f"{kind}: {processes}x{increments} in {elapsed:.1f}s ({busy:.1f}s after start-up), "
          f"{refusals} refused attempts")
