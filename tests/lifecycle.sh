# tests/lifecycle.sh - tests of the OCI lifecycle commands: create, start,
# state, kill, delete, list, run with a bundle, and exec. Sourced by
# test.sh, which provides crater(), make_bundle, config_edit, $ROOTFS,
# $IMAGE, $STATE, $TMP, the expect_* checks and run_test. tests/run.sh
# provides pids_in_namespace_of and loop_of.
#
# Bundles come from `runc spec` (or tests/runc-spec.json), so the
# container runs as root with the hostname "runc", a read-only root, the
# runc mounts, maskedPaths and readonlyPaths. make_bundle writes each
# argument into config.json unescaped, so the shell scripts below contain
# no double quote, backslash, '&' or '|'.
#
# The helper functions share the shell's variables with test.sh, so they
# avoid its names (dir, root, pid, path, i, name).

# The init waits for TERM and reports it on stdout.
TRAP_TERM_SCRIPT="trap 'echo got-term; exit 0' TERM; echo ready; \
while :; do sleep 0.1; done"

# The init reports every USR1 and HUP on stdout.
TRAP_USR1_SCRIPT="trap 'echo got-usr1' USR1; trap 'echo got-hup' HUP; \
echo ready; while :; do sleep 0.1; done"

# --- Helpers -----------------------------------------------------------------

# create_container ID BUNDLE creates container ID with BUNDLE/out as its stdout
# and stderr, and sets IPID to the host PID of its init.
create_container() {
    rm -f "$2/pid"
    crater -q create --bundle "$2" --pid-file "$2/pid" "$1" \
        >"$2/out" 2>&1 </dev/null || {
        fail "create $1 failed: $(cat "$2/out")"
        return 1
    }
    IPID=$(cat "$2/pid")
}

# start_container ID BUNDLE starts container ID and waits for "ready" in
# its output.
start_container() {
    crater start "$1" || { fail "start $1 failed"; return 1; }
    wait_for grep -qx ready "$2/out" ||
        fail "no 'ready' from $1 after start: $(cat "$2/out")"
}

# remove_containers ID... deletes the containers, whatever their status.
remove_containers() {
    for each_id in "$@"; do
        crater -q delete --force "$each_id" >/dev/null 2>&1
    done
}

# state_field ID FIELD prints one field of `crater state ID`, without quotes.
state_field() {
    crater state "$1" 2>/dev/null | sed -n \
        "s/^[[:space:]]*\"$2\": *\"\{0,1\}\([^\",]*\)\"\{0,1\},\{0,1\}\$/\1/p"
}

status_is() {
    [ "$(state_field "$1" status)" = "$2" ]
}

# process_alive PID: true while PID exists and is not a zombie.
process_alive() {
    process_state=$(sed -n 's/^State:[[:space:]]*\([A-Z]\).*/\1/p' \
        "/proc/$1/status" 2>/dev/null)
    [ -n "$process_state" ] && [ "$process_state" != Z ]
}

# open_fds PID prints the open descriptors of PID in one line.
open_fds() {
    ls "/proc/$1/fd" 2>/dev/null | sort -n | tr '\n' ' '
}

fds_are() {
    [ "$(open_fds "$1")" = "$2" ]
}

# no_loop_on FILE: true when no loop device has FILE as its backing file.
no_loop_on() {
    [ -z "$(loop_of "$1")" ]
}

# line_count_is FILE LINE N: true when FILE has exactly N lines equal to LINE.
line_count_is() {
    [ "$(grep -cx "$2" "$1")" = "$3" ]
}

# crater_processes prints the crater processes that use the suite's
# state directory.
crater_processes() {
    for proc_dir in /proc/[0-9]*; do
        [ "$(readlink "$proc_dir/exe" 2>/dev/null)" = "$CRATER" ] || continue
        tr '\0' ' ' <"$proc_dir/cmdline" 2>/dev/null | grep -F "$STATE" |
            sed "s|^|${proc_dir#/proc/} |"
    done
}

# expect_start_fails ID CASE: `crater start ID` fails within 5 s.
expect_start_fails() {
    timeout 5 "$CRATER" --root "$STATE" start "$1" 2>"$TMP/start.err"
    start_status=$?
    case $start_status in
    124 | 143)
        fail "start of $2: still waiting after 5 s"
        return 1
        ;;
    esac
    expect_eq "exit status of start of $2" 1 "$start_status" || return 1
    [ -s "$TMP/start.err" ] || fail "start of $2: no error message"
}

# --- Full lifecycle ----------------------------------------------------------

# check_lifecycle ID BUNDLE [IMAGE]: create, start, kill TERM, delete,
# checking what the kernel shows after each step. IMAGE is the image file
# of an image root, whose loop device must go with the container.
check_lifecycle() {
    id=$1 bundle=$2 image=${3:-}
    create_container "$id" "$bundle" || return 1

    expect_eq "status after create" created "$(state_field "$id" status)" ||
        return 1
    expect_eq "bytes in the pid file (no newline)" "${#IPID}" \
        "$(($(wc -c <"$bundle/pid")))" || return 1
    expect_eq "pid in state" "$IPID" "$(state_field "$id" pid)" || return 1
    expect_eq "id in state" "$id" "$(state_field "$id" id)" || return 1
    expect_eq "bundle in state" "$bundle" "$(state_field "$id" bundle)" ||
        return 1
    version=$(state_field "$id" ociVersion)
    case $version in
    1.0.*) ;;
    *) fail "ociVersion in state: expected 1.0.x, got '$version'"; return 1 ;;
    esac
    created=$(state_field "$id" created)
    echo "$created" | grep -Eq '^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:.]+' ||
        { fail "created in state is not RFC 3339: '$created'"; return 1; }
    expect_eq "mode of the state directory" 700 \
        "$(stat -c %a "$STATE/$id")" || return 1

    for ns in pid mnt uts ipc net; do
        host_ns=$(readlink "/proc/self/ns/$ns")
        init_ns=$(readlink "/proc/$IPID/ns/$ns")
        [ -n "$init_ns" ] ||
            { fail "no /proc/$IPID/ns/$ns: the init is gone"; return 1; }
        [ "$host_ns" != "$init_ns" ] ||
            { fail "$ns namespace of the created init is the host's"
              return 1; }
    done

    cgroups=""
    for controller in pids memory cpu; do
        cgroup=$(cgroup_dir "$IPID" "$controller")
        expect_eq "$controller cgroup of the created init" "crater-$id" \
            "$(basename "$cgroup")" || return 1
        [ -d "$cgroup" ] || { fail "cgroup $cgroup does not exist"; return 1; }
        cgroups="$cgroups $cgroup"
    done

    if [ -n "$image" ]; then
        [ -n "$(loop_of "$image")" ] ||
            { fail "no loop device has $image as backing file"; return 1; }
    fi

    start_container "$id" "$bundle" || return 1
    expect_eq "status after start" running "$(state_field "$id" status)" ||
        return 1

    crater kill "$id" TERM || { fail "kill $id TERM failed"; return 1; }
    wait_for grep -qx got-term "$bundle/out" ||
        { fail "the TERM trap did not run: $(cat "$bundle/out")"; return 1; }
    wait_for status_is "$id" stopped ||
        { fail "status after TERM: $(state_field "$id" status)"; return 1; }

    crater delete "$id" || { fail "delete of stopped $id failed"; return 1; }
    [ ! -e "$STATE/$id" ] ||
        { fail "$STATE/$id still exists after delete"; return 1; }
    for cgroup in $cgroups; do
        [ ! -d "$cgroup" ] ||
            { fail "cgroup $cgroup still exists after delete"; return 1; }
    done
    if crater state "$id" >/dev/null 2>&1; then
        fail "state of $id succeeds after delete"
        return 1
    fi
    if [ -n "$image" ]; then
        wait_for no_loop_on "$image" ||
            { fail "loop device $(loop_of "$image") is still attached"
              return 1; }
    fi
}

t_lifecycle_directory() {
    make_bundle "$TMP/lc-dir" rootfs sh -c "$TRAP_TERM_SCRIPT" || return 1
    check_lifecycle lc-dir "$TMP/lc-dir"
    result=$?
    remove_containers lc-dir
    return $result
}

t_lifecycle_image() {
    make_bundle "$TMP/lc-img" disk.img sh -c "$TRAP_TERM_SCRIPT" || return 1
    cp "$IMAGE" "$TMP/lc-img/disk.img" || return 1
    check_lifecycle lc-img "$TMP/lc-img" "$TMP/lc-img/disk.img"
    result=$?
    remove_containers lc-img
    return $result
}

# --- kill --------------------------------------------------------------------

check_kill_signals() {
    bundle=$TMP/kill
    make_bundle "$bundle" rootfs sh -c "$TRAP_USR1_SCRIPT" || return 1
    create_container kill "$bundle" || return 1
    start_container kill "$bundle" || return 1

    sent=0
    for signal in USR1 SIGUSR1; do
        crater kill kill "$signal" ||
            { fail "kill kill $signal failed"; return 1; }
        sent=$((sent + 1))
        wait_for line_count_is "$bundle/out" got-usr1 $sent || {
            fail "after kill $signal: $(grep -cx got-usr1 "$bundle/out")" \
                "USR1 traps, expected $sent"
            return 1
        }
    done
    # SIGHUP is 1 on every Linux architecture, unlike SIGUSR1.
    crater kill kill 1 || { fail "kill kill 1 failed"; return 1; }
    wait_for line_count_is "$bundle/out" got-hup 1 ||
        { fail "kill 1 did not reach the HUP trap: $(cat "$bundle/out")"
          return 1; }

    for bad in NOSUCHSIGNAL " 9" 9x 0 65; do
        if crater kill kill "$bad" 2>/dev/null; then
            fail "kill with signal '$bad' succeeded"
            return 1
        fi
    done
    expect_eq "status after an invalid signal" running \
        "$(state_field kill status)" || return 1

    crater kill kill || { fail "kill without a signal failed"; return 1; }
    wait_for status_is kill stopped ||
        fail "status after kill without a signal: $(state_field kill status)"
}

t_kill_signals() {
    check_kill_signals
    result=$?
    remove_containers kill
    return $result
}

check_kill_stopped() {
    bundle=$TMP/kill-stopped
    make_bundle "$bundle" rootfs true || return 1
    create_container kill-stopped "$bundle" || return 1
    crater start kill-stopped || { fail "start failed"; return 1; }
    wait_for status_is kill-stopped stopped ||
        { fail "status after true: $(state_field kill-stopped status)"
          return 1; }

    crater state kill-stopped >"$TMP/state.before" || return 1
    for signal in TERM KILL; do
        crater kill kill-stopped "$signal" 2>"$TMP/kill.err"
        expect_eq "exit status of kill $signal of a stopped container" 1 $? ||
            return 1
        [ -s "$TMP/kill.err" ] ||
            { fail "kill $signal of a stopped container: no error"; return 1; }
    done
    crater state kill-stopped >"$TMP/state.after" || return 1
    cmp "$TMP/state.before" "$TMP/state.after" || {
        fail "state changed after kill: $(cat "$TMP/state.after")"
        return 1
    }

    crater kill no-such-container TERM 2>/dev/null
    expect_eq "exit status of kill of an unknown ID" 1 $?
}

t_kill_stopped() {
    check_kill_stopped
    result=$?
    remove_containers kill-stopped
    return $result
}

# --- delete ------------------------------------------------------------------

check_delete_live() {
    bundle=$TMP/delete-live
    make_bundle "$bundle" rootfs sh -c "$TRAP_TERM_SCRIPT" || return 1
    create_container delete-live "$bundle" || return 1
    cgroup=$(cgroup_dir "$IPID" pids)

    for expected in created running; do
        if [ $expected = running ]; then
            start_container delete-live "$bundle" || return 1
        fi
        crater delete delete-live 2>"$TMP/delete.err"
        expect_eq "exit status of delete of a $expected container" 1 $? ||
            return 1
        [ -s "$TMP/delete.err" ] ||
            { fail "delete of a $expected container: no error"; return 1; }
        expect_eq "status after delete without --force" "$expected" \
            "$(state_field delete-live status)" || return 1
        process_alive "$IPID" ||
            { fail "init $IPID died on delete without --force"; return 1; }
        [ -d "$STATE/delete-live" ] ||
            { fail "delete without --force removed the state"; return 1; }
        [ -d "$cgroup" ] ||
            { fail "delete without --force removed $cgroup"; return 1; }
    done

    crater delete --force delete-live ||
        { fail "delete --force of a running container failed"; return 1; }
    if process_alive "$IPID"; then
        fail "init $IPID still runs after delete --force"
        return 1
    fi
    [ ! -e "$STATE/delete-live" ] ||
        { fail "$STATE/delete-live still exists after delete --force"
          return 1; }
    [ ! -d "$cgroup" ] ||
        fail "cgroup $cgroup still exists after delete --force"
}

t_delete_live() {
    check_delete_live
    result=$?
    remove_containers delete-live
    return $result
}

t_delete_force_unknown() {
    crater delete --force no-such-container ||
        { fail "delete --force of an unknown ID failed"; return 1; }
    crater delete no-such-container 2>/dev/null
    expect_eq "exit status of delete of an unknown ID" 1 $?
}

check_id_reuse() {
    bundle=$TMP/reuse
    make_bundle "$bundle" rootfs sh -c "$TRAP_TERM_SCRIPT" || return 1
    create_container reuse "$bundle" || return 1
    first=$IPID
    crater delete --force reuse || { fail "delete --force failed"; return 1; }
    create_container reuse "$bundle" || return 1
    [ "$IPID" != "$first" ] ||
        { fail "the second create reports the first init $first"; return 1; }
    expect_eq "status of the second container" created \
        "$(state_field reuse status)" || return 1
    start_container reuse "$bundle"
}

t_id_reuse() {
    check_id_reuse
    result=$?
    remove_containers reuse
    return $result
}

# A relative --bundle, and no --bundle at all, give the absolute path in
# state. A relative --pid-file is relative to the working directory.
check_relative_bundle() {
    make_bundle "$TMP/rel" rootfs sleep 300 || return 1
    (cd "$TMP" && crater -q create --bundle rel --pid-file rel.pid rel-a \
        >/dev/null 2>&1 </dev/null) ||
        { fail "create --bundle rel failed"; return 1; }
    expect_eq "bundle of --bundle rel" "$TMP/rel" \
        "$(state_field rel-a bundle)" || return 1
    expect_eq "pid of --pid-file rel.pid" "$(state_field rel-a pid)" \
        "$(cat "$TMP/rel.pid")" || return 1
    (cd "$TMP/rel" && crater -q create rel-b >/dev/null 2>&1 </dev/null) ||
        { fail "create without --bundle failed"; return 1; }
    expect_eq "bundle without --bundle" "$TMP/rel" \
        "$(state_field rel-b bundle)"
}

t_relative_bundle() {
    check_relative_bundle
    result=$?
    remove_containers rel-a rel-b
    return $result
}

# --- start -------------------------------------------------------------------

t_start_unknown() {
    need timeout || return 2
    expect_start_fails no-such-container "an unknown ID" || return 1
    expect_eq "state directories" "" "$(ls -A "$STATE")"
}

check_start_twice() {
    bundle=$TMP/start-twice
    make_bundle "$bundle" rootfs sh -c "$TRAP_TERM_SCRIPT" || return 1
    create_container start-twice "$bundle" || return 1
    start_container start-twice "$bundle" || return 1
    expect_start_fails start-twice "a started container" || return 1
    sleep 0.2
    expect_eq "runs of the command" 1 "$(grep -cx ready "$bundle/out")" ||
        return 1
    expect_eq "status after the second start" running \
        "$(state_field start-twice status)"
}

t_start_twice() {
    need timeout || return 2
    check_start_twice
    result=$?
    remove_containers start-twice
    return $result
}

check_start_dead() {
    bundle=$TMP/start-dead
    make_bundle "$bundle" rootfs sh -c "$TRAP_TERM_SCRIPT" || return 1
    create_container start-dead "$bundle" || return 1
    kill -9 "$IPID"
    wait_for status_is start-dead stopped ||
        { fail "status after SIGKILL: $(state_field start-dead status)"
          return 1; }
    expect_start_fails start-dead "a container whose init died" ||
        return 1
    crater delete start-dead || fail "delete of the stopped container failed"
}

t_start_dead() {
    need timeout || return 2
    check_start_dead
    result=$?
    remove_containers start-dead
    return $result
}

# A state.json with pid 0 must never reach kill(2): kill(0, ...) would
# signal crater's own process group, and kill(-1, ...) every process.
t_damaged_state() {
    mkdir -p "$STATE/bad-pid" "$STATE/bad-json"
    printf '{"id": "bad-pid", "bundle": "/x"}\n' >"$STATE/bad-pid/state.json"
    printf '{bad\n' >"$STATE/bad-json/state.json"
    out=$(crater kill bad-pid TERM 2>&1)
    expect_eq "exit status of kill" 1 $? || return 1
    expect_in "kill's error" "is damaged" "$out" || return 1
    out=$(crater state bad-json 2>&1)
    expect_eq "exit status of state" 1 $? || return 1
    expect_in "state's error" "delete --force bad-json" "$out" || return 1
    out=$(crater list --format json 2>"$TMP/list.err")
    expect_eq "exit status of list" 0 $? || return 1
    expect_eq "list --format json" "[]" "$out" || return 1
    expect_in "list's warning" "skipping container 'bad-json'" \
        "$(cat "$TMP/list.err")" || return 1
    crater delete bad-pid 2>/dev/null && {
        fail "delete without --force removed a damaged state"
        return 1
    }
    crater delete --force bad-pid 2>/dev/null &&
        crater delete --force bad-json 2>/dev/null ||
        { fail "delete --force of a damaged state failed"; return 1; }
    expect_eq "state folders left" "" \
        "$(ls -d "$STATE/bad-pid" "$STATE/bad-json" 2>/dev/null)"
}

# A state.json over 64 KiB (annotations of 60 x 2 KiB) is read in full.
t_large_state() {
    make_bundle "$TMP/large" rootfs sh -c "$TRAP_TERM_SCRIPT" || return 1
    value=$(printf '%2000s' '' | tr ' ' v)
    entries=""
    n=0
    while [ $n -lt 60 ]; do
        entries="$entries\"note$n\": \"$value\", "
        n=$((n + 1))
    done
    config_edit "$TMP/large" \
        "s|^{|{ \"annotations\": { ${entries%, } },|"
    crater -q create --bundle "$TMP/large" large </dev/null >/dev/null 2>&1 ||
        { fail "create failed"; return 1; }
    size=$(wc -c <"$STATE/large/state.json")
    [ "$size" -gt 65536 ] ||
        { fail "state.json has only $size bytes"; return 1; }
    expect_eq "status" created "$(state_field large status)" || return 1
    crater delete --force large || { fail "delete --force failed"; return 1; }
}

t_help_after_command() {
    out=$(crater create --help)
    expect_eq "exit status" 0 $? || return 1
    expect_in "help text" "usage: crater" "$out"
}

# --- create ------------------------------------------------------------------

check_create_race() {
    bundle=$TMP/race
    make_bundle "$bundle" rootfs sh -c "$TRAP_TERM_SCRIPT" || return 1
    n=0
    while [ $n -lt 10 ]; do
        crater -q create --bundle "$bundle" --pid-file "$TMP/race.pid.$n" \
            race >"$TMP/race.out.$n" 2>"$TMP/race.err.$n" </dev/null &
        eval "race_job_$n=\$!"
        n=$((n + 1))
    done

    winners=0 winner=""
    n=0
    while [ $n -lt 10 ]; do
        eval "wait \$race_job_$n"
        if [ $? = 0 ]; then
            winners=$((winners + 1))
            winner=$n
        fi
        n=$((n + 1))
    done
    expect_eq "creates of one ID that succeeded" 1 "$winners" || return 1

    n=0
    while [ $n -lt 10 ]; do
        if [ $n != "$winner" ]; then
            expect_in "error of losing create $n" "already exists" \
                "$(cat "$TMP/race.err.$n")" || return 1
            [ ! -e "$TMP/race.pid.$n" ] ||
                { fail "losing create $n wrote a pid file"; return 1; }
        fi
        n=$((n + 1))
    done

    IPID=$(cat "$TMP/race.pid.$winner")
    expect_eq "pid of the winner in state" "$IPID" "$(state_field race pid)" ||
        return 1
    expect_eq "status of the winner" created "$(state_field race status)" ||
        return 1
    expect_in "cgroup of the winner" "/crater-race" \
        "$(cat "/proc/$IPID/cgroup")" || return 1
    crater start race || { fail "start of the winner failed"; return 1; }
    wait_for grep -qx ready "$TMP/race.out.$winner" || {
        fail "no output from the winner: $(cat "$TMP/race.out.$winner")"
        return 1
    }
    expect_eq "status of the started winner" running \
        "$(state_field race status)"
}

t_create_race() {
    check_create_race
    result=$?
    remove_containers race
    return $result
}

# Invalid IDs go to a --root of their own, so that a path such as ROOT/..
# lands inside the sandbox folder, where the checks see it.
t_invalid_ids() {
    make_bundle "$TMP/ids-bundle" rootfs true || return 1
    sandbox=$TMP/ids
    mkdir -p "$sandbox/state"
    echo keep >"$sandbox/canary"
    long=a
    n=0
    while [ $n -lt 10 ]; do
        long=$long$long
        n=$((n + 1))
    done
    long=${long}a
    # 249: one more than fits in a file name after "crater-".
    just_over=$(printf '%249s' '' | tr ' ' a)

    for bad in .. a/b "" .x "$long" "$just_over"; do
        label="'$bad'"
        [ ${#bad} -gt 200 ] && label="of ${#bad} characters"
        "$CRATER" --root "$sandbox/state" -q create \
            --bundle "$TMP/ids-bundle" --pid-file "$TMP/ids.pid" "$bad" \
            >"$TMP/ids.out" 2>&1 </dev/null
        expect_eq "exit status of create with ID $label" 1 $? || return 1
        expect_in "error for ID $label" "invalid container ID" \
            "$(cat "$TMP/ids.out")" || return 1
        [ ! -e "$TMP/ids.pid" ] ||
            { fail "create with ID $label wrote a pid file"; return 1; }

        for command in start state kill delete "delete --force"; do
            # shellcheck disable=SC2086
            "$CRATER" --root "$sandbox/state" -q $command "$bad" \
                >/dev/null 2>&1 </dev/null
            [ $? != 0 ] ||
                { fail "$command with ID $label succeeded"; return 1; }
        done

        expect_eq "sandbox after ID $label" "canary state " \
            "$(ls -A "$sandbox" | tr '\n' ' ')" || return 1
        expect_eq "sandbox canary after ID $label" keep \
            "$(cat "$sandbox/canary")" || return 1
        expect_eq "sandbox state after ID $label" "" \
            "$(ls -A "$sandbox/state")" || return 1
        expect_eq "suite state after ID $label" "" "$(ls -A "$STATE")" ||
            return 1
    done

    # run's ID is an argument: a bad one is a mistake on the command line.
    "$CRATER" --root "$sandbox/state" -q run --bundle "$TMP/ids-bundle" \
        /bin/echo >"$TMP/ids.out" 2>&1 </dev/null
    expect_eq "exit status of run with ID '/bin/echo'" 2 $? || return 1
    expect_in "error for run with ID '/bin/echo'" "invalid container ID" \
        "$(cat "$TMP/ids.out")"
}

# expect_bad_config CASE TEXT: create of bundle $TMP/bad-CASE fails
# with TEXT in the error and leaves nothing.
expect_bad_config() {
    bundle=$TMP/bad-$1
    crater -q create --bundle "$bundle" --pid-file "$bundle/pid" "bad-$1" \
        >"$bundle/out" 2>&1 </dev/null
    expect_eq "exit status for $1" 1 $? || return 1
    expect_in "error for $1" "$2" "$(cat "$bundle/out")" || return 1
    [ ! -e "$bundle/pid" ] || { fail "$1: a pid file was written"; return 1; }
    expect_eq "state directories after $1" "" "$(ls -A "$STATE")"
}

check_bad_configs() {
    make_bundle "$TMP/good" rootfs true || return 1
    good=$TMP/good/config.json
    for case in truncated syntax args-string args-empty no-root \
        root-missing version no-config; do
        mkdir -p "$TMP/bad-$case"
        cp "$good" "$TMP/bad-$case/config.json"
        ln -s "$ROOTFS" "$TMP/bad-$case/rootfs"
    done

    head -c 400 "$good" >"$TMP/bad-truncated/config.json"
    expect_bad_config truncated "config.json:" || return 1
    grep -Eq 'config\.json:[0-9]+:[0-9]+: expected' "$TMP/bad-truncated/out" ||
        { fail "truncated: no LINE:COLUMN: $(cat "$TMP/bad-truncated/out")"
          return 1; }

    # A second comma after "cwd" is a syntax error on that line.
    config_edit "$TMP/bad-syntax" 's|"cwd": "/",|"cwd": "/",,|'
    line=$(grep -n '"cwd"' "$TMP/bad-syntax/config.json" | cut -d: -f1)
    expect_bad_config syntax "config.json:$line:" || return 1

    config_edit "$TMP/bad-args-string" \
        's/"args": \[/"args": "sh", "x-old-args": [/'
    expect_bad_config args-string "args" || return 1

    config_edit "$TMP/bad-args-empty" \
        's/"args": \[/"args": [], "x-old-args": [/'
    expect_bad_config args-empty "args" || return 1

    config_edit "$TMP/bad-no-root" 's/"root": {/"x-no-root": {/'
    expect_bad_config no-root "root" || return 1

    config_edit "$TMP/bad-root-missing" \
        's|"path": "rootfs"|"path": "no-such-directory"|'
    expect_bad_config root-missing "no-such-directory" || return 1

    config_edit "$TMP/bad-version" \
        's/"ociVersion": "[^"]*"/"ociVersion": "2.0.0"/'
    expect_bad_config version "2.0.0" || return 1

    rm "$TMP/bad-no-config/config.json"
    expect_bad_config no-config "config.json"
}

t_bad_configs() {
    check_bad_configs
    result=$?
    for case in truncated syntax args-string args-empty no-root \
        root-missing version no-config; do
        remove_containers "bad-$case"
    done
    return $result
}

t_unknown_fields() {
    make_bundle "$TMP/unknown" rootfs echo fields-ignored || return 1
    extra='"x-extra": {"list": [1, true, null, "s"], "nested": {"a": -1.5e3}}'
    config_edit "$TMP/unknown" "1s/^{/{ $extra,/"
    config_edit "$TMP/unknown" 's/"process": {/& "x-process-extra": 7,/'
    grep -q x-extra "$TMP/unknown/config.json" ||
        { fail "config_edit added no x-extra"; return 1; }
    grep -q x-process-extra "$TMP/unknown/config.json" ||
        { fail "config_edit added no x-process-extra"; return 1; }
    out=$(crater -q run --bundle "$TMP/unknown" unknown 2>&1 </dev/null)
    expect_eq "exit status with unknown fields" 0 $? || return 1
    expect_eq "output with unknown fields" fields-ignored "$out"
}

t_terminal_rejected() {
    make_bundle "$TMP/terminal" rootfs true || return 1
    config_edit "$TMP/terminal" 's/"terminal": false/"terminal": true/'
    crater -q create --bundle "$TMP/terminal" --pid-file "$TMP/terminal/pid" \
        terminal >"$TMP/terminal/out" 2>&1 </dev/null
    result=$?
    remove_containers terminal
    expect_eq "exit status of create with terminal true" 1 $result ||
        return 1
    expect_in "error" "console socket" "$(cat "$TMP/terminal/out")" ||
        return 1
    [ ! -e "$TMP/terminal/pid" ] ||
        { fail "a pid file was written"; return 1; }
    expect_eq "state directories" "" "$(ls -A "$STATE")"
}

# --- Namespaces --------------------------------------------------------------

check_namespace_join() {
    make_bundle "$TMP/ns-a" rootfs sleep 300 || return 1
    create_container ns-a "$TMP/ns-a" || return 1
    a_pid=$IPID
    make_bundle "$TMP/ns-b" rootfs sleep 300 || return 1
    config_edit "$TMP/ns-b" \
        "s|\"type\": \"network\"|&, \"path\": \"/proc/$a_pid/ns/net\"|"
    create_container ns-b "$TMP/ns-b" || return 1
    expect_eq "net namespace of B" "$(readlink "/proc/$a_pid/ns/net")" \
        "$(readlink "/proc/$IPID/ns/net")" || return 1
    a_uts=$(readlink "/proc/$a_pid/ns/uts")
    [ "$a_uts" != "$(readlink "/proc/$IPID/ns/uts")" ] ||
        fail "B shares A's uts namespace, which it did not join"
}

t_namespace_join() {
    check_namespace_join
    result=$?
    remove_containers ns-a ns-b
    return $result
}

check_namespace_wrong_type() {
    make_bundle "$TMP/ns-a" rootfs sleep 300 || return 1
    create_container ns-a "$TMP/ns-a" || return 1
    a_pid=$IPID
    for target in "/proc/$a_pid/ns/uts" /proc/999999999/ns/net; do
        make_bundle "$TMP/ns-c" rootfs sleep 300 || return 1
        config_edit "$TMP/ns-c" \
            "s|\"type\": \"network\"|&, \"path\": \"$target\"|"
        crater -q create --bundle "$TMP/ns-c" --pid-file "$TMP/ns-c/pid" ns-c \
            >"$TMP/ns-c/out" 2>&1 </dev/null
        expect_eq "exit status with network path $target" 1 $? || return 1
        expect_in "error for network path $target" "$target" \
            "$(cat "$TMP/ns-c/out")" || return 1
        [ ! -e "$STATE/ns-c" ] ||
            { fail "network path $target left $STATE/ns-c"; return 1; }
        process_alive "$a_pid" || { fail "container A died"; return 1; }
    done
}

t_namespace_wrong_type() {
    check_namespace_wrong_type
    result=$?
    remove_containers ns-a ns-c
    return $result
}

# Without an ipc entry in linux.namespaces, the init keeps the caller's
# ipc namespace.
check_namespace_unlisted() {
    make_bundle "$TMP/ns-ipc" rootfs sleep 300 || return 1
    line=$(grep -n '"type": "ipc"' "$TMP/ns-ipc/config.json" | cut -d: -f1)
    [ -n "$line" ] || { fail "no ipc namespace in config.json"; return 1; }
    sed -i "$((line - 1)),$((line + 1))d" "$TMP/ns-ipc/config.json"
    create_container ns-ipc "$TMP/ns-ipc" || return 1
    expect_eq "ipc namespace when not listed" "$(readlink /proc/self/ns/ipc)" \
        "$(readlink "/proc/$IPID/ns/ipc")" || return 1
    host_uts=$(readlink /proc/self/ns/uts)
    [ "$host_uts" != "$(readlink "/proc/$IPID/ns/uts")" ] ||
        fail "uts namespace is the host's"
}

t_namespace_unlisted() {
    check_namespace_unlisted
    result=$?
    remove_containers ns-ipc
    return $result
}

# --- cgroups -----------------------------------------------------------------

check_cgroup_limits() {
    bundle=$TMP/limits
    make_bundle "$bundle" rootfs sleep 300 || return 1
    resources='"pids": {"limit": 33}, "memory": {"limit": 67108864},'
    resources=$resources' "cpu": {"quota": 25000, "period": 100000,'
    resources=$resources' "shares": 512},'
    config_edit "$bundle" "s/\"resources\": {/& $resources/"
    create_container limits "$bundle" || return 1

    pids_dir=$(cgroup_dir "$IPID" pids)
    memory_dir=$(cgroup_dir "$IPID" memory)
    cpu_dir=$(cgroup_dir "$IPID" cpu)
    expect_eq "pids.max" 33 "$(cat "$pids_dir/pids.max")" || return 1
    if [ $CGROUP_V2 = 1 ]; then
        expect_eq "memory.max" 67108864 "$(cat "$memory_dir/memory.max")" ||
            return 1
        expect_eq "cpu.max" "25000 100000" "$(cat "$cpu_dir/cpu.max")" ||
            return 1
        # runc's conversion: weight = 1 + (shares - 2) * 9999 / 262142.
        expect_eq "cpu.weight" 20 "$(cat "$cpu_dir/cpu.weight")" || return 1
    else
        expect_eq "memory.limit_in_bytes" 67108864 \
            "$(cat "$memory_dir/memory.limit_in_bytes")" || return 1
        expect_eq "cpu.cfs_quota_us" 25000 \
            "$(cat "$cpu_dir/cpu.cfs_quota_us")" || return 1
        expect_eq "cpu.cfs_period_us" 100000 \
            "$(cat "$cpu_dir/cpu.cfs_period_us")" || return 1
        expect_eq "cpu.shares" 512 "$(cat "$cpu_dir/cpu.shares")" || return 1
    fi

    crater delete --force limits || { fail "delete --force failed"; return 1; }
    for cgroup in "$pids_dir" "$memory_dir" "$cpu_dir"; do
        [ ! -d "$cgroup" ] ||
            { fail "cgroup $cgroup still exists after delete"; return 1; }
    done
}

t_cgroup_limits_config() {
    check_cgroup_limits
    result=$?
    remove_containers limits
    return $result
}

# The cgroup's parent directory is named after the suite's temporary folder,
# so that concurrent runs of the suite do not share it.
check_cgroups_path() {
    parent=crater-test-${TMP##*.}
    bundle=$TMP/cgpath
    make_bundle "$bundle" rootfs sleep 300 || return 1
    config_edit "$bundle" \
        "s|\"linux\": {|\"linux\": { \"cgroupsPath\": \"/$parent/lc\",|"
    create_container cgpath "$bundle" || return 1
    parents=""
    for controller in pids memory cpu; do
        # With "self", cgroup_dir reads the cgroup of its own awk or sed,
        # which is the cgroup of this test.
        own=$(cgroup_dir self "$controller")
        expected=${own%/}/$parent/lc
        expect_eq "$controller cgroup with cgroupsPath" "$expected" \
            "$(cgroup_dir "$IPID" "$controller")" || return 1
        [ -d "$expected" ] || { fail "$expected does not exist"; return 1; }
        parents="$parents ${own%/}/$parent"
    done
    crater delete --force cgpath || { fail "delete --force failed"; return 1; }
    for cgroup in $parents; do
        [ ! -d "$cgroup/lc" ] ||
            { fail "cgroup $cgroup/lc still exists after delete"; return 1; }
        [ ! -d "$cgroup" ] ||
            { fail "parent cgroup $cgroup still exists after delete"
              return 1; }
    done
}

t_cgroups_path() {
    check_cgroups_path
    result=$?
    remove_containers cgpath
    for controller in pids memory cpu; do
        own=$(cgroup_dir self "$controller")
        rmdir "${own%/}/crater-test-${TMP##*.}/lc" \
            "${own%/}/crater-test-${TMP##*.}" 2>/dev/null
    done
    return $result
}

# Each path below climbs out of crater's cgroup or is not in canonical
# form, so create must fail before it makes a cgroup directory.
t_cgroups_path_invalid() {
    for cgroups_path in /crater-x/../../../crater-escape /crater-x/./crater-y \
        crater-x/../../crater-escape; do
        make_bundle "$TMP/cginvalid" rootfs sleep 300 || return 1
        config_edit "$TMP/cginvalid" \
            "s|\"linux\": {|\"linux\": { \"cgroupsPath\": \"$cgroups_path\",|"
        crater -q create --bundle "$TMP/cginvalid" \
            --pid-file "$TMP/cginvalid/pid" cginvalid \
            >"$TMP/cginvalid/out" 2>&1 </dev/null
        result=$?
        remove_containers cginvalid
        expect_eq "exit status with cgroupsPath $cgroups_path" 1 $result ||
            return 1
        expect_in "error for cgroupsPath $cgroups_path" \
            "invalid linux.cgroupsPath" "$(cat "$TMP/cginvalid/out")" ||
            return 1
        expect_not_in "error for cgroupsPath $cgroups_path" "clean up" \
            "$(cat "$TMP/cginvalid/out")" || return 1
        escaped=$(find /sys/fs/cgroup -maxdepth 8 -type d \
            \( -name crater-escape -o -name crater-x \) 2>/dev/null)
        expect_eq "cgroup directories after cgroupsPath $cgroups_path" "" \
            "$escaped" || return 1
    done
}

# --- run and list ------------------------------------------------------------

check_run_status() {
    make_bundle "$TMP/run5" rootfs sh -c 'echo from-run; exit 5' || return 1
    out=$(crater -q run --bundle "$TMP/run5" run5 2>&1 </dev/null)
    expect_eq "exit status of run" 5 $? || return 1
    expect_eq "output of run" from-run "$out" || return 1
    [ ! -e "$STATE/run5" ] || { fail "run left $STATE/run5"; return 1; }

    # The kernel ignores a SIGKILL that the init of a PID namespace sends
    # itself, so the host sends it.
    make_bundle "$TMP/run-killed" rootfs sleep 300 || return 1
    crater -q run --bundle "$TMP/run-killed" --pid-file "$TMP/run-killed/pid" \
        run-killed </dev/null &
    run_job=$!
    wait_for test -s "$TMP/run-killed/pid" ||
        { fail "run of sleep 300 wrote no pid file"
          kill "$run_job"
          return 1; }
    kill -9 "$(cat "$TMP/run-killed/pid")"
    wait "$run_job"
    expect_eq "exit status of run killed by SIGKILL" 137 $? || return 1
    [ ! -e "$STATE/run-killed" ] ||
        { fail "run left $STATE/run-killed"; return 1; }

    crater -q run --bundle "$TMP/no-such-bundle" run-missing \
        </dev/null 2>/dev/null
    expect_eq "exit status of run with a missing bundle" 125 $?
}

t_run_status() {
    check_run_status
    result=$?
    remove_containers run5 run-killed run-missing
    return $result
}

check_run_existing_id() {
    make_bundle "$TMP/run-first" rootfs sleep 300 || return 1
    create_container run-taken "$TMP/run-first" || return 1
    make_bundle "$TMP/run-second" rootfs echo second || return 1
    out=$(crater -q run --bundle "$TMP/run-second" run-taken 2>&1 </dev/null)
    expect_eq "exit status of run with a taken ID" 125 $? || return 1
    expect_in "error of run with a taken ID" "already exists" "$out" ||
        return 1
    expect_eq "status of the first container" created \
        "$(state_field run-taken status)" || return 1
    expect_eq "pid of the first container" "$IPID" \
        "$(state_field run-taken pid)"
}

t_run_existing_id() {
    check_run_existing_id
    result=$?
    remove_containers run-taken
    return $result
}

check_list() {
    bundle=$TMP/list
    make_bundle "$bundle" rootfs sh -c "$TRAP_TERM_SCRIPT" || return 1
    create_container list "$bundle" || return 1
    start_container list "$bundle" || return 1
    created=$(state_field list created)

    crater list >"$TMP/list.out" || { fail "list failed"; return 1; }
    expect_eq "list header" "ID PID STATUS BUNDLE CREATED" \
        "$(sed -n 1p "$TMP/list.out" | awk '{$1 = $1; print}')" || return 1
    rule=$(sed -n 2p "$TMP/list.out")
    case $rule in
    "" | *[!-]*) fail "list rule is not dashes: '$rule'"; return 1 ;;
    esac
    expect_eq "list row" "list $IPID running $bundle $created" \
        "$(awk '$1 == "list" {$1 = $1; print}' "$TMP/list.out")" || return 1

    crater list --format json >"$TMP/list.json" ||
        { fail "list --format json failed"; return 1; }
    json=$(cat "$TMP/list.json")
    expect_eq "first character of list JSON" "[" \
        "$(echo "$json" | head -c 1)" || return 1
    for member in "\"id\": \"list\"" "\"pid\": $IPID" \
        "\"status\": \"running\"" "\"bundle\": \"$bundle\"" \
        "\"created\": \"$created\""; do
        expect_in "list JSON" "$member" "$json" || return 1
    done
    if command -v jq >/dev/null 2>&1; then
        status_of_list=$(jq -r '.[] | select(.id == "list") | .status' \
            "$TMP/list.json")
        expect_eq "status of list in JSON (jq)" running "$status_of_list" ||
            return 1
    fi

    make_bundle "$TMP/list-stopped" rootfs true || return 1
    create_container list-stopped "$TMP/list-stopped" || return 1
    crater start list-stopped ||
        { fail "start of list-stopped failed"; return 1; }
    wait_for status_is list-stopped stopped || {
        fail "status after true: $(state_field list-stopped status)"
        return 1
    }
    crater list >"$TMP/list.out" || { fail "list failed"; return 1; }
    expect_eq "list row of a stopped container" stopped \
        "$(awk '$1 == "list-stopped" {print $3}' "$TMP/list.out")" || return 1
    expect_eq "list row of the running container" running \
        "$(awk '$1 == "list" {print $3}' "$TMP/list.out")" || return 1

    crater list --format yaml >/dev/null 2>&1
    expect_eq "exit status of list --format yaml" 2 $?
}

t_list() {
    check_list
    result=$?
    remove_containers list list-stopped
    return $result
}

# --- config.json in the container --------------------------------------------

# Reads the masked files that exist, writes to /proc/sys, prints mountinfo.
# make_bundle writes each argument into config.json unescaped, so each
# script is one line.
MASKED_SCRIPT="for f in /proc/kcore /proc/keys /proc/timer_list; do \
if [ -e \$f ]; then head -c 16 \$f > /dev/shm/m; \
echo masked \$f \$(wc -c < /dev/shm/m); fi; done; \
if echo x > /proc/sys/kernel/domainname; then echo sys-write=ok; \
else echo sys-write=failed; fi; cat /proc/self/mountinfo"

# Reads the bind mount, writes to the tmpfs and the read-only bind mount,
# prints mountinfo.
MOUNTS_SCRIPT="cat /root/file; echo data > /tmp/x; cat /tmp/x; \
if touch /root/new; then echo bind-write=ok; else echo bind-write=failed; fi; \
cat /proc/self/mountinfo"

t_masked_readonly_paths() {
    make_bundle "$TMP/masked" rootfs sh -c "$MASKED_SCRIPT" || return 1
    out=$(crater -q run --bundle "$TMP/masked" masked 2>/dev/null </dev/null)
    expect_eq "exit status" 0 $? || return 1
    for file in /proc/kcore /proc/keys /proc/timer_list; do
        [ -e "$file" ] || continue
        expect_in "read of $file" "masked $file 0" "$out" || return 1
        mounted=$(echo "$out" | awk -v p="$file" '$5 == p {print $5}')
        expect_eq "mount over $file" "$file" "$mounted" || return 1
    done
    expect_in "write to /proc/sys" "sys-write=failed" "$out" || return 1
    options=$(echo "$out" | awk '$5 == "/proc/sys" {print $6}')
    case ,$options, in
    *,ro,*) ;;
    *) fail "mount options of /proc/sys: expected ro, got '$options'" ;;
    esac
}

t_readonly_root() {
    make_bundle "$TMP/rofs" disk.img sh -c \
        'if touch /marker; then echo touch=ok; else echo touch=failed; fi' ||
        return 1
    cp "$IMAGE" "$TMP/rofs/disk.img" || return 1
    out=$(crater -q run --bundle "$TMP/rofs" rofs 2>/dev/null </dev/null)
    expect_eq "write with readonly true" touch=failed "$out" || return 1
    config_edit "$TMP/rofs" 's/"readonly": true/"readonly": false/'
    out=$(crater -q run --bundle "$TMP/rofs" rofs 2>/dev/null </dev/null)
    expect_eq "write with readonly false" touch=ok "$out"
}

# fds_bundle ROOT: bundle $TMP/fds running sleep 300, with a
# directory root (ROOT "rootfs") or a copy of the image (ROOT "image").
fds_bundle() {
    if [ "$1" = image ]; then
        make_bundle "$TMP/fds" disk.img sleep 300 || return 1
        cp "$IMAGE" "$TMP/fds/disk.img"
    else
        make_bundle "$TMP/fds" rootfs sleep 300
    fi
}

# check_fds_waiting ROOT: descriptors 7 and 8 open in crater must not
# reach the init, nor may the image file.
check_fds_waiting() {
    fds_bundle "$1" || return 1
    exec 7</dev/null 8>"$TMP/extra-fd"
    create_container fds "$TMP/fds" || return 1
    exec 7<&- 8>&-
    fds=$(open_fds "$IPID")
    set -- $fds
    expect_eq "descriptors of the waiting init" 4 $# || {
        ls -l "/proc/$IPID/fd"
        return 1
    }
    expect_eq "first three descriptors" "0 1 2" "$1 $2 $3" || return 1
    expect_in "link of descriptor $4" exec.fifo \
        "$(readlink "/proc/$IPID/fd/$4")"
}

t_fds_waiting() {
    check_fds_waiting rootfs
    result=$?
    remove_containers fds
    return $result
}

t_fds_waiting_image() {
    check_fds_waiting image
    result=$?
    remove_containers fds
    return $result
}

check_fds_started() {
    fds_bundle "$1" || return 1
    exec 7</dev/null 8>"$TMP/extra-fd"
    create_container fds "$TMP/fds" || return 1
    exec 7<&- 8>&-
    crater start fds || { fail "start failed"; return 1; }
    wait_for fds_are "$IPID" "0 1 2 " || {
        fail "descriptors of the started init: expected '0 1 2 '," \
            "got '$(open_fds "$IPID")'"
        ls -l "/proc/$IPID/fd"
        return 1
    }
}

t_fds_started() {
    check_fds_started rootfs
    result=$?
    remove_containers fds
    return $result
}

t_fds_started_image() {
    check_fds_started image
    result=$?
    remove_containers fds
    return $result
}

t_hostname_config() {
    before=$(hostname)
    make_bundle "$TMP/uts" rootfs sh -c \
        'hostname; cat /proc/sys/kernel/hostname' || return 1
    # Given twice, the last value counts, as in runc's JSON decoder.
    config_edit "$TMP/uts" \
        's/"hostname": "runc"/"hostname": "first", "hostname": "lc-box"/'
    out=$(crater -q run --bundle "$TMP/uts" uts 2>/dev/null </dev/null)
    expect_eq "hostname" lc-box "$(echo "$out" | sed -n 1p)" || return 1
    expect_eq "/proc/sys/kernel/hostname" lc-box \
        "$(echo "$out" | sed -n 2p)" || return 1
    expect_eq "host's hostname" "$before" "$(hostname)"
}

# runc rejects a hostname without a UTS namespace of the container's own
# (uts() in libcontainer/configs/validate/validator.go). crater runs in a
# UTS namespace of the test's own, so that a wrong sethostname cannot
# reach the host.
t_hostname_without_uts() {
    need unshare || return 2
    make_bundle "$TMP/no-uts" rootfs hostname || return 1
    config_edit "$TMP/no-uts" 's/"hostname": "runc"/"hostname": "lc-no-uts"/'
    line=$(grep -n '"type": "uts"' "$TMP/no-uts/config.json" | cut -d: -f1)
    [ -n "$line" ] || { fail "no uts namespace in config.json"; return 1; }
    sed -i "$((line - 1)),$((line + 1))d" "$TMP/no-uts/config.json"
    unshare -u sh -c '
        "$0" --root "$1" -q run --bundle "$2" no-uts </dev/null
        echo "status=$?"
        echo "outside=$(hostname)"' \
        "$CRATER" "$STATE" "$TMP/no-uts" >"$TMP/no-uts/out" 2>&1
    out=$(cat "$TMP/no-uts/out")
    remove_containers no-uts
    expect_in "run with hostname and no uts namespace" "status=125" "$out" ||
        return 1
    expect_not_in "hostname outside the container" "outside=lc-no-uts" "$out"
}

t_env_cwd() {
    make_bundle "$TMP/env" rootfs sh -c 'echo var=$CONFIG_VAR; pwd; env' ||
        return 1
    config_edit "$TMP/env" 's|"TERM=xterm"|&, "CONFIG_VAR=two words"|'
    config_edit "$TMP/env" 's|"cwd": "/"|"cwd": "/etc"|'
    out=$(HOST_ONLY=leak crater -q run --bundle "$TMP/env" env \
        2>/dev/null </dev/null)
    expect_eq "exit status" 0 $? || return 1
    expect_eq "CONFIG_VAR" "var=two words" "$(echo "$out" | sed -n 1p)" ||
        return 1
    expect_eq "working directory" /etc "$(echo "$out" | sed -n 2p)" || return 1
    expect_in "environment" "TERM=xterm" "$out" || return 1
    expect_in "environment" \
        "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin" \
        "$out" || return 1
    expect_not_in "environment" "HOST_ONLY" "$out"
}

t_user_groups() {
    make_bundle "$TMP/user" rootfs grep -e ^Uid: -e ^Gid: -e ^Groups: \
        /proc/self/status || return 1
    config_edit "$TMP/user" 's/"uid": 0,/"uid": 1000,/'
    config_edit "$TMP/user" \
        's/"gid": 0$/"gid": 1001, "additionalGids": [1002, 1003]/'
    out=$(crater -q run --bundle "$TMP/user" user 2>&1 </dev/null)
    expect_eq "exit status" 0 $? || { echo "$out"; return 1; }
    expect_eq "Uid" "1000 1000 1000 1000" \
        "$(echo "$out" | awk '$1 == "Uid:" {print $2, $3, $4, $5}')" ||
        return 1
    expect_eq "Gid" "1001 1001 1001 1001" \
        "$(echo "$out" | awk '$1 == "Gid:" {print $2, $3, $4, $5}')" ||
        return 1
    expect_eq "Groups" "1002 1003" \
        "$(echo "$out" | awk '$1 == "Groups:" {$1 = ""; print substr($0, 2)}')"
}

t_config_mounts() {
    mkdir -p "$TMP/share"
    echo from-host >"$TMP/share/file"
    make_bundle "$TMP/mounts" rootfs sh -c "$MOUNTS_SCRIPT" || return 1
    tmpfs_mount='{"destination": "/tmp", "type": "tmpfs", "source": "tmpfs",'
    tmpfs_mount=$tmpfs_mount' "options": ["nosuid", "size=1m"]}'
    bind_mount='{"destination": "/root", "type": "bind",'
    bind_mount=$bind_mount' "source": "'$TMP/share'",'
    bind_mount=$bind_mount' "options": ["rbind", "ro"]}'
    config_edit "$TMP/mounts" "s|\"mounts\": \[|& $tmpfs_mount, $bind_mount,|"
    out=$(crater -q run --bundle "$TMP/mounts" mounts 2>/dev/null </dev/null)
    expect_eq "exit status" 0 $? || return 1
    expect_eq "file from the bind mount" from-host \
        "$(echo "$out" | sed -n 1p)" || return 1
    expect_eq "file in the tmpfs" data "$(echo "$out" | sed -n 2p)" ||
        return 1
    expect_eq "write to the read-only bind mount" bind-write=failed \
        "$(echo "$out" | sed -n 3p)" || return 1
    expect_eq "file system at /tmp" tmpfs "$(echo "$out" |
        awk '$5 == "/tmp" {for (f = 7; $f != "-"; f++) ; print $(f + 1)}')" ||
        return 1
    [ ! -e "$TMP/share/new" ] ||
        { fail "the container wrote through the read-only bind"; return 1; }
    [ ! -e "$ROOTFS/tmp/x" ] ||
        fail "/tmp/x went to the root directory, not the tmpfs"
}

# --- exec --------------------------------------------------------------------

# exec_container ID: a started container whose init is `sleep 300`,
# with the hostname lc-exec. Sets IPID.
exec_container() {
    make_bundle "$TMP/$1" rootfs sleep 300 || return 1
    config_edit "$TMP/$1" 's/"hostname": "runc"/"hostname": "lc-exec"/'
    create_container "$1" "$TMP/$1" || return 1
    crater start "$1" || { fail "start of $1 failed"; return 1; }
    wait_for status_is "$1" running ||
        fail "status of $1 after start: $(state_field "$1" status)"
}

check_exec_inside() {
    exec_container exec-in || return 1
    expect_eq "hostname in exec" lc-exec \
        "$(crater -q exec exec-in hostname 2>&1)" || return 1

    processes=$(crater -q exec exec-in ps 2>&1)
    expect_in "ps in exec" "sleep 300" \
        "$(echo "$processes" | awk '$1 == 1')" || return 1
    expect_not_in "ps in exec" "test.sh" "$processes" || return 1

    for ns in pid mnt uts ipc net; do
        expect_eq "$ns namespace of exec" "$(readlink "/proc/$IPID/ns/$ns")" \
            "$(crater -q exec exec-in readlink "/proc/self/ns/$ns" 2>&1)" ||
            return 1
    done
    expect_eq "mountinfo in exec" "$(cat "/proc/$IPID/mountinfo")" \
        "$(crater -q exec exec-in cat /proc/self/mountinfo 2>&1)" || return 1
    expect_eq "cgroup of exec" "$(cat "/proc/$IPID/cgroup")" \
        "$(crater -q exec exec-in cat /proc/self/cgroup 2>&1)"
}

t_exec_inside() {
    check_exec_inside
    result=$?
    remove_containers exec-in
    return $result
}

check_exec_status() {
    exec_container exec-status || return 1
    crater -q exec exec-status sh -c 'exit 7'
    expect_eq "exit status of exec of exit 7" 7 $? || return 1
    out=$(crater -q exec exec-status /no/such/command 2>&1)
    expect_eq "exit status of exec of a missing command" 127 $? || return 1
    expect_in "error of exec of a missing command" "/no/such/command" \
        "$out" || return 1
    crater -q exec exec-status /etc/passwd 2>/dev/null
    expect_eq "exit status of exec of a file that is not executable" 126 $? ||
        return 1
    crater -q exec exec-status sh -c 'kill -9 $$'
    expect_eq "exit status of exec killed by SIGKILL" 137 $? || return 1
    crater -q exec exec-status 2>/dev/null
    expect_eq "exit status of exec without a command" 2 $? || return 1
    crater -q exec no-such-container true 2>/dev/null
    expect_eq "exit status of exec in an unknown ID" 125 $? || return 1

    make_bundle "$TMP/exec-stopped" rootfs true || return 1
    create_container exec-stopped "$TMP/exec-stopped" || return 1
    crater start exec-stopped || { fail "start failed"; return 1; }
    wait_for status_is exec-stopped stopped || {
        fail "status after true: $(state_field exec-stopped status)"
        return 1
    }
    out=$(crater -q exec exec-stopped true 2>&1)
    expect_eq "exit status of exec in a stopped container" 125 $? ||
        return 1
    [ -n "$out" ] || fail "exec in a stopped container: no error"
}

t_exec_status() {
    check_exec_status
    result=$?
    remove_containers exec-status exec-stopped
    return $result
}

check_exec_env_cwd() {
    exec_container exec-env || return 1
    out=$(crater -q exec --env EXEC_VAR=from-exec --cwd /etc exec-env \
        sh -c 'echo $EXEC_VAR; pwd' 2>&1)
    expect_eq "exit status" 0 $? || return 1
    expect_eq "--env" from-exec "$(echo "$out" | sed -n 1p)" || return 1
    expect_eq "--cwd" /etc "$(echo "$out" | sed -n 2p)"
}

t_exec_env_cwd() {
    check_exec_env_cwd
    result=$?
    remove_containers exec-env
    return $result
}

check_exec_leaves_nothing() {
    exec_container exec-clean || return 1
    cgroup=$(cgroup_dir "$IPID" pids)
    crater -q exec exec-clean true || { fail "exec true failed"; return 1; }
    crater -q exec exec-clean sh -c 'exit 3'
    crater -q exec exec-clean /no/such/command 2>/dev/null
    expect_eq "processes in the container" "$IPID" \
        "$(pids_in_namespace_of "$IPID" | tr '\n' ' ' | sed 's/ $//')" ||
        return 1
    expect_eq "processes in $cgroup" "$IPID" \
        "$(tr '\n' ' ' <"$cgroup/cgroup.procs" | sed 's/ $//')" || return 1
    expect_eq "crater processes" "" "$(crater_processes)" || return 1
    expect_eq "status after exec" running "$(state_field exec-clean status)"
}

t_exec_leaves_nothing() {
    check_exec_leaves_nothing
    result=$?
    remove_containers exec-clean
    return $result
}

run_lifecycle_tests() {
    run_test "lifecycle with directory root" t_lifecycle_directory
    run_test "lifecycle with image root" t_lifecycle_image

    run_test "kill by name and number" t_kill_signals
    run_test "kill of stopped container fails" t_kill_stopped
    run_test "delete of live container fails" t_delete_live
    run_test "delete force of unknown ID" t_delete_force_unknown
    run_test "ID reusable after delete" t_id_reuse
    run_test "relative bundle in state" t_relative_bundle
    run_test "start of unknown ID fails" t_start_unknown
    run_test "start of started container fails" t_start_twice
    run_test "start of dead container fails" t_start_dead
    run_test "damaged state.json is reported" t_damaged_state
    run_test "help after a command" t_help_after_command
    run_test "large state.json is read" t_large_state

    run_test "ten creates of one ID" t_create_race
    run_test "invalid IDs are rejected" t_invalid_ids
    run_test "malformed config.json is rejected" t_bad_configs
    run_test "unknown config fields are ignored" t_unknown_fields
    run_test "create rejects terminal true" t_terminal_rejected

    run_test "join namespace by path" t_namespace_join
    run_test "namespace path of wrong type" t_namespace_wrong_type
    run_test "unlisted namespace is shared" t_namespace_unlisted

    run_test "cgroup limits from config.json" t_cgroup_limits_config
    run_test "cgroupsPath under crater's cgroup" t_cgroups_path
    run_test "invalid cgroupsPath is rejected" t_cgroups_path_invalid

    run_test "run returns container status" t_run_status
    run_test "run with taken ID fails" t_run_existing_id
    run_test "list as table and JSON" t_list

    run_test "maskedPaths and readonlyPaths apply" t_masked_readonly_paths
    run_test "readonly root rejects writes" t_readonly_root
    run_test "waiting init holds only FIFO" t_fds_waiting
    run_test "waiting image init holds only FIFO" t_fds_waiting_image
    run_test "started init holds only stdio" t_fds_started
    run_test "started image init holds only stdio" t_fds_started_image
    run_test "hostname from config.json" t_hostname_config
    run_test "hostname without uts namespace" t_hostname_without_uts
    run_test "process env and cwd" t_env_cwd
    run_test "process user and groups" t_user_groups
    run_test "config mounts tmpfs and bind" t_config_mounts

    run_test "exec runs inside container" t_exec_inside
    run_test "exec exit statuses" t_exec_status
    run_test "exec env and cwd" t_exec_env_cwd
    run_test "exec leaves nothing behind" t_exec_leaves_nothing
}
