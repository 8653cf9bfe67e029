"""The CLI as a contract: generated artefacts are current, every command documents itself with an
example, the man page is clean troff, and the completion scripts parse and really complete."""

from __future__ import annotations

import shlex
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from tests.cli.contract_helpers import ROOT, SCRIPTS, bin_dir, cli_env, complete, make_backend, require_tool

sys.path.insert(0, str(SCRIPTS))
from cli_artifacts.model import PROG, Command, load

GEN = SCRIPTS / "gen_cli_artifacts.py"
TREE = load()
COMMANDS = [c for c in TREE.walk() if c.path]
LEAVES = [c for c in COMMANDS if not c.is_group]
NON_JSON_ARTIFACTS = ["completions/pulumi-diy.bash", "completions/_pulumi-diy", "completions/pulumi-diy.fish",
                      "man/pulumi-diy.1", "docs/cli.md"]  # docs/json.md: tests/cli/test_json_contract.py


@pytest.fixture(scope="module")
def backend(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, dict[str, str], Path]:
    home = tmp_path_factory.mktemp("contract")
    url = make_backend(home / "backend", cache_dir=home / "cache")
    return url, cli_env(home), home


# --- generated artefacts ------------------------------------------------------------------------------------


def test_generated_artifacts_are_current() -> None:
    r = subprocess.run([sys.executable, str(GEN), "--check", *NON_JSON_ARTIFACTS], capture_output=True,
                       text=True, timeout=120, check=False)
    assert r.returncode == 0, f"run scripts/gen_cli_artifacts.py:\n{r.stderr}"


def test_a_new_command_makes_the_artifacts_stale() -> None:
    # The check compares against a fresh generation from the live tree, so any added command shows.
    probe = (f"import sys; sys.path[:0] = [{str(ROOT / 'src')!r}, {str(SCRIPTS)!r}]\n"
             "from pulumi_diy.cli.app import app\n"
             "def probe() -> None:\n    '''Probe.\n\n    Example: pulumi-diy zz-probe\n    '''\n"
             "app.command('zz-probe')(probe)\n"
             "import gen_cli_artifacts\n"
             f"sys.exit(gen_cli_artifacts.main(['--check', *{NON_JSON_ARTIFACTS!r}]))\n")
    r = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120, check=False)
    assert r.returncode == 1, r.stderr
    for path in NON_JSON_ARTIFACTS:
        assert f"stale: {path}" in r.stderr
    assert "zz-probe" in r.stderr


# --- help text --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("cmd", COMMANDS, ids=lambda c: c.name)
def test_every_command_has_help(cmd: Command) -> None:
    assert cmd.help and len(cmd.help[0]) > 10, f"`{cmd.full_name}` has no help text (its docstring)"
    for p in (*cmd.options, *cmd.arguments):
        assert p.help, f"`{cmd.full_name}`: {p.opts or p.metavar} has no help text"


@pytest.mark.parametrize("name", ["stack", "backend", "lock", "history", "secrets"])
def test_lazy_group_lines_match_the_groups(name: str) -> None:
    # `--help` shows these lines without loading the groups: they must say what the groups say.
    import inspect

    from pulumi_diy.cli.app import LAZY_GROUPS, load_group

    group = load_group(name)
    assert LAZY_GROUPS[name][1] == inspect.cleandoc(group.help)
    assert group.name == name and group.commands


@pytest.mark.parametrize("cmd", LEAVES, ids=lambda c: c.name)
def test_every_command_has_an_example_of_itself(cmd: Command) -> None:
    assert cmd.examples, f"`{cmd.full_name}`: its docstring needs an `Example: {cmd.full_name} ...` line"
    for example in cmd.examples:
        assert _invoked_path(example) == cmd.path, f"`{cmd.full_name}`: example runs something else: {example}"


def _invoked_path(example: str) -> tuple[str, ...]:
    """The command path an example runs: skip env assignments and global options, then follow sub-commands."""
    words = shlex.split(example.split("&&")[0].split("|")[0])
    words = words[words.index(PROG) + 1:]
    node, path, i = TREE, [], 0
    while i < len(words):
        w = words[i]
        option = next((p for p in node.options if w.split("=")[0] in p.opts), None)
        if option is not None:
            i += 2 if option.takes_value and "=" not in w else 1
            continue
        sub = next((s for s in node.subcommands if s.path[-1] == w), None)
        if sub is None:
            break
        node, path, i = sub, [*path, w], i + 1
    return tuple(path)


# --- man page ------------------------------------------------------------------------------------------------------


def test_man_page_is_clean_troff() -> None:
    groff = require_tool("groff")
    r = subprocess.run([groff, "-t", "-man", "-ww", "-z", str(ROOT / "man/pulumi-diy.1")], capture_output=True,
                       text=True, timeout=60, check=False)
    assert r.returncode == 0 and r.stderr == "", r.stderr


def test_man_page_renders_with_man() -> None:
    man = require_tool("man")
    r = subprocess.run([man, "--warnings", "-E", "UTF-8", "-l", str(ROOT / "man/pulumi-diy.1")], capture_output=True,
                       text=True, timeout=60, check=False, env={"MANWIDTH": "100", "PATH": "/usr/bin:/bin"})
    assert r.returncode == 0 and r.stderr == "", r.stderr
    page = r.stdout
    for heading in ("NAME", "SYNOPSIS", "GLOBAL OPTIONS", "COMMANDS", "ENVIRONMENT", "EXIT STATUS", "FILES",
                    "EXAMPLES"):
        assert f"\n{heading}\n" in page
    for cmd in LEAVES:
        assert cmd.full_name in page
        for p in cmd.options:
            assert all(o in page for o in p.opts)


# --- completion scripts -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("shell", "script"), [("bash", "pulumi-diy.bash"), ("zsh", "_pulumi-diy"),
                                               ("fish", "pulumi-diy.fish")])
def test_completion_script_parses(shell: str, script: str) -> None:
    exe = require_tool(shell, ci=shell == "bash")
    r = subprocess.run([exe, "-n", str(ROOT / "completions" / script)], capture_output=True, text=True, timeout=30,
                       check=False)
    assert r.returncode == 0 and r.stderr == "", r.stderr


BASH_HARNESS = """
source {script}
COMP_WORDBREAKS=$' \\t\\n"\\'><=;|&(:'
for line in "$@"; do
    COMP_LINE=$line; COMP_POINT=${{#line}}; COMPREPLY=()
    _pulumi_diy
    printf '%s\\n' "${{COMPREPLY[*]}}"
done
"""


def _bash(lines: list[str], env: dict[str, str], tmp: Path) -> list[list[str]]:
    bash = require_tool("bash")
    harness = BASH_HARNESS.format(script=shlex.quote(str(ROOT / "completions/pulumi-diy.bash")))
    r = subprocess.run([bash, "-c", harness, "bash", *lines], capture_output=True, text=True, timeout=60,
                       env={**env, "PATH": f"{bin_dir(tmp)}:{env['PATH']}"}, check=False)
    assert r.returncode == 0, r.stderr
    return [line.split() for line in r.stdout.splitlines()]


def test_bash_completes_commands_options_and_values(backend: tuple[str, dict[str, str], Path],
                                                   tmp_path: Path) -> None:
    url, env, _ = backend
    got = _bash([f"{PROG} ", f"{PROG} st", f"{PROG} --no-c", f"{PROG} -b {url} stack ",
                 f"{PROG} -b {url} stack show ", f"{PROG} --backend={url} stack show web/",
                 f"{PROG} -b {url} stack show web/dev --", f"{PROG} -b {url} stack export x --file {tmp_path}/"],
                env, tmp_path)
    assert got[0] == [s.path[-1] for s in TREE.subcommands]
    assert got[1] == ["stack"]
    assert got[2] == ["--no-cache", "--no-color"]
    assert got[3] == ["ls", "show", "resources", "export", *got[3][4:]]
    assert got[4] == ["infra/dev", "infra/prod", "web/dev", "web/prod"]
    assert got[5] == ["web/dev", "web/prod"]
    assert "--show-secrets" in got[6] and "--help" in got[6]
    assert got[7] == [f"{tmp_path}/bin"]


def test_zsh_completes_commands_and_stack_names(backend: tuple[str, dict[str, str], Path], tmp_path: Path) -> None:
    zsh = require_tool("zsh", ci=False)
    url, env, _ = backend
    capture = tmp_path / "capture.zsh"
    capture.write_text(ZSH_CAPTURE)
    results = []
    for line in (f"{PROG} ", f"{PROG} -b {url} stack show w", f"{PROG} -b {url} lock "):
        r = subprocess.run([zsh, "-f", str(capture), str(ROOT / "completions"), line], capture_output=True, text=True,
                           timeout=60, check=False, env={**env, "PATH": f"{bin_dir(tmp_path)}:{env['PATH']}"})
        results.append(sorted(r.stdout.replace("\r", "").split()))
    assert results[0] == sorted(s.path[-1] for s in TREE.subcommands)
    assert results[1] == ["web/dev", "web/prod"]
    [lock] = [c for c in TREE.subcommands if c.path == ("lock",)]
    assert results[2] == sorted(c.path[-1] for c in lock.subcommands)


def test_fish_completes_commands_and_stack_names(backend: tuple[str, dict[str, str], Path], tmp_path: Path) -> None:
    fish = require_tool("fish", ci=False)
    url, env, _ = backend
    script = ROOT / "completions/pulumi-diy.fish"
    out = []
    for line in (f"{PROG} ", f"{PROG} -b {url} stack show w", f"{PROG} -b {url} stack ls --s"):
        r = subprocess.run([fish, "--no-config", "-c", f"source {script}; complete -C {shlex.quote(line)}"],
                           capture_output=True, text=True, timeout=60, check=False,
                           env={**env, "PATH": f"{bin_dir(tmp_path)}:{env['PATH']}"})
        assert r.returncode == 0, r.stderr
        out.append([row.split("\t")[0] for row in r.stdout.splitlines()])
    assert sorted(out[0]) == sorted(s.path[-1] for s in TREE.subcommands)
    assert out[1] == ["web/dev", "web/prod"]
    assert out[2] == ["--sort"]


def test_completion_request_serves_a_remote_backend_from_the_cache(tmp_path: Path) -> None:
    # An S3 backend nobody can reach: names come from the local cache that `stack ls` fills.
    from pulumi_diy.backend.cache import Cache, backend_cache_id
    from pulumi_diy.stacks import SUMMARY_KIND

    cache = Cache(str(tmp_path / "cache"), backend_cache_id("s3", "state-bucket/team-a", "state-bucket"))
    cache.put_many(SUMMARY_KIND, [(".pulumi/stacks/infra/prod.json", "fp1", {"resource_count": 12}),
                                  (".pulumi/stacks/infra/dev.json.gz", "fp2", {}),
                                  (".pulumi/stacks/legacy.json", "fp3", {})])
    cache.close()
    env = cli_env(tmp_path, AWS_ACCESS_KEY_ID="x", AWS_SECRET_ACCESS_KEY="x", AWS_ENDPOINT_URL="http://127.0.0.1:9")
    url = "s3://state-bucket/team-a?region=eu-west-1"
    lines = complete(f"{PROG} -b {url} stack show in", env)
    assert lines.returncode == 0, lines.stderr
    assert lines.stdout.splitlines() == ["infra/dev\tstack", "infra/prod\t12 resources"]
    bash = complete(f"{PROG} -b {url} stack resources ", env, protocol="bash")
    assert bash.stdout.split() == ["infra/dev", "infra/prod", "legacy"]
    nothing = complete(f"{PROG} -b s3://other-bucket stack show ", env)
    assert nothing.returncode == 0 and nothing.stdout.strip() == ""


# --- the wheel ----------------------------------------------------------------------------------------------------


@pytest.mark.slow
def test_wheel_ships_completions_and_man_page(tmp_path: Path) -> None:
    r = subprocess.run([sys.executable, "-m", "pip", "wheel", str(ROOT), "--no-deps", "-q", "-w", str(tmp_path)],
                       capture_output=True, text=True, timeout=300, check=False)
    if r.returncode != 0 and "hatchling" in r.stderr and "Could not find" in r.stderr:
        pytest.skip("hatchling cannot be installed here (no package index)")
    assert r.returncode == 0, r.stderr
    [wheel] = tmp_path.glob("pulumi_diy-*.whl")
    shipped = {
        "share/bash-completion/completions/pulumi-diy": "completions/pulumi-diy.bash",
        "share/zsh/site-functions/_pulumi-diy": "completions/_pulumi-diy",
        "share/fish/vendor_completions.d/pulumi-diy.fish": "completions/pulumi-diy.fish",
        "share/man/man1/pulumi-diy.1": "man/pulumi-diy.1",
    }
    with zipfile.ZipFile(wheel) as z:
        data = {n.split(".data/data/", 1)[1]: n for n in z.namelist() if ".data/data/" in n}
        assert set(data) == set(shipped)
        for target, source in shipped.items():
            assert z.read(data[target]) == (ROOT / source).read_bytes(), target


ZSH_CAPTURE = r"""
# Print the matches zsh would offer for a line: an interactive zsh in a pty, compadd recorded.
zmodload zsh/zpty || exit 1
zpty z zsh -f -i
zpty -w z "PROMPT=; fpath=($1 \$fpath); autoload -Uz compinit; compinit -u -D"
zpty -w z 'null-line () { echo -E - $'"'"'\0'"'"' }; compprefuncs=( null-line ); comppostfuncs=( null-line exit )'
zpty -w z "bindkey '^I' complete-word; zstyle ':completion:*' list-grouped false; zmodload zsh/zutil"
zpty -w z 'compadd () {
  if [[ ${@[1,(i)(-|--)]} == *-(O|A|D)\ * ]]; then builtin compadd "$@"; return $?; fi
  typeset -a __hits; builtin compadd -A __hits "$@"; [[ -n $__hits ]] || return
  local h; for h in $__hits; do echo -E - "$IPREFIX$h"; done
}'
zpty -w z "$2"$'\t'
integer tog=0
local line
while zpty -r z; do :; done | while IFS= read -r line; do
  if [[ $line == *$'\0\r' ]]; then (( tog++ )) && exit 0 || continue; fi
  (( tog )) && echo -E - $line
done
"""
