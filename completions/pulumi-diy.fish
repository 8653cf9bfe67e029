# fish completion for pulumi-diy. Generated from the command tree by scripts/gen_cli_artifacts.py; do not edit.
#
# Install: copy to ~/.config/fish/completions/pulumi-diy.fish (packages install it in
# vendor_completions.d). Values (stack names, versions, lock ids) come from pulumi-diy itself,
# which answers from its local cache and never waits on the network.

function __pulumi_diy_cmds
    switch "$argv[1]"
        case ''
            printf '%s\n' env stack backend lock history secrets
        case 'stack'
            printf '%s\n' ls show resources export restore deleted
        case 'backend'
            printf '%s\n' info
        case 'lock'
            printf '%s\n' ls show break wait
        case 'history'
            printf '%s\n' ls show export diff restore prune
        case 'secrets'
            printf '%s\n' ls verify rotate change-provider
    end
end

function __pulumi_diy_vopts
    switch "$argv[1]"
        case ''
            printf '%s\n' --backend -b --cache-dir --parallel -P
        case 'stack ls'
            printf '%s\n' --project -p --tag -t --sort -s
        case 'stack resources'
            printf '%s\n' --type -T
        case 'stack export'
            printf '%s\n' --file -f
        case 'stack restore'
            printf '%s\n' --from-backup
        case 'lock ls'
            printf '%s\n' --project -p --stale-after
        case 'lock show'
            printf '%s\n' --stale-after
        case 'lock break'
            printf '%s\n' --lock-id --older-than --user --host
        case 'lock wait'
            printf '%s\n' --timeout --poll
        case 'history ls'
            printf '%s\n' --since --project -p --limit -n
        case 'history export'
            printf '%s\n' --file -f
        case 'history prune'
            printf '%s\n' --keep --older-than
        case 'secrets ls'
            printf '%s\n' --config-dir -C
        case 'secrets verify'
            printf '%s\n' --project -p --config-dir -C
        case 'secrets rotate'
            printf '%s\n' --project -p --config-dir -C --run-id
        case 'secrets change-provider'
            printf '%s\n' --to --project -p --config-dir -C
    end
end

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

complete -c pulumi-diy -f
complete -c pulumi-diy -n '__pulumi_diy_is ""' -a env -d 'Show the resolved settings (backend URL, passphrase source, cache...'
complete -c pulumi-diy -n '__pulumi_diy_is ""' -a stack -d 'Inspect stacks: list, show, resources, export'
complete -c pulumi-diy -n '__pulumi_diy_is ""' -a backend -d 'Describe the backend itself'
complete -c pulumi-diy -n '__pulumi_diy_is ""' -a lock -d 'See every stack lock, break stale ones safely, wait for a stack to be free'
complete -c pulumi-diy -n '__pulumi_diy_is ""' -a history -d 'Browse a stack\'s checkpoint history: list, show, export, diff, restore, prune'
complete -c pulumi-diy -n '__pulumi_diy_is ""' -a secrets -d 'Secrets: where they are, verify they decrypt, rotate passphrases and move...'
complete -c pulumi-diy -n '__pulumi_diy_is ""' -s b -l backend -x -a '(__pulumi_diy_values)' -d 'Backend URL (file://, s3://, gs://, azblob://, postgres://). Default...'
complete -c pulumi-diy -n '__pulumi_diy_is ""' -l json -d 'Machine-readable JSON on stdout.'
complete -c pulumi-diy -n '__pulumi_diy_is ""' -s q -l quiet -d 'No progress or informational output.'
complete -c pulumi-diy -n '__pulumi_diy_is ""' -l debug -d 'Show tracebacks for errors.'
complete -c pulumi-diy -n '__pulumi_diy_is ""' -l no-cache -d 'Do not read or write the local cache.'
complete -c pulumi-diy -n '__pulumi_diy_is ""' -l cache-dir -x -d 'Cache directory (default: PULUMI_DIY_CACHE_DIR or the user cache dir).'
complete -c pulumi-diy -n '__pulumi_diy_is ""' -s P -l parallel -x -d 'Concurrent reads (default: PULUMI_DIY_PARALLEL or 64).'
complete -c pulumi-diy -n '__pulumi_diy_is ""' -l no-color -d 'No colours (NO_COLOR is honoured too).'
complete -c pulumi-diy -n '__pulumi_diy_is ""' -l version -d 'Print the version and exit.'
complete -c pulumi-diy -n '__pulumi_diy_is ""' -s h -l help -d 'Show this message and exit.'
complete -c pulumi-diy -n '__pulumi_diy_is "env"' -s h -l help -d 'Show this message and exit.'
complete -c pulumi-diy -n '__pulumi_diy_is "stack"' -a ls -d 'List every stack in the backend: last update, resources, locks, size'
complete -c pulumi-diy -n '__pulumi_diy_is "stack"' -a show -d 'Summarise a stack: manifest, secrets provider, resources by type, outputs...'
complete -c pulumi-diy -n '__pulumi_diy_is "stack"' -a resources -d 'Show the stack\'s resource tree by parent, with...'
complete -c pulumi-diy -n '__pulumi_diy_is "stack"' -a export -d 'Print the stack\'s deployment exactly as `pulumi stack export` does, ready...'
complete -c pulumi-diy -n '__pulumi_diy_is "stack"' -a restore -d 'Bring back a deleted stack from its newest surviving copy (or --from-backup...'
complete -c pulumi-diy -n '__pulumi_diy_is "stack"' -a deleted -d 'List stacks that only survive in .bak, retained or backups/ copies (deleted...'
complete -c pulumi-diy -n '__pulumi_diy_is "stack"' -s h -l help -d 'Show this message and exit.'
complete -c pulumi-diy -n '__pulumi_diy_is "stack ls"' -s p -l project -x -a '(__pulumi_diy_values)' -d 'Only this project\'s stacks.'
complete -c pulumi-diy -n '__pulumi_diy_is "stack ls"' -s t -l tag -x -d 'Only stacks with this tag (repeatable).'
complete -c pulumi-diy -n '__pulumi_diy_is "stack ls"' -s s -l sort -x -a '(__pulumi_diy_values)' -d 'Sort by name, last-update, resources or size.'
complete -c pulumi-diy -n '__pulumi_diy_is "stack ls"' -l deleted -d 'List stacks that only survive in .bak/backups (removed by `pulumi stack rm`).'
complete -c pulumi-diy -n '__pulumi_diy_is "stack ls"' -s h -l help -d 'Show this message and exit.'
complete -c pulumi-diy -n '__pulumi_diy_is "stack show"' -l show-secrets -d 'Show secret outputs in plaintext.'
complete -c pulumi-diy -n '__pulumi_diy_is "stack show"' -s h -l help -d 'Show this message and exit.'
complete -c pulumi-diy -n '__pulumi_diy_is "stack show"' -a '(__pulumi_diy_values)'
complete -c pulumi-diy -n '__pulumi_diy_is "stack resources"' -s T -l type -x -d 'Only resources of this type (glob patterns allowed).'
complete -c pulumi-diy -n '__pulumi_diy_is "stack resources"' -l urn-only -d 'Print only URNs, one per line.'
complete -c pulumi-diy -n '__pulumi_diy_is "stack resources"' -s h -l help -d 'Show this message and exit.'
complete -c pulumi-diy -n '__pulumi_diy_is "stack resources"' -a '(__pulumi_diy_values)'
complete -c pulumi-diy -n '__pulumi_diy_is "stack export"' -s f -l file -r -F -d 'Write to this file instead of stdout.'
complete -c pulumi-diy -n '__pulumi_diy_is "stack export"' -l show-secrets -d 'Decrypt secrets (needs the passphrase or KMS access).'
complete -c pulumi-diy -n '__pulumi_diy_is "stack export"' -s h -l help -d 'Show this message and exit.'
complete -c pulumi-diy -n '__pulumi_diy_is "stack export"' -a '(__pulumi_diy_values)'
complete -c pulumi-diy -n '__pulumi_diy_is "stack restore"' -l from-backup -x -a '(__pulumi_diy_values)' -d 'Which copy: a timestamp from a backup/retained file name, or \'bak\'. Default...'
complete -c pulumi-diy -n '__pulumi_diy_is "stack restore"' -l dry-run -d 'Show what would be restored; write nothing.'
complete -c pulumi-diy -n '__pulumi_diy_is "stack restore"' -s y -l yes -d 'Do not ask for confirmation.'
complete -c pulumi-diy -n '__pulumi_diy_is "stack restore"' -s h -l help -d 'Show this message and exit.'
complete -c pulumi-diy -n '__pulumi_diy_is "stack restore"' -a '(__pulumi_diy_values)'
complete -c pulumi-diy -n '__pulumi_diy_is "stack deleted"' -s h -l help -d 'Show this message and exit.'
complete -c pulumi-diy -n '__pulumi_diy_is "backend"' -a info -d 'Show the backend: URL (credentials redacted), storage kind, layout...'
complete -c pulumi-diy -n '__pulumi_diy_is "backend"' -s h -l help -d 'Show this message and exit.'
complete -c pulumi-diy -n '__pulumi_diy_is "backend info"' -s h -l help -d 'Show this message and exit.'
complete -c pulumi-diy -n '__pulumi_diy_is "lock"' -a ls -d 'List every lock file in the backend (project and legacy layouts) with...'
complete -c pulumi-diy -n '__pulumi_diy_is "lock"' -a show -d 'Show the locks of one stack in detail: holder, pid, creation time, age...'
complete -c pulumi-diy -n '__pulumi_diy_is "lock"' -a break -d 'Remove the stack\'s locks that match ALL the given filters, reporting each...'
complete -c pulumi-diy -n '__pulumi_diy_is "lock"' -a wait -d 'Wait until the stack has no lock: exit 0 as soon as it is free, exit 11 at...'
complete -c pulumi-diy -n '__pulumi_diy_is "lock"' -s h -l help -d 'Show this message and exit.'
complete -c pulumi-diy -n '__pulumi_diy_is "lock ls"' -s p -l project -x -a '(__pulumi_diy_values)' -d 'Only this project\'s stacks.'
complete -c pulumi-diy -n '__pulumi_diy_is "lock ls"' -l stale-after -x -a '(__pulumi_diy_values)' -d 'Call a lock stale when it is older than this.'
complete -c pulumi-diy -n '__pulumi_diy_is "lock ls"' -l json -d 'JSON on stdout (same as the global --json).'
complete -c pulumi-diy -n '__pulumi_diy_is "lock ls"' -s h -l help -d 'Show this message and exit.'
complete -c pulumi-diy -n '__pulumi_diy_is "lock ls"' -a '(__pulumi_diy_values)'
complete -c pulumi-diy -n '__pulumi_diy_is "lock show"' -l stale-after -x -a '(__pulumi_diy_values)' -d 'Call a lock stale when it is older than this.'
complete -c pulumi-diy -n '__pulumi_diy_is "lock show"' -l json -d 'JSON on stdout (same as the global --json).'
complete -c pulumi-diy -n '__pulumi_diy_is "lock show"' -s h -l help -d 'Show this message and exit.'
complete -c pulumi-diy -n '__pulumi_diy_is "lock show"' -a '(__pulumi_diy_values)'
complete -c pulumi-diy -n '__pulumi_diy_is "lock break"' -l lock-id -x -a '(__pulumi_diy_values)' -d 'Only this lock.'
complete -c pulumi-diy -n '__pulumi_diy_is "lock break"' -l older-than -x -a '(__pulumi_diy_values)' -d 'Only locks older than this (e.g. 2h).'
complete -c pulumi-diy -n '__pulumi_diy_is "lock break"' -l user -x -d 'Only this user\'s locks.'
complete -c pulumi-diy -n '__pulumi_diy_is "lock break"' -l host -x -d 'Only this host\'s locks.'
complete -c pulumi-diy -n '__pulumi_diy_is "lock break"' -l force -d 'Also remove matching locks that are not stale.'
complete -c pulumi-diy -n '__pulumi_diy_is "lock break"' -l dry-run -d 'Show what would go; remove nothing.'
complete -c pulumi-diy -n '__pulumi_diy_is "lock break"' -s y -l yes -d 'Do not ask for confirmation.'
complete -c pulumi-diy -n '__pulumi_diy_is "lock break"' -l json -d 'JSON on stdout (same as the global --json).'
complete -c pulumi-diy -n '__pulumi_diy_is "lock break"' -s h -l help -d 'Show this message and exit.'
complete -c pulumi-diy -n '__pulumi_diy_is "lock break"' -a '(__pulumi_diy_values)'
complete -c pulumi-diy -n '__pulumi_diy_is "lock wait"' -l timeout -x -a '(__pulumi_diy_values)' -d 'Give up after it.'
complete -c pulumi-diy -n '__pulumi_diy_is "lock wait"' -l poll -x -a '(__pulumi_diy_values)' -d 'Time between checks.'
complete -c pulumi-diy -n '__pulumi_diy_is "lock wait"' -l json -d 'JSON on stdout (same as the global --json).'
complete -c pulumi-diy -n '__pulumi_diy_is "lock wait"' -s h -l help -d 'Show this message and exit.'
complete -c pulumi-diy -n '__pulumi_diy_is "lock wait"' -a '(__pulumi_diy_values)'
complete -c pulumi-diy -n '__pulumi_diy_is "history"' -a ls -d 'List updates newest first: version (1 = oldest), kind, result, start...'
complete -c pulumi-diy -n '__pulumi_diy_is "history"' -a show -d 'Show one update in full: message, times, changes, environment (git, CI...'
complete -c pulumi-diy -n '__pulumi_diy_is "history"' -a export -d 'Print a version\'s checkpoint as a `pulumi stack export` document, ready for...'
complete -c pulumi-diy -n '__pulumi_diy_is "history"' -a diff -d 'Compare two versions (or a version and the current state): resources added...'
complete -c pulumi-diy -n '__pulumi_diy_is "history"' -a restore -d 'Make a past version the stack\'s current checkpoint, under the stack lock'
complete -c pulumi-diy -n '__pulumi_diy_is "history"' -a prune -d 'Remove history entries (history + checkpoint pairs) and backups beyond a...'
complete -c pulumi-diy -n '__pulumi_diy_is "history"' -s h -l help -d 'Show this message and exit.'
complete -c pulumi-diy -n '__pulumi_diy_is "history ls"' -s a -l all -d 'Every stack\'s updates, newest first.'
complete -c pulumi-diy -n '__pulumi_diy_is "history ls"' -l since -x -a '(__pulumi_diy_values)' -d 'With --all: only updates in the last DURATION (e.g. 7d, 12h).'
complete -c pulumi-diy -n '__pulumi_diy_is "history ls"' -s p -l project -x -a '(__pulumi_diy_values)' -d 'With --all: only stacks of this project.'
complete -c pulumi-diy -n '__pulumi_diy_is "history ls"' -s n -l limit -x -d 'Show at most N updates (0 = all).'
complete -c pulumi-diy -n '__pulumi_diy_is "history ls"' -s h -l help -d 'Show this message and exit.'
complete -c pulumi-diy -n '__pulumi_diy_is "history ls"' -a '(__pulumi_diy_values)'
complete -c pulumi-diy -n '__pulumi_diy_is "history show"' -s h -l help -d 'Show this message and exit.'
complete -c pulumi-diy -n '__pulumi_diy_is "history show"' -a '(__pulumi_diy_values)'
complete -c pulumi-diy -n '__pulumi_diy_is "history export"' -s f -l file -r -F -d 'Write to this file instead of stdout.'
complete -c pulumi-diy -n '__pulumi_diy_is "history export"' -l show-secrets -d 'Decrypt secrets with the version\'s own secrets provider.'
complete -c pulumi-diy -n '__pulumi_diy_is "history export"' -s h -l help -d 'Show this message and exit.'
complete -c pulumi-diy -n '__pulumi_diy_is "history export"' -a '(__pulumi_diy_values)'
complete -c pulumi-diy -n '__pulumi_diy_is "history diff"' -l show-secrets -d 'Show changed secret values in plaintext (asks for the passphrase if needed).'
complete -c pulumi-diy -n '__pulumi_diy_is "history diff"' -s h -l help -d 'Show this message and exit.'
complete -c pulumi-diy -n '__pulumi_diy_is "history diff"' -a '(__pulumi_diy_values)'
complete -c pulumi-diy -n '__pulumi_diy_is "history restore"' -l dry-run -d 'Show what would happen; write nothing.'
complete -c pulumi-diy -n '__pulumi_diy_is "history restore"' -s y -l yes -d 'Do not ask for confirmation.'
complete -c pulumi-diy -n '__pulumi_diy_is "history restore"' -s h -l help -d 'Show this message and exit.'
complete -c pulumi-diy -n '__pulumi_diy_is "history restore"' -a '(__pulumi_diy_values)'
complete -c pulumi-diy -n '__pulumi_diy_is "history prune"' -s a -l all -d 'Every stack in the backend.'
complete -c pulumi-diy -n '__pulumi_diy_is "history prune"' -l keep -x -d 'Keep the newest N entries/backups.'
complete -c pulumi-diy -n '__pulumi_diy_is "history prune"' -l older-than -x -a '(__pulumi_diy_values)' -d 'Remove entries/backups older than DURATION (e.g. 90d).'
complete -c pulumi-diy -n '__pulumi_diy_is "history prune"' -l dry-run -d 'Show what would happen; write nothing.'
complete -c pulumi-diy -n '__pulumi_diy_is "history prune"' -s y -l yes -d 'Do not ask for confirmation.'
complete -c pulumi-diy -n '__pulumi_diy_is "history prune"' -s h -l help -d 'Show this message and exit.'
complete -c pulumi-diy -n '__pulumi_diy_is "history prune"' -a '(__pulumi_diy_values)'
complete -c pulumi-diy -n '__pulumi_diy_is "secrets"' -a ls -d 'List where a stack\'s secrets are: resource URN and property path in the...'
complete -c pulumi-diy -n '__pulumi_diy_is "secrets"' -a verify -d 'Decrypt every secret in the current checkpoint, .bak, history checkpoints...'
complete -c pulumi-diy -n '__pulumi_diy_is "secrets"' -a rotate -d 'Re-encrypt every secret of the selected stacks under a new key: a new...'
complete -c pulumi-diy -n '__pulumi_diy_is "secrets"' -a change-provider -d 'Move the selected stacks\' secrets to another secrets provider (a new data...'
complete -c pulumi-diy -n '__pulumi_diy_is "secrets"' -s h -l help -d 'Show this message and exit.'
complete -c pulumi-diy -n '__pulumi_diy_is "secrets ls"' -s C -l config-dir -x -a '(__fish_complete_directories)' -d 'Folder holding the Pulumi.<stack>.yaml files (or...'
complete -c pulumi-diy -n '__pulumi_diy_is "secrets ls"' -s h -l help -d 'Show this message and exit.'
complete -c pulumi-diy -n '__pulumi_diy_is "secrets ls"' -a '(__pulumi_diy_values)'
complete -c pulumi-diy -n '__pulumi_diy_is "secrets verify"' -l all -d 'Every stack in the backend.'
complete -c pulumi-diy -n '__pulumi_diy_is "secrets verify"' -s p -l project -x -d 'Every stack of this project.'
complete -c pulumi-diy -n '__pulumi_diy_is "secrets verify"' -s C -l config-dir -x -a '(__fish_complete_directories)' -d 'Folder holding the Pulumi.<stack>.yaml files (or...'
complete -c pulumi-diy -n '__pulumi_diy_is "secrets verify"' -s h -l help -d 'Show this message and exit.'
complete -c pulumi-diy -n '__pulumi_diy_is "secrets verify"' -a '(__pulumi_diy_values)'
complete -c pulumi-diy -n '__pulumi_diy_is "secrets rotate"' -l all -d 'Every stack in the backend.'
complete -c pulumi-diy -n '__pulumi_diy_is "secrets rotate"' -s p -l project -x -d 'Every stack of this project.'
complete -c pulumi-diy -n '__pulumi_diy_is "secrets rotate"' -s C -l config-dir -x -a '(__fish_complete_directories)' -d 'Folder holding the Pulumi.<stack>.yaml files (or...'
complete -c pulumi-diy -n '__pulumi_diy_is "secrets rotate"' -l dry-run -d 'Check everything decrypts and show the plan; write nothing.'
complete -c pulumi-diy -n '__pulumi_diy_is "secrets rotate"' -s y -l yes -d 'Do not ask for confirmation.'
complete -c pulumi-diy -n '__pulumi_diy_is "secrets rotate"' -l resume -d 'Finish an interrupted rotation run.'
complete -c pulumi-diy -n '__pulumi_diy_is "secrets rotate"' -l run-id -x -d 'Which run --resume finishes.'
complete -c pulumi-diy -n '__pulumi_diy_is "secrets rotate"' -s h -l help -d 'Show this message and exit.'
complete -c pulumi-diy -n '__pulumi_diy_is "secrets rotate"' -a '(__pulumi_diy_values)'
complete -c pulumi-diy -n '__pulumi_diy_is "secrets change-provider"' -l to -x -a '(__pulumi_diy_values)' -d 'passphrase, or awskms://..., azurekeyvault://..., gcpkms://..., hashivault://...'
complete -c pulumi-diy -n '__pulumi_diy_is "secrets change-provider"' -l all -d 'Every stack in the backend.'
complete -c pulumi-diy -n '__pulumi_diy_is "secrets change-provider"' -s p -l project -x -d 'Every stack of this project.'
complete -c pulumi-diy -n '__pulumi_diy_is "secrets change-provider"' -s C -l config-dir -x -a '(__fish_complete_directories)' -d 'Folder holding the Pulumi.<stack>.yaml files (or...'
complete -c pulumi-diy -n '__pulumi_diy_is "secrets change-provider"' -l dry-run -d 'Check everything decrypts and show the plan; write nothing.'
complete -c pulumi-diy -n '__pulumi_diy_is "secrets change-provider"' -s y -l yes -d 'Do not ask for confirmation.'
complete -c pulumi-diy -n '__pulumi_diy_is "secrets change-provider"' -s h -l help -d 'Show this message and exit.'
complete -c pulumi-diy -n '__pulumi_diy_is "secrets change-provider"' -a '(__pulumi_diy_values)'
