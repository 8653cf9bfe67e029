# bash completion for pulumi-diy                                   -*- shell-script -*-
# Generated from the command tree by scripts/gen_cli_artifacts.py; do not edit.
#
# Install: copy to the bash-completion directory as `pulumi-diy`
#   (`pkg-config --variable=completionsdir bash-completion`, or ~/.local/share/bash-completion/completions/),
# or add `source /path/to/pulumi-diy.bash` to ~/.bashrc. Needs bash 4.1 or newer.
# Commands and options complete here; values (stack names, versions, lock ids) come from
# pulumi-diy itself, which answers from its local cache and never waits on the network.

# _pulumi_diy_spec PATH: the sub-commands, options and value-taking options of a command path.
_pulumi_diy_spec() {
    case $1 in
    "") cmds='env stack backend lock history secrets'; opts='--backend -b --json --quiet -q --debug --no-cache --cache-dir --parallel -P --no-color --version --help -h'; vopts='--backend -b --cache-dir --parallel -P' ;;
    "env") cmds=''; opts='--help -h'; vopts='' ;;
    "stack") cmds='ls show resources export restore deleted'; opts='--help -h'; vopts='' ;;
    "stack ls") cmds=''; opts='--project -p --tag -t --sort -s --deleted --help -h'; vopts='--project -p --tag -t --sort -s' ;;
    "stack show") cmds=''; opts='--show-secrets --help -h'; vopts='' ;;
    "stack resources") cmds=''; opts='--type -T --urn-only --help -h'; vopts='--type -T' ;;
    "stack export") cmds=''; opts='--file -f --show-secrets --help -h'; vopts='--file -f' ;;
    "stack restore") cmds=''; opts='--from-backup --dry-run --yes -y --help -h'; vopts='--from-backup' ;;
    "stack deleted") cmds=''; opts='--help -h'; vopts='' ;;
    "backend") cmds='info'; opts='--help -h'; vopts='' ;;
    "backend info") cmds=''; opts='--help -h'; vopts='' ;;
    "lock") cmds='ls show break wait'; opts='--help -h'; vopts='' ;;
    "lock ls") cmds=''; opts='--project -p --stale-after --json --help -h'; vopts='--project -p --stale-after' ;;
    "lock show") cmds=''; opts='--stale-after --json --help -h'; vopts='--stale-after' ;;
    "lock break") cmds=''; opts='--lock-id --older-than --user --host --force --dry-run --yes -y --json --help -h'; vopts='--lock-id --older-than --user --host' ;;
    "lock wait") cmds=''; opts='--timeout --poll --json --help -h'; vopts='--timeout --poll' ;;
    "history") cmds='ls show export diff restore prune'; opts='--help -h'; vopts='' ;;
    "history ls") cmds=''; opts='--all -a --since --project -p --limit -n --help -h'; vopts='--since --project -p --limit -n' ;;
    "history show") cmds=''; opts='--help -h'; vopts='' ;;
    "history export") cmds=''; opts='--file -f --show-secrets --help -h'; vopts='--file -f' ;;
    "history diff") cmds=''; opts='--show-secrets --help -h'; vopts='' ;;
    "history restore") cmds=''; opts='--dry-run --yes -y --help -h'; vopts='' ;;
    "history prune") cmds=''; opts='--all -a --keep --older-than --dry-run --yes -y --help -h'; vopts='--keep --older-than' ;;
    "secrets") cmds='ls verify rotate change-provider'; opts='--help -h'; vopts='' ;;
    "secrets ls") cmds=''; opts='--config-dir -C --help -h'; vopts='--config-dir -C' ;;
    "secrets verify") cmds=''; opts='--all --project -p --config-dir -C --help -h'; vopts='--project -p --config-dir -C' ;;
    "secrets rotate") cmds=''; opts='--all --project -p --config-dir -C --dry-run --yes -y --resume --run-id --help -h'; vopts='--project -p --config-dir -C --run-id' ;;
    "secrets change-provider") cmds=''; opts='--to --all --project -p --config-dir -C --dry-run --yes -y --help -h'; vopts='--to --project -p --config-dir -C' ;;
    *) cmds=''; opts=''; vopts='' ;;
    esac
}

# _pulumi_diy_kind "PATH|OPTION" or "PATH|#N" (Nth argument): how that value completes.
_pulumi_diy_kind() {
    case $1 in
    "|--backend"|"|-b") kind='dynamic' ;;
    "stack ls|--project"|"stack ls|-p") kind='dynamic' ;;
    "stack ls|--sort"|"stack ls|-s") kind='dynamic' ;;
    "stack show|#1") kind='dynamic' ;;
    "stack resources|#1") kind='dynamic' ;;
    "stack export|--file"|"stack export|-f") kind='file' ;;
    "stack export|#1") kind='dynamic' ;;
    "stack restore|--from-backup") kind='dynamic' ;;
    "stack restore|#1") kind='dynamic' ;;
    "lock ls|--project"|"lock ls|-p") kind='dynamic' ;;
    "lock ls|--stale-after") kind='dynamic' ;;
    "lock ls|#1") kind='dynamic' ;;
    "lock show|--stale-after") kind='dynamic' ;;
    "lock show|#1") kind='dynamic' ;;
    "lock break|--lock-id") kind='dynamic' ;;
    "lock break|--older-than") kind='dynamic' ;;
    "lock break|#1") kind='dynamic' ;;
    "lock wait|--timeout") kind='dynamic' ;;
    "lock wait|--poll") kind='dynamic' ;;
    "lock wait|#1") kind='dynamic' ;;
    "history ls|--since") kind='dynamic' ;;
    "history ls|--project"|"history ls|-p") kind='dynamic' ;;
    "history ls|#1") kind='dynamic' ;;
    "history show|#1") kind='dynamic' ;;
    "history show|#2") kind='dynamic' ;;
    "history export|--file"|"history export|-f") kind='file' ;;
    "history export|#1") kind='dynamic' ;;
    "history export|#2") kind='dynamic' ;;
    "history diff|#1") kind='dynamic' ;;
    "history diff|#2") kind='dynamic' ;;
    "history restore|#1") kind='dynamic' ;;
    "history restore|#2") kind='dynamic' ;;
    "history prune|--older-than") kind='dynamic' ;;
    "history prune|#1") kind='dynamic' ;;
    "secrets ls|--config-dir"|"secrets ls|-C") kind='dir' ;;
    "secrets ls|#1") kind='dynamic' ;;
    "secrets verify|--config-dir"|"secrets verify|-C") kind='dir' ;;
    "secrets verify|#1") kind='dynamic' ;;
    "secrets rotate|--config-dir"|"secrets rotate|-C") kind='dir' ;;
    "secrets rotate|#1") kind='dynamic' ;;
    "secrets change-provider|--to") kind='dynamic' ;;
    "secrets change-provider|--config-dir"|"secrets change-provider|-C") kind='dir' ;;
    "secrets change-provider|#1") kind='dynamic' ;;
    *) kind='' ;;
    esac
}

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
