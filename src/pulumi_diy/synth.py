"""Synthetic, realistic DIY backends: the demo backend, test fixtures and benchmark data.

Everything is written the way Pulumi >= 3.238 writes it (compact Go JSON, `.bak` before overwrite,
history pairs and backups after each update, lock files), through the library's own encoder and
store, so the result reads back in the real Pulumi CLI. Generation is deterministic for a seed
(except AES-GCM nonces, which are random by design).
"""

from __future__ import annotations

import os
import random
import uuid
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any

from .backend.layout import StackRef

if TYPE_CHECKING:
    from .backend.backend import Backend

PULUMI_VERSION = "v3.259.0"
_TYPES = [
    ("aws:s3/bucketV2:BucketV2", "bucket"),
    ("aws:iam/role:Role", "role"),
    ("aws:ec2/securityGroup:SecurityGroup", "sg"),
    ("aws:lambda/function:Function", "fn"),
    ("aws:sqs/queue:Queue", "queue"),
    ("aws:dynamodb/table:Table", "table"),
    ("random:index/randomPassword:RandomPassword", "password"),
]


@dataclass
class SynthSpec:
    """What to generate."""

    projects: list[str] = field(default_factory=lambda: ["infra", "web"])
    stacks: list[str] = field(default_factory=lambda: ["dev", "prod"])
    resources: int = 12
    history: int = 4
    backups: int = 4
    passphrase: str = "demo-passphrase"
    seed: int = 7
    base_time: datetime = field(default_factory=lambda: datetime(2026, 10, 1, 9, 0, tzinfo=timezone.utc))
    compression: dict[str, str] = field(default_factory=dict)  # "project/stack" -> "gzip" | "zstd"
    indented: set[str] = field(default_factory=set)  # "project/stack" written in the pre-3.238 style
    stale_locks: set[str] = field(default_factory=set)
    tags: dict[str, dict[str, str]] = field(default_factory=dict)
    pending: set[str] = field(default_factory=set)  # stacks with an interrupted update
    legacy: bool = False
    payload_bytes: int = 0  # extra output bytes per resource (to make large states)
    salt_per_stack: bool = False  # each stack its own passphrase salt, as `pulumi stack init` does
    workers: int = 1  # > 1: write through the store concurrently (each key's final bytes are the same)


@dataclass
class SynthReport:
    stacks: list[str]
    files: int
    bytes: int
    configs: dict[str, str]  # "project/stack" -> Pulumi.<stack>.yaml text


def _go_time(dt: datetime) -> str:
    from .state.gojson import format_go_time

    return format_go_time(dt)


def _manifest(when: datetime) -> dict[str, Any]:
    from .state.integrity import expected_magic

    return {"time": _go_time(when), "magic": expected_magic(PULUMI_VERSION), "version": PULUMI_VERSION}


class _StackBuilder:
    def __init__(self, spec: SynthSpec, ref: StackRef, rng: random.Random, manager: Any) -> None:
        self.spec, self.ref, self.rng, self.manager = spec, ref, rng, manager
        self.project = ref.project or "legacy"
        self.prefix = f"urn:pulumi:{ref.name}::{self.project}::"

    def urn(self, qualified_type: str, name: str) -> str:
        return f"{self.prefix}{qualified_type}::{name}"

    def secret(self, value: Any) -> dict[str, Any]:
        from .secrets.values import encrypt_secret_value

        return encrypt_secret_value(value, self.manager)

    def deployment(self, n_resources: int, when: datetime, *, pending: bool = False) -> dict[str, Any]:
        rng = random.Random(f"{self.spec.seed}/{self.ref}/{n_resources}")
        stack_urn = self.urn("pulumi:pulumi:Stack", f"{self.project}-{self.ref.name}")
        created = _go_time(self.spec.base_time)
        modified = _go_time(when)
        aws = self.urn("pulumi:providers:aws", "default_6_66_0")
        aws_id = str(uuid.UUID(int=rng.getrandbits(128), version=4))
        rnd = self.urn("pulumi:providers:random", "default_4_18_0")
        rnd_id = str(uuid.UUID(int=rng.getrandbits(128), version=4))
        comp_type = f"{self.project}:index:Service"
        comp = self.urn(comp_type, "svc")
        resources: list[dict[str, Any]] = [
            {"urn": stack_urn, "custom": False, "type": "pulumi:pulumi:Stack",
             "outputs": {"endpoint": f"https://{self.project}-{self.ref.name}.example.com",
                         "dbPassword": self.secret(f"pw-{self.project}-{self.ref.name}"),
                         "region": "eu-west-1"},
             "created": created, "modified": modified},
            {"urn": aws, "custom": True, "id": aws_id, "type": "pulumi:providers:aws",
             "inputs": {"__internal": {}, "region": "eu-west-1", "version": "6.66.0"},
             "outputs": {"region": "eu-west-1", "version": "6.66.0"}, "created": created, "modified": created},
            {"urn": rnd, "custom": True, "id": rnd_id, "type": "pulumi:providers:random",
             "inputs": {"version": "4.18.0"}, "outputs": {"version": "4.18.0"}, "created": created,
             "modified": created},
            {"urn": comp, "custom": False, "type": comp_type, "parent": stack_urn, "created": created,
             "modified": created},
        ]
        for i in range(max(n_resources - len(resources), 0)):
            typ, short = _TYPES[i % len(_TYPES)]
            name = f"{short}-{i}"
            urn = self.urn(f"{comp_type}${typ}", name)
            provider = f"{rnd}::{rnd_id}" if typ.startswith("random:") else f"{aws}::{aws_id}"
            rid = f"{short}-{rng.getrandbits(40):010x}"
            inputs: dict[str, Any] = {"tags": {"env": self.ref.name, "project": self.project}}
            outputs: dict[str, Any] = {"id": rid, "arn": f"arn:aws:{short}:eu-west-1:123456789012:{rid}",
                                       "tags": {"env": self.ref.name, "project": self.project}}
            if typ.startswith("random:"):
                inputs = {"length": 24, "special": True}
                outputs = {"length": 24, "special": True, "result": self.secret(f"{rid}-secret")}
            if self.spec.payload_bytes:
                outputs["payload"] = "x" * self.spec.payload_bytes
            res: dict[str, Any] = {"urn": urn, "custom": True, "id": rid, "type": typ, "inputs": inputs,
                                   "outputs": outputs, "parent": comp}
            if i % 5 == 0 and self.ref.name == "prod":
                res["protect"] = True
            if i > 0 and i % 3 == 0:
                prev = resources[-1]["urn"]
                res["dependencies"] = [prev]
                res["propertyDependencies"] = {"tags": [prev]}
            res["provider"] = provider
            res["created"] = created
            res["modified"] = modified
            resources.append(res)
        deployment: dict[str, Any] = {
            "manifest": _manifest(when),
            "secrets_providers": {"type": "passphrase", "state": {"salt": self.manager.state_string}},
            "resources": resources,
        }
        if pending:
            deployment["pending_operations"] = [
                {"resource": {"urn": self.urn(f"{comp_type}$aws:sqs/queue:Queue", "queue-new"), "custom": True,
                              "type": "aws:sqs/queue:Queue", "parent": comp, "provider": f"{aws}::{aws_id}"},
                 "type": "creating"}]
        deployment["metadata"] = {}
        return deployment


def _history_entry(kind: str, start: datetime, seconds: int, message: str, changes: dict[str, int],
                   config: dict[str, Any], author: str) -> dict[str, Any]:
    return {
        "kind": kind,
        "startTime": int(start.timestamp()),
        "message": message,
        "environment": {
            "exec.kind": "cli", "git.author": author, "git.author.email": f"{author.lower()}@example.com",
            "git.dirty": "false", "git.head": f"{abs(hash((message, author))) % 16**12:012x}",
            "git.headName": "refs/heads/main", "pulumi.arch": "amd64", "pulumi.os": "linux",
            "pulumi.version": PULUMI_VERSION, "updatePlan": "false",
        },
        "config": config,
        "version": 0,
        "result": "succeeded",
        "endTime": int(start.timestamp()) + seconds,
        "resourceChanges": changes,
    }


class _Writer:
    """Writes through the store, either at once (``workers`` <= 1) or per stack on a thread pool.

    Concurrent mode keeps only the last bytes written to each key of a stack (what a serial run
    leaves behind) and writes them when the stack is done, so keys never race each other.
    """

    def __init__(self, backend: Backend, workers: int) -> None:
        self.store = backend.store
        self.workers = workers
        self.pending: dict[str, bytes] = {}
        self.futures: set[Future[None]] = set()
        self.pool = ThreadPoolExecutor(max_workers=workers) if workers > 1 else None

    def put(self, key: str, data: bytes) -> None:
        if self.pool is None:
            self.store.write(key, data)
        else:
            self.pending[key] = data

    def flush(self) -> None:
        if self.pool is None:
            return
        for key, data in self.pending.items():
            self.futures.add(self.pool.submit(self.store.write, key, data))
        self.pending = {}
        if len(self.futures) > self.workers * 8:  # bound the bytes held in memory
            done, self.futures = wait(self.futures, return_when="FIRST_COMPLETED")
            for f in done:
                f.result()

    def abort(self) -> None:
        if self.pool is not None:
            self.pool.shutdown(wait=True, cancel_futures=True)

    def close(self) -> None:
        if self.pool is None:
            return
        self.flush()
        try:
            for f in self.futures:
                f.result()
        finally:
            self.pool.shutdown(wait=True, cancel_futures=True)


def _managers(spec: SynthSpec, count: int) -> list[Any]:
    """One passphrase manager for every stack, or a fresh one each (derived concurrently: PBKDF2 drops the GIL)."""
    from .secrets.passphrase import PassphraseManager

    if not spec.salt_per_stack:
        return [PassphraseManager.new(spec.passphrase)] * count
    with ThreadPoolExecutor(max_workers=os.cpu_count() or 1) as pool:
        return list(pool.map(lambda _: PassphraseManager.new(spec.passphrase), range(count)))


def generate(backend: Backend, spec: SynthSpec) -> SynthReport:
    """Write a whole synthetic backend into ``backend`` (which should be empty)."""
    rng = random.Random(spec.seed)
    managers = iter(_managers(spec, len(spec.projects) * len(spec.stacks)))
    writer = _Writer(backend, spec.workers)
    files = 0
    total = 0
    configs: dict[str, str] = {}
    names: list[str] = []

    def put(key: str, data: bytes) -> None:
        nonlocal files, total
        writer.put(key, data)
        files += 1
        total += len(data)

    if not spec.legacy:
        backend.store.write(".pulumi/meta.yaml", b"version: 1\n")
        files, total = 1, len(b"version: 1\n")
    from .backend.layout import Layout

    layout = Layout(project_mode=not spec.legacy)
    try:
        _write_stacks(spec, layout, rng, managers, writer, put, names, configs)
    except BaseException:
        writer.abort()
        raise
    writer.close()
    return SynthReport(names, files, total, configs)


def remove_stack(backend: Backend, ref: StackRef) -> None:
    """What `pulumi stack rm` (without --remove-backups) leaves: the checkpoint copied to `.bak` and
    deleted, the history directory emptied; `backups/` untouched (a deleted stack, as in the demo)."""
    obj = backend.current_object(ref)
    backend.store.copy(obj.key, obj.key + ".bak")
    backend.store.delete(obj.key)
    for o in backend.store.list(backend.layout.history_dir(ref), recursive=False):
        backend.store.delete(o.key)


def _write_stacks(spec: SynthSpec, layout: Any, rng: random.Random, managers: Any, writer: _Writer,
                  put: Any, names: list[str], configs: dict[str, str]) -> None:
    from .state.compression import Compression, compress
    from .state.gojson import dumps

    for project in spec.projects:
        for stack in spec.stacks:
            ref = StackRef(None if spec.legacy else project, stack)
            label = f"{project}/{stack}"
            names.append(str(ref))
            manager = next(managers)
            b = _StackBuilder(spec, ref, rng, manager)
            comp = Compression.GZIP if spec.compression.get(label) == "gzip" else \
                Compression.ZSTD if spec.compression.get(label) == "zstd" else Compression.NONE
            indent = label in spec.indented

            def encode(doc: Any, indent: bool = indent, comp: Compression = comp) -> bytes:
                text = dumps(doc, indent=indent) + (b"\n" if indent else b"")
                return compress(text, comp)

            ext = ".json" + comp.ext
            base = layout.stack_base(ref)
            config = {f"{project}:dbPassword": {"secure": manager.encrypt(f"pw-{project}-{stack}")},
                      "aws:region": "eu-west-1", f"{project}:replicas": "2" if stack == "prod" else "1"}
            previous: bytes | None = None
            updates = max(spec.history, 1)
            step = timedelta(days=3, hours=rng.randint(0, 5))
            for u in range(updates):
                when = spec.base_time + step * (u + 1) + timedelta(minutes=rng.randint(0, 59))
                n = max(4, spec.resources - (updates - 1 - u) * 2)
                is_last = u == updates - 1
                dep = b.deployment(n, when, pending=is_last and label in spec.pending)
                doc = {"version": 3, "checkpoint": {"stack": ref.fqn, "latest": dep}}
                data = encode(doc)
                if previous is not None:
                    put(base + ext + ".bak", previous)
                put(base + ext, data)
                previous = data
                if u >= updates - spec.history:
                    nanos = int(when.timestamp()) * 1_000_000_000 + rng.randint(0, 999_999_999)
                    hdir = layout.history_dir(ref)
                    changes = {"create": n} if u == 0 else {"same": n - 2, "update": 1, "create": 1}
                    entry = _history_entry("update", when, 20 + rng.randint(0, 200),
                                           f"Deploy {project} change #{u + 1}", changes, config,
                                           rng.choice(["Alice", "Bob", "Carol"]))
                    put(f"{hdir}/{stack}-{nanos}.history.json{comp.ext}", encode(entry))
                    put(f"{hdir}/{stack}-{nanos}.checkpoint.json{comp.ext}", data)
                    if u >= updates - spec.backups:
                        put(f"{layout.backups_dir(ref)}/{stack}.{nanos}{ext}", data)
            if label in spec.tags:
                put(layout.tags_key(ref), dumps({"version": 1, "tags": dict(sorted(spec.tags[label].items()))}))
            if label in spec.stale_locks:
                lock_time = spec.base_time - timedelta(days=2)
                lock = {"pid": 999999, "username": "ci", "hostname": "ci-runner-7",
                        "timestamp": _go_time(lock_time)}
                lock_id = uuid.UUID(int=rng.getrandbits(128), version=4)
                put(f"{layout.lock_dir(ref)}/{lock_id}.json", dumps(lock))
            configs[label] = _config_yaml(manager.state_string, config)
            writer.flush()


def _config_yaml(salt: str, config: dict[str, Any]) -> str:
    lines = [f"encryptionsalt: {salt}", "config:"]
    for key in sorted(config):
        value = config[key]
        if isinstance(value, dict) and "secure" in value:
            lines.append(f"  {key}:")
            lines.append(f"    secure: {value['secure']}")
        else:
            lines.append(f"  {key}: \"{value}\"")
    return "\n".join(lines) + "\n"
