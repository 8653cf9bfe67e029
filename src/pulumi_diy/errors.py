"""Every error condition pulumi-diy reports, each carrying its process exit code.

The library raises these; the CLI catches :class:`PulumiDiyError` once (``cli/app.py``) and
prints ``error: <message>`` on one line, exiting with ``exit_code``. Nothing here imports
Typer or Rich.
"""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    """Process exit codes. Stable: scripts depend on them (documented in the README)."""

    OK = 0
    ERROR = 1  # unexpected failure (a bug, or an error without a better class)
    USAGE = 2  # bad arguments, bad backend URL, no backend configured
    NOT_FOUND = 3  # stack, version, lock or object does not exist
    LOCKED = 4  # the stack is locked by someone else
    CORRUPT = 5  # corrupt or truncated input (JSON, gzip, zstd, YAML, lock file)
    UNSUPPORTED = 6  # unknown checkpoint/meta version or feature
    SECRETS = 7  # wrong passphrase, undecryptable secret, unknown secrets provider
    UNREACHABLE = 8  # backend cannot be reached (network, connection refused, DNS)
    DENIED = 9  # backend refused access (credentials, permissions)
    BACKEND_MISSING = 10  # bucket, container, directory or database table does not exist
    TIMEOUT = 11  # a wait ran out of time (lock wait)
    NO_MATCH = 12  # a filter matched nothing (e.g. lock break)
    DEPENDENCY = 13  # an optional extra is not installed
    CONFLICT = 14  # concurrent modification / precondition failed / already exists
    INTERRUPTED = 130  # SIGINT / SIGTERM


EXIT_CODE_MEANINGS: dict[ExitCode, str] = {
    ExitCode.OK: "success",
    ExitCode.ERROR: "unexpected error (a bug: please report it; `--debug` shows the traceback)",
    ExitCode.USAGE: "usage: bad arguments, bad backend URL, no backend configured, confirmation needed without `--yes`",
    ExitCode.NOT_FOUND: "not found: stack, version, lock or object",
    ExitCode.LOCKED: "the stack is locked by someone else",
    ExitCode.CORRUPT: "corrupt input: invalid JSON/YAML, truncated gzip/zstd, malformed file",
    ExitCode.UNSUPPORTED: "unsupported: unknown checkpoint, deployment or meta.yaml version, or unknown feature",
    ExitCode.SECRETS: "secrets: wrong or missing passphrase, undecryptable secret, unknown secrets provider",
    ExitCode.UNREACHABLE: "backend unreachable (network, connection refused)",
    ExitCode.DENIED: "access denied by the backend",
    ExitCode.BACKEND_MISSING: "the bucket, container, directory or table does not exist",
    ExitCode.TIMEOUT: "timed out (e.g. `lock wait`)",
    ExitCode.NO_MATCH: "nothing matched (e.g. `lock break` filters)",
    ExitCode.DEPENDENCY: "an optional dependency (extra) is not installed",
    ExitCode.CONFLICT: "conflict: the object exists already or changed concurrently",
    ExitCode.INTERRUPTED: "interrupted",
}
"""What each exit code means; the README table, the man page and docs/cli.md say the same."""


class PulumiDiyError(Exception):
    """Base class of every error pulumi-diy raises on purpose."""

    exit_code: ExitCode = ExitCode.ERROR

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


# --- usage and configuration -------------------------------------------------------------


class UsageError(PulumiDiyError):
    exit_code = ExitCode.USAGE


class InvalidBackendURL(UsageError):
    """The backend URL cannot be parsed or has parameters Pulumi would reject."""


class NoBackendConfigured(UsageError):
    """Neither --backend, PULUMI_BACKEND_URL nor ~/.pulumi/credentials.json names a backend."""


class InvalidStackReference(UsageError):
    """A stack reference is not `stack`, `project/stack` or `organization/project/stack`."""


class ConfirmationRequired(UsageError):
    """A destructive command needs confirmation but no TTY is attached and --yes was not given."""


class MissingDependency(PulumiDiyError):
    """An optional extra (s3fs, gcsfs, adlfs, psycopg, a KMS SDK) is not installed."""

    exit_code = ExitCode.DEPENDENCY

    def __init__(self, module: str, extra: str) -> None:
        super().__init__(f"{module} is not installed; install it with: pip install 'pulumi-diy[{extra}]'")
        self.module = module
        self.extra = extra


# --- not found -----------------------------------------------------------------------------


class NotFound(PulumiDiyError):
    exit_code = ExitCode.NOT_FOUND


class ObjectNotFound(NotFound):
    """A key does not exist in the backend."""


class StackNotFound(NotFound):
    """No checkpoint exists for the stack."""


class VersionNotFound(NotFound):
    """A history version does not exist."""


# --- content ---------------------------------------------------------------------------------


class CorruptInput(PulumiDiyError):
    """A file's bytes cannot be understood (truncated compression, invalid JSON/YAML, bad shape)."""

    exit_code = ExitCode.CORRUPT


class CheckpointCorrupt(CorruptInput):
    """A checkpoint file is unreadable or fails Pulumi's integrity rules."""


class MetaCorrupt(CorruptInput):
    """`.pulumi/meta.yaml` is empty, has no version, or is not valid YAML."""


class Unsupported(PulumiDiyError):
    exit_code = ExitCode.UNSUPPORTED


class UnsupportedVersion(Unsupported):
    """A checkpoint, deployment or meta.yaml version pulumi-diy does not know."""


class UnsupportedFeature(Unsupported):
    """A version-4 checkpoint lists a feature pulumi-diy does not implement."""


# --- locks -------------------------------------------------------------------------------------


class StackLocked(PulumiDiyError):
    """Someone else holds a lock on the stack."""

    exit_code = ExitCode.LOCKED


class LockTimeout(PulumiDiyError):
    exit_code = ExitCode.TIMEOUT


class NothingMatched(PulumiDiyError):
    exit_code = ExitCode.NO_MATCH


class Conflict(PulumiDiyError):
    """A precondition failed: the object already exists or changed under us."""

    exit_code = ExitCode.CONFLICT


class ObjectExists(Conflict):
    """An exclusive create found the key already present."""


# --- secrets -----------------------------------------------------------------------------------


class SecretsError(PulumiDiyError):
    exit_code = ExitCode.SECRETS


class IncorrectPassphrase(SecretsError):
    pass


class PassphraseRequired(SecretsError):
    pass


class DecryptionFailed(SecretsError):
    pass


class UnknownSecretsProvider(SecretsError):
    pass


# --- storage -----------------------------------------------------------------------------------


class StorageError(PulumiDiyError):
    """A storage operation failed for a reason not covered by a subclass."""

    exit_code = ExitCode.ERROR


class BackendUnreachable(StorageError):
    exit_code = ExitCode.UNREACHABLE


class AccessDenied(StorageError):
    exit_code = ExitCode.DENIED


class BackendMissing(StorageError):
    """The bucket, container, directory or table named by the URL does not exist."""

    exit_code = ExitCode.BACKEND_MISSING


class Interrupted(PulumiDiyError):
    exit_code = ExitCode.INTERRUPTED
