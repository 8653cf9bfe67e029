"""stack ls/show/resources/export, backend info and env through the CLI, on a realistic file backend."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest

from pulumi_diy.backend.backend import open_backend
from pulumi_diy.config import resolve_settings
from pulumi_diy.synth import SynthSpec, generate
from tests.cli.helpers import run, run_json

PASS = "synth-pass"


@pytest.fixture(scope="module")
def synth(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, dict[str, str]]:
    root = tmp_path_factory.mktemp("synth")
    url = f"file://{root}"
    env = {"PULUMI_DIY_CACHE_DIR": str(root.parent / "cache"), "HOME": str(root.parent)}
    spec = SynthSpec(projects=["infra", "web"], stacks=["dev", "prod"], resources=9, history=3, backups=2,
                     passphrase=PASS, compression={"web/dev": "gzip", "web/prod": "zstd"}, indented={"infra/dev"},
                     stale_locks={"web/prod"}, tags={"infra/prod": {"team": "platform"}}, pending={"infra/dev"})
    generate(open_backend(settings=resolve_settings(backend=url, environ=env), use_cache=False), spec)
    return url, env


def test_stack_ls_json(synth: tuple[str, dict[str, str]]) -> None:
    url, env = synth
    rows = run_json(["--backend", url, "stack", "ls"], env)
    assert [r["name"] for r in rows] == ["infra/dev", "infra/prod", "web/dev", "web/prod"]
    by = {r["name"]: r for r in rows}
    assert by["web/dev"]["compression"] == "gzip" and by["web/prod"]["compression"] == "zstd"
    assert by["web/prod"]["updateInProgress"] is True and by["web/prod"]["locks"] == 1
    assert by["infra/dev"]["pendingOperations"] == 1
    assert all(r["resourceCount"] == 9 and r["secretsProvider"] == "passphrase" for r in rows)
    assert all(r["lastUpdate"].endswith("Z") for r in rows)
    for key in ("name", "current", "lastUpdate", "updateInProgress", "resourceCount", "project", "stack", "size",
                "secretsProvider", "locks"):
        assert key in rows[0]


def test_stack_ls_filters_and_sort(synth: tuple[str, dict[str, str]]) -> None:
    url, env = synth
    assert [r["name"] for r in run_json(["-b", url, "stack", "ls", "--project", "web"], env)] == ["web/dev", "web/prod"]
    assert [r["name"] for r in run_json(["-b", url, "stack", "ls", "--tag", "team=platform"], env)] == ["infra/prod"]
    assert run_json(["-b", url, "stack", "ls", "--tag", "team=nobody"], env) == []
    sizes = [r["size"] for r in run_json(["-b", url, "stack", "ls", "--sort", "size"], env)]
    assert sizes == sorted(sizes, reverse=True)
    bad = run(["-b", url, "stack", "ls", "--sort", "colour"], env)
    assert bad.exit_code == 2 and "invalid sort key" in bad.stderr


def test_stack_ls_human_and_cache(synth: tuple[str, dict[str, str]], tmp_path: Path) -> None:
    url, env = synth
    first = run(["-b", url, "stack", "ls"], env)
    assert first.exit_code == 0, first.stderr
    assert "web/prod" in first.stdout and "yes (1)" in first.stdout and first.stderr == ""
    again = run(["-b", url, "stack", "ls"], env)
    assert again.stdout == first.stdout
    nocache = run(["-b", url, "--no-cache", "stack", "ls"], env)
    assert nocache.stdout == first.stdout


def test_stack_show(synth: tuple[str, dict[str, str]]) -> None:
    url, env = synth
    d = run_json(["-b", url, "stack", "show", "infra/dev"], env)
    assert d["style"] == "indented" and d["version"] == 3 and d["magicOk"] is True
    assert d["outputs"]["dbPassword"] == "[secret]"
    assert d["pendingOperations"][0]["type"] == "creating"
    assert d["historyCount"] == 3 and d["backupsCount"] == 2
    assert d["resourcesByType"]["pulumi:pulumi:Stack"] == 1
    assert d["integrity"] == []
    locked = run_json(["-b", url, "stack", "show", "web/prod"], env)
    assert locked["locks"][0]["username"] == "ci" and locked["locks"][0]["hostname"] == "ci-runner-7"
    human = run(["-b", url, "stack", "show", "infra/dev"], env)
    assert human.exit_code == 0 and "pending operation" in human.stdout and "pw-infra-dev" not in human.stdout


def test_stack_show_secrets_needs_the_passphrase(synth: tuple[str, dict[str, str]]) -> None:
    url, env = synth
    shown = run_json(["-b", url, "stack", "show", "infra/prod", "--show-secrets"],
                     {**env, "PULUMI_CONFIG_PASSPHRASE": PASS})
    assert shown["outputs"]["dbPassword"] == "pw-infra-prod"
    wrong = run(["-b", url, "stack", "show", "infra/prod", "--show-secrets"], {**env, "PULUMI_CONFIG_PASSPHRASE": "x"})
    assert wrong.exit_code == 7 and "incorrect passphrase" in wrong.stderr and "pw-infra-prod" not in wrong.stdout
    missing = run(["-b", url, "stack", "show", "infra/prod", "--show-secrets"], env)
    assert missing.exit_code == 7 and "PULUMI_CONFIG_PASSPHRASE" in missing.stderr


def test_stack_resources(synth: tuple[str, dict[str, str]]) -> None:
    url, env = synth
    tree = run_json(["-b", url, "stack", "resources", "infra/prod"], env)
    assert tree["count"] == 9
    root = tree["resources"][0]
    assert root["type"] == "pulumi:pulumi:Stack" and root["children"][0]["type"] == "infra:index:Service"
    protected = [c for c in root["children"][0]["children"] if "protect" in c["marks"]]
    assert protected, "prod resources carry protect marks"
    flat = run_json(["-b", url, "stack", "resources", "infra/prod", "--type", "aws:iam/role:Role"], env)
    assert flat["count"] >= 1 and all(r["type"] == "aws:iam/role:Role" for r in flat["resources"])
    urns = run(["-b", url, "stack", "resources", "infra/prod", "--urn-only"], env)
    lines = urns.stdout.splitlines()
    assert len(lines) == 9 and all(line.startswith("urn:pulumi:prod::infra::") for line in lines)


def test_stack_export_matches_pulumi_shape(synth: tuple[str, dict[str, str]], tmp_path: Path) -> None:
    url, env = synth
    out = run(["-b", url, "stack", "export", "web/dev"], env)
    assert out.exit_code == 0
    doc = json.loads(out.stdout)
    assert doc["version"] == 3 and set(doc) == {"version", "deployment"}
    assert out.stdout.startswith('{\n    "version": 3,\n    "deployment": {\n') and out.stdout.endswith("}\n")
    secret = doc["deployment"]["resources"][0]["outputs"]["dbPassword"]
    assert "ciphertext" in secret
    target = tmp_path / "out.json"
    plain = run(["-b", url, "stack", "export", "web/dev", "--show-secrets", "--file", str(target)],
                {**env, "PULUMI_CONFIG_PASSPHRASE": PASS})
    assert plain.exit_code == 0 and "pw-web-dev" not in plain.stdout + plain.stderr
    assert target.stat().st_mode & 0o777 == 0o600
    revealed = json.loads(target.read_text())["deployment"]["resources"][0]["outputs"]["dbPassword"]
    assert revealed == {"4dabf18193072939515e22adb298388d": "1b47061264138c4ac30d75fd1eb44270",
                        "plaintext": '"pw-web-dev"'}


def test_backend_info_and_env(synth: tuple[str, dict[str, str]]) -> None:
    url, env = synth
    info = run_json(["-b", url, "backend", "info"], env)
    assert (info["kind"], info["layout"], info["stacks"], info["projects"]) == ("file", "project", 4, 2)
    assert info["historyEntries"] == 12 and info["backups"] == 8 and info["locks"] == 1
    assert info["compression"] == {"gzip": 1, "none": 2, "zstd": 1}
    settings = run_json(["-b", "s3://user:secret@bucket/x", "env"], {**env, "PULUMI_CONFIG_PASSPHRASE": "hunter2"})
    assert settings["backend_url"] == {"value": "s3://****:****@bucket/x", "source": "--backend"}
    assert settings["passphrase"]["value"] == "<set>"
    human = run(["-b", "s3://user:secret@bucket/x", "env"], {**env, "PULUMI_CONFIG_PASSPHRASE": "hunter2"})
    assert "secret" not in human.stdout.replace("secrets", "") and "hunter2" not in human.stdout


# --- bad input: one line, a distinct exit code, no traceback -------------------------------------


def _backend_with(tmp_path: Path, files: dict[str, bytes]) -> str:
    for key, data in files.items():
        p = tmp_path / key
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(data)
    return f"file://{tmp_path}"


META = {".pulumi/meta.yaml": b"version: 1\n"}


@pytest.mark.parametrize("files,args,code,needle", [
    ({**META, ".pulumi/stacks/p/s.json": b'{"version":3,"checkpoint":{'}, ["stack", "show", "p/s"], 5, "invalid JSON"),
    ({**META, ".pulumi/stacks/p/s.json.gz": gzip.compress(b'{"version":3}')[:-8]}, ["stack", "export", "p/s"], 5,
     "gzip"),
    ({**META, ".pulumi/stacks/p/s.json": b'{"version":9,"checkpoint":{}}'}, ["stack", "show", "p/s"], 6, "version"),
    ({".pulumi/meta.yaml": b"version: 7\n"}, ["stack", "ls"], 6, "meta.yaml"),
    ({".pulumi/meta.yaml": b""}, ["stack", "ls"], 5, "corrupt store"),
    ({".pulumi/meta.yaml": b"version: [\n"}, ["stack", "ls"], 5, "corrupt store"),
    (META, ["stack", "show", "p/missing"], 3, "no stack named p/missing"),
    (META, ["stack", "show", "bad name"], 2, "invalid"),
])
def test_bad_input_exit_codes(tmp_path: Path, files: dict[str, bytes], args: list[str], code: int,
                              needle: str) -> None:
    url = _backend_with(tmp_path, files)
    before = {p: p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()}
    result = run(["-b", url, "--no-cache", *args])
    assert result.exit_code == code, (result.stdout, result.stderr)
    assert result.stderr.startswith("error: ") and needle in result.stderr
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr
    assert {p: p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()} == before  # nothing written
    as_json = run(["--json", "-b", url, "--no-cache", *args])
    assert as_json.exit_code == code and json.loads(as_json.stdout)["error"]["code"] == code


def test_corrupt_stack_is_reported_in_ls_not_fatal(tmp_path: Path) -> None:
    url = _backend_with(tmp_path, {**META, ".pulumi/stacks/p/bad.json": b"{nope",
                                   ".pulumi/stacks/p/good.json": b'{"version":3,"checkpoint":{"stack":"x"}}'})
    rows = run_json(["-b", url, "--no-cache", "stack", "ls"])
    by = {r["name"]: r for r in rows}
    assert "invalid JSON" in by["p/bad"]["error"] and by["p/good"]["error"] is None


def test_a_bad_tags_file_is_a_warning_and_backend_text_is_not_markup(tmp_path: Path) -> None:
    cp = {"version": 3, "checkpoint": {"stack": "p/s", "latest": {"manifest": {"time": "2026-01-01T00:00:00Z"},
          "resources": [{"urn": "urn:pulumi:s::p::a:b:C::[/x]:fire:", "type": "a:b:C", "custom": True, "id": "x"}]}}}
    url = _backend_with(tmp_path, {**META, ".pulumi/stacks/p/s.json": json.dumps(cp).encode(),
                                   ".pulumi/stacks/p/s.pulumi-tags": b'{"version":2,"tags":{}}'})
    shown = run(["-b", url, "--no-cache", "stack", "show", "p/s"])
    assert shown.exit_code == 0, shown.stderr
    assert "unsupported tags file version 2" in shown.stdout and "a:b:C" in shown.stdout
    doc = run_json(["-b", url, "--no-cache", "stack", "show", "p/s"])
    assert "version 2" in doc["tagsError"] and doc["tags"] == {}
    tree = run(["-b", url, "--no-cache", "stack", "resources", "p/s"])
    assert tree.exit_code == 0 and "[/x]:fire:" in tree.stdout, tree.stdout + tree.stderr


def test_missing_backend_and_bad_urls(tmp_path: Path) -> None:
    missing = run(["-b", f"file://{tmp_path}/nope", "stack", "ls"])
    assert missing.exit_code == 10 and "does not exist" in missing.stderr
    bad = run(["-b", "ftp://x/y", "stack", "ls"])
    assert bad.exit_code == 2 and "unsupported backend scheme" in bad.stderr
    unknown = run(["-b", "s3://bucket?colour=red", "stack", "ls"])
    assert unknown.exit_code == 2 and "unknown query parameter" in unknown.stderr


def test_version_and_help() -> None:
    assert run(["--version"]).stdout.startswith("pulumi-diy ")
    for args in (["--help"], ["stack", "--help"], ["stack", "ls", "--help"], ["backend", "info", "--help"]):
        result = run(args)
        assert result.exit_code == 0 and "Usage" in result.stdout


@pytest.mark.parametrize("module,url,extra", [("s3fs", "s3://bucket", "s3"), ("gcsfs", "gs://bucket", "gcs"),
                                              ("adlfs", "azblob://container?storage_account=a", "azure")])
def test_missing_extra_names_the_install_command(monkeypatch: pytest.MonkeyPatch, module: str, url: str,
                                                 extra: str) -> None:
    import sys

    from pulumi_diy.backend import filesystems

    for name in [m for m in sys.modules if m == module or m.startswith(module + ".")] or [module]:
        monkeypatch.setitem(sys.modules, name, None)  # makes `import <module>[.sub]` raise ImportError
    monkeypatch.setattr(filesystems, "_GCS_CLASS", None)  # built by earlier GCS tests
    result = run(["-b", url, "stack", "ls"])
    assert result.exit_code == 13, (result.stdout, result.stderr)
    assert f"pip install 'pulumi-diy[{extra}]'" in result.stderr and result.stderr.count("\n") == 1


def test_global_switches_may_follow_the_command(synth: tuple[str, dict[str, str]]) -> None:
    url, env = synth
    before = run(["--json", "--quiet", "-b", url, "stack", "ls", "--project", "web"], env)
    after = run(["-b", url, "stack", "ls", "--project", "web", "--json", "--quiet"], env)
    assert before.exit_code == after.exit_code == 0 and before.stdout == after.stdout
    assert json.loads(after.stdout)[0]["name"] == "web/dev"
    # After `--` nothing is moved: it is an argument like any other.
    literal = run(["-b", url, "stack", "show", "--", "--json"], env)
    assert literal.exit_code == 2 and literal.stdout == "" and "'--json'" in literal.stderr


def test_tag_filters_skip_an_unreadable_tags_file(tmp_path: Path) -> None:
    cp = b'{"version":3,"checkpoint":{"stack":"p/s","latest":{}}}'
    url = _backend_with(tmp_path, {**META, ".pulumi/stacks/p/a.json": cp, ".pulumi/stacks/p/b.json": cp,
                                   ".pulumi/stacks/p/a.pulumi-tags": b'{"version":1,"tags":{"team":"x"}}',
                                   ".pulumi/stacks/p/b.pulumi-tags": b'{"version":2}'})
    r = run(["-b", url, "--no-cache", "stack", "ls", "--tag", "team"])
    assert r.exit_code == 0 and "p/a" in r.stdout and "p/b" not in r.stdout, r.output
