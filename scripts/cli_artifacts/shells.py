"""bash, zsh and fish completion scripts rendered from the command tree.

The scripts know the commands and options themselves (a TAB on them starts no Python) and ask
the program only for values, with the ``complete_lines`` protocol of ``pulumi_diy.cli.completion``:
``_PULUMI_DIY_COMPLETE=complete_lines _TYPER_COMPLETE_ARGS="<line left of the cursor>" pulumi-diy``
prints one ``value<TAB>help`` per line.
"""

from __future__ import annotations

from .model import PROG, Command, Param, short_text

HEADER = "Generated from the command tree by scripts/gen_cli_artifacts.py; do not edit."


def _words(items: list[str]) -> str:
    return " ".join(items)


def _opts(cmd: Command) -> list[str]:
    return [o for p in cmd.options for o in (*p.long, *p.short)]


def _vopts(cmd: Command) -> list[str]:
    return [o for p in cmd.options if p.takes_value for o in p.opts]


def _kind(p: Param) -> str:
    return f"choices {_words(list(p.choices))}" if p.values == "choices" else p.values


# --- bash -------------------------------------------------------------------------------------------

_BASH_MAIN = r"""
_pulumi_diy() {
    local IFS=$' \t\n' line=${COMP_LINE:0:COMP_POINT} cur="" prefix="" path="" cmds opts vopts kind=""
    local w i skip=0 nargs=0 dashdash=0 out
    local -a words cands=()
    read -ra words <<<"$line"
    if [[ -n $line && $line != *[[:space:]] ]]; then
        cur=${words[${#words[@]}-1]}
        unset "words[${#words[@]}-1]"
    fi
    _pulumi_diy_spec ""
    for ((i = 1; i < ${#words[@]}; i++)); do
        w=${words[i]}
        if ((skip)); then skip=0; continue; fi
        if ((dashdash)); then ((nargs++)); continue; fi
        case $w in
        --) dashdash=1 ;;
        -*=*) ;;
        -*) [[ " $vopts " == *" $w "* ]] && skip=1 ;;
        *)
            if [[ " $cmds " == *" $w "* ]]; then
                path=${path:+$path }$w
                nargs=0
                _pulumi_diy_spec "$path"
            else
                ((nargs++))
            fi ;;
        esac
    done
    if ((skip)); then
        _pulumi_diy_kind "$path|${words[${#words[@]}-1]}"
    elif ((!dashdash)) && [[ $cur == -*=* ]]; then
        prefix=${cur%%=*}=
        _pulumi_diy_kind "$path|${cur%%=*}"
    elif ((!dashdash)) && [[ $cur == -* ]]; then
        mapfile -t cands < <(compgen -W "$opts" -- "$cur")
    elif [[ -n $cmds ]]; then
        mapfile -t cands < <(compgen -W "$cmds" -- "$cur")
    else
        _pulumi_diy_kind "$path|#$((nargs + 1))"
        [[ -z $kind ]] && mapfile -t cands < <(compgen -W "$opts" -- "$cur")
    fi
    local value=${cur#"$prefix"}
    case $kind in
    choices\ *) mapfile -t cands < <(compgen -W "${kind#choices }" -- "$value") ;;
    dynamic)
        out=$(_PULUMI_DIY_COMPLETE=complete_lines _TYPER_COMPLETE_ARGS="$line" "${words[0]}" 2>/dev/null)
        while IFS= read -r w; do
            [[ -n $w ]] && cands+=("${w%%$'\t'*}")
        done <<<"$out" ;;
    file) compopt -o filenames 2>/dev/null; mapfile -t cands < <(compgen -f -- "$value") ;;
    dir) compopt -o filenames 2>/dev/null; mapfile -t cands < <(compgen -d -- "$value") ;;
    esac
    [[ -n $prefix ]] && cands=("${cands[@]/#/$prefix}")
    # Readline replaces only the text after the word's last COMP_WORDBREAKS character (= and :).
    local trim="" c
    for ((i = ${#cur} - 1; i >= 0; i--)); do
        c=${cur:i:1}
        if [[ ($c == "=" || $c == ":") && $COMP_WORDBREAKS == *"$c"* ]]; then
            trim=${cur:0:i+1}
            break
        fi
    done
    COMPREPLY=("${cands[@]#"$trim"}")
    if ((${#COMPREPLY[@]} == 1)) && [[ ${COMPREPLY[0]} == *[/:=] ]]; then
        compopt -o nospace 2>/dev/null
    fi
    return 0
}

complete -F _pulumi_diy pulumi-diy
"""


def bash(root: Command) -> str:
    spec, kinds = [], []
    for cmd in root.walk():
        cmds = [s.path[-1] for s in cmd.subcommands]
        spec.append(f"""    "{cmd.name}") cmds='{_words(cmds)}'; opts='{_words(_opts(cmd))}'; """
                    f"vopts='{_words(_vopts(cmd))}' ;;")
        for p in cmd.options:
            if p.takes_value and p.values:
                pattern = "|".join(f'"{cmd.name}|{o}"' for o in p.opts)
                kinds.append(f"    {pattern}) kind='{_kind(p)}' ;;")
        for i, a in enumerate(cmd.arguments, start=1):
            if a.values:
                pattern = f'"{cmd.name}|#"*' if a.nargs == -1 else f'"{cmd.name}|#{i}"'
                kinds.append(f"    {pattern}) kind='{_kind(a)}' ;;")
    return "\n".join([
        f"# bash completion for {PROG}                                   -*- shell-script -*-",
        f"# {HEADER}",
        "#",
        "# Install: copy to the bash-completion directory as `pulumi-diy`",
        "#   (`pkg-config --variable=completionsdir bash-completion`, or ~/.local/share/bash-completion/completions/),",
        "# or add `source /path/to/pulumi-diy.bash` to ~/.bashrc. Needs bash 4.1 or newer.",
        "# Commands and options complete here; values (stack names, versions, lock ids) come from",
        "# pulumi-diy itself, which answers from its local cache and never waits on the network.",
        "",
        "# _pulumi_diy_spec PATH: the sub-commands, options and value-taking options of a command path.",
        "_pulumi_diy_spec() {",
        "    case $1 in",
        *spec,
        "    *) cmds=''; opts=''; vopts='' ;;",
        "    esac",
        "}",
        "",
        '# _pulumi_diy_kind "PATH|OPTION" or "PATH|#N" (Nth argument): how that value completes.',
        "_pulumi_diy_kind() {",
        "    case $1 in",
        *kinds,
        "    *) kind='' ;;",
        "    esac",
        "}",
        _BASH_MAIN,
    ]).rstrip("\n") + "\n"


# --- zsh ----------------------------------------------------------------------------------------------

def _zq(text: str) -> str:
    """Text inside a single-quoted _arguments spec, in the [description] or a :message:."""
    text = text.replace("\\", "\\\\").replace("[", "\\[").replace("]", "\\]").replace(":", "\\:")
    return text.replace("'", "'\\''")


def _zsh_action(p: Param) -> str:
    return {"dynamic": "_pulumi-diy_values", "file": "_files", "dir": "_files -/",
            "choices": f"({' '.join(p.choices)})"}.get(p.values, " ")


def _zsh_option(p: Param) -> str:
    desc = f"[{_zq(short_text(p.help or p.name, 100))}]"
    value = f":{_zq(p.display_metavar)}:{_zsh_action(p)}" if p.takes_value else ""
    names = [f"{o}=" if p.takes_value and o.startswith("--") else f"{o}+" if p.takes_value else o
             for o in p.opts]
    if p.name in ("help", "version"):
        exclusion = "(- *)"
    elif p.multiple:
        exclusion = "*"
    else:
        exclusion = f"({' '.join(p.opts)})" if len(p.opts) > 1 else ""
    if len(names) == 1:
        return f"'{exclusion}{names[0]}{desc}{value}'"
    return f"'{exclusion}'{{{','.join(names)}}}'{desc}{value}'"


def _zsh_argument(a: Param) -> str:
    lead = "*" if a.nargs == -1 else ("" if a.required else ":")
    return f"'{lead}:{_zq(a.display_metavar)}:{_zsh_action(a)}'"


def _zfunc(cmd: Command) -> str:
    return "_pulumi-diy_cmd" + "".join(f"_{p}" for p in cmd.path)


def _zsh_command(cmd: Command) -> list[str]:
    specs = [_zsh_option(p) for p in cmd.options]
    if not cmd.is_group:
        specs += [_zsh_argument(a) for a in cmd.arguments]
        body = ["  _arguments -s -S \\", *[f"    {s} \\" for s in specs[:-1]], f"    {specs[-1]}"]
        return [f"{_zfunc(cmd)}() {{", *body, "}", ""]
    menu = [f"      '{s.path[-1]}:{_zq(short_text(s.summary))}'" for s in cmd.subcommands]
    cases = [f"    {s.path[-1]}) {_zfunc(s)} && ret=0 ;;" for s in cmd.subcommands]
    return [
        f"{_zfunc(cmd)}() {{",
        "  local curcontext=$curcontext state state_descr line ret=1",
        "  typeset -A opt_args",
        "  _arguments -C -s -S \\",
        *[f"    {s} \\" for s in specs],
        "    ': :->command' \\",
        "    '*:: :->args' && ret=0",
        "  case $state in",
        "  command)",
        "    local -a commands",
        "    commands=(",
        *menu,
        "    )",
        f"    _describe -t commands '{cmd.full_name} command' commands && ret=0 ;;",
        "  args)",
        f"    curcontext=${{curcontext%:*:*}}:{'-'.join((PROG, *cmd.path))}-$words[1]:",
        "    case $words[1] in",
        *cases,
        "    esac ;;",
        "  esac",
        "  return ret",
        "}",
        "",
    ]


_ZSH_VALUES = r"""# Values computed by pulumi-diy (stack names from its local cache, versions, lock ids, ...).
_pulumi-diy_values() {
  local -a lines described nospace
  local l value line="${(j: :)_pulumi_diy_words[1,_pulumi_diy_current]}" prog=$_pulumi_diy_words[1]
  lines=("${(@f)$(_PULUMI_DIY_COMPLETE=complete_lines _TYPER_COMPLETE_ARGS="$line" $prog 2>/dev/null)}")
  for l in $lines; do
    [[ -z $l ]] && continue
    value=${${l%%$'\t'*}//:/\\:}
    [[ $l == *$'\t'* ]] && value+=":${l#*$'\t'}"
    if [[ ${l%%$'\t'*} == */ ]]; then nospace+=("$value"); else described+=("$value"); fi
  done
  (( $#nospace )) && _describe -t values 'value' nospace -S ''
  (( $#described )) && _describe -t values 'value' described
}

_pulumi-diy() {
  # The whole line, before _arguments narrows $words down to a sub-command's.
  local -a _pulumi_diy_words
  _pulumi_diy_words=("${words[@]}")
  local _pulumi_diy_current=$CURRENT
  _pulumi-diy_cmd
}
"""


def zsh(root: Command) -> str:
    body = [line for cmd in root.walk() for line in _zsh_command(cmd)]
    return "\n".join([
        f"#compdef {PROG}",
        f"# zsh completion for {PROG}. {HEADER}",
        "#",
        "# Install: put this file, named _pulumi-diy, in a directory of $fpath (packages use",
        "# /usr/share/zsh/site-functions or /usr/local/share/zsh/site-functions), then run",
        "# `autoload -Uz compinit && compinit` (restart the shell, or `rm ~/.zcompdump*` if it does not show).",
        "",
        *body,
        _ZSH_VALUES,
        'if [[ $zsh_eval_context[-1] == loadautofunc ]]; then',
        '  _pulumi-diy "$@"',
        "else",
        f"  compdef _pulumi-diy {PROG}",
        "fi",
    ]) + "\n"


# --- fish ---------------------------------------------------------------------------------------------

def _fq(text: str) -> str:
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


_FISH_FUNCTIONS = r"""
function __pulumi_diy_path --description 'The pulumi-diy command path typed so far'
    set -l tokens (commandline -opc)
    set -e tokens[1]
    set -l path
    set -l skip 0
    for t in $tokens
        if test $skip = 1
            set skip 0
            continue
        end
        switch $t
            case '-*=*'
            case '-*'
                if contains -- $t (__pulumi_diy_vopts "$path")
                    set skip 1
                end
            case '*'
                if contains -- $t (__pulumi_diy_cmds "$path")
                    set -a path $t
                end
        end
    end
    echo "$path"
end

function __pulumi_diy_is --description 'True when the command path typed so far is $argv[1]'
    test (__pulumi_diy_path) = "$argv[1]"
end

function __pulumi_diy_values --description 'Values computed by pulumi-diy (stack names from its local cache, ...)'
    set -l tokens (commandline -opc)
    env _PULUMI_DIY_COMPLETE=complete_lines _TYPER_COMPLETE_ARGS=(commandline -cp) $tokens[1] 2>/dev/null
end
"""


def _fish_switch(name: str, root: Command, items: dict[str, list[str]]) -> list[str]:
    out = [f"function {name}", '    switch "$argv[1]"']
    for path, values in items.items():
        if values:
            out += [f"        case {_fq(path)}", f"            printf '%s\\n' {' '.join(values)}"]
    return [*out, "    end", "end", ""]


def _fish_option(cmd: Command, p: Param) -> str:
    parts = [f"complete -c {PROG} -n {_fq(f'__pulumi_diy_is {chr(34)}{cmd.name}{chr(34)}')}"]
    parts += [f"-s {o[1:]}" for o in p.short] + [f"-l {o[2:]}" for o in p.long]
    if p.takes_value:
        parts.append({"dynamic": "-x -a '(__pulumi_diy_values)'", "file": "-r -F",
                      "dir": "-x -a '(__fish_complete_directories)'",
                      "choices": f"-x -a {_fq(' '.join(p.choices))}"}.get(p.values, "-x"))
    parts.append(f"-d {_fq(short_text(p.help or p.name))}")
    return " ".join(parts)


def fish(root: Command) -> str:
    lines = []
    for cmd in root.walk():
        cond = f"-n {_fq(f'__pulumi_diy_is {chr(34)}{cmd.name}{chr(34)}')}"
        for s in cmd.subcommands:
            lines.append(f"complete -c {PROG} {cond} -a {s.path[-1]} -d {_fq(short_text(s.summary))}")
        lines += [_fish_option(cmd, p) for p in cmd.options]
        kinds = {a.values for a in cmd.arguments}
        if kinds & {"dynamic", "choices"}:
            lines.append(f"complete -c {PROG} {cond} -a '(__pulumi_diy_values)'")
        elif kinds & {"file", "dir"}:
            lines.append(f"complete -c {PROG} {cond} -F")
    return "\n".join([
        f"# fish completion for {PROG}. {HEADER}",
        "#",
        "# Install: copy to ~/.config/fish/completions/pulumi-diy.fish (packages install it in",
        "# vendor_completions.d). Values (stack names, versions, lock ids) come from pulumi-diy itself,",
        "# which answers from its local cache and never waits on the network.",
        "",
        *_fish_switch("__pulumi_diy_cmds", root, {c.name: [s.path[-1] for s in c.subcommands] for c in root.walk()}),
        *_fish_switch("__pulumi_diy_vopts", root, {c.name: _vopts(c) for c in root.walk()}),
        _FISH_FUNCTIONS.strip("\n"),
        "",
        f"complete -c {PROG} -f",
        *lines,
    ]) + "\n"
