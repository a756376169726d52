# tests/classroom.sh - tests of the tools for teaching with crater: the
# gdb command file tools/stages.gdb, and --init, the small init that runs
# the command as PID 2. Sourced by test.sh, which provides crater(),
# make_bundle, $IMAGE, $STATE, $TMP, the expect_* checks and run_test;
# tests/run.sh provides start_background, stop_background and
# pids_in_namespace_of.

# The stage lines of tools/stages.gdb, in the order crater runs them.
CLASSROOM_STAGES="1/8 cgroup joined
2/8 namespaces created
3/8 loop device attached
4/8 ext4 mounted
5/8 /proc /sys /dev mounted
6/8 pivot_root done
7/8 lo up
8/8 command executed"

# --- Helpers ---------------------------------------------------------------

# classroom_need_gdb skips the test unless gdb has Python and
# crater-debug builds. The VM has no compiler, so the test skips there.
classroom_need_gdb() {
    [ -z "${CRATER_IN_VM:-}" ] || { skip "no compiler in the VM"; return 2; }
    need gdb make musl-gcc || return 2
    gdb -batch -ex 'python print("python-ok")' 2>/dev/null |
        grep -q python-ok || { skip "gdb has no Python"; return 2; }
    make -s -C "$HERE" crater-debug ||
        { fail "make crater-debug failed"; return 1; }
}

# classroom_gdb OUTPUT COMMANDS CRATER-ARG... runs crater-debug with the
# suite's state directory and CRATER-ARGs under gdb in batch mode, with
# tools/stages.gdb first and then the gdb COMMANDS, one a line. Writes
# the output of gdb and of the container to OUTPUT and returns gdb's
# exit status.
classroom_gdb() {
    classroom_output=$1
    printf '%s\n' "$2" >"$TMP/gdb-commands"
    shift 2
    timeout 120 gdb -batch -x "$HERE/tools/stages.gdb" -x "$TMP/gdb-commands" \
        --args "$HERE/crater-debug" --root "$STATE" "$@" \
        >"$classroom_output" 2>&1 </dev/null
}

# classroom_stages FILE prints the "N/8 title" part of each stage line.
classroom_stages() {
    sed -n 's/^\[stage \([0-9]\/8\)\] \([^:]*\):.*/\1 \2/p' "$1"
}

# classroom_stage_line FILE N prints the line of stage N.
classroom_stage_line() {
    grep "^\[stage $2/8\] " "$1"
}

# classroom_zombies PID counts the zombies in the PID namespace of PID.
classroom_zombies() {
    classroom_count=0
    for classroom_pid in $(pids_in_namespace_of "$1"); do
        classroom_state=$( { awk '{print $3}' "/proc/$classroom_pid/stat"; } \
            2>/dev/null)
        [ "$classroom_state" = Z ] && classroom_count=$((classroom_count + 1))
    done
    echo "$classroom_count"
}

classroom_zombies_are() {
    [ "$(classroom_zombies "$1")" = "$2" ]
}

classroom_process_count_is() {
    [ "$(pids_in_namespace_of "$1" | wc -l)" = "$2" ]
}

# classroom_comm_is PID NAME: true when the command name of PID is NAME.
classroom_comm_is() {
    [ "$(cat "/proc/$1/comm" 2>/dev/null)" = "$2" ]
}

# classroom_child_of PID prints the host PID of the one child of PID.
classroom_child_of() {
    cat "/proc/$1/task/$1/children" 2>/dev/null | tr -d ' '
}

classroom_has_child() {
    [ -n "$(classroom_child_of "$1")" ]
}

# classroom_inside_pid PID prints the PID of PID in its own namespace.
classroom_inside_pid() {
    awk '/^NSpid:/ {print $NF}' "/proc/$1/status"
}

# classroom_stop_background runs stop_background once. CPID and IPID are
# cleared so that a later call cannot kill a process that reused a PID.
# Without IPID (the container never started) it kills crater itself.
classroom_stop_background() {
    [ -n "${CPID:-}" ] || return 0
    if [ -n "${IPID:-}" ]; then
        stop_background
    else
        kill -9 "$CPID" 2>/dev/null
        wait "$CPID"
        STATUS=$?
    fi
    CPID="" IPID=""
}

# --- gdb and tools/stages.gdb -----------------------------------------------

t_gdb_batch_stages() {
    classroom_need_gdb || return $?
    out=$TMP/gdb.out
    classroom_gdb "$out" 'set $auto = 1
run' run -q --image "$IMAGE" /bin/echo staged-output
    expect_eq "exit status of gdb" 0 $? || { cat "$out"; return 1; }
    expect_eq "stages in order" "$CLASSROOM_STAGES" \
        "$(classroom_stages "$out")" || { cat "$out"; return 1; }
    expect_eq "output of the container" staged-output \
        "$(grep -x staged-output "$out")" || return 1
    expect_in "crater's exit" "exited normally" \
        "$(grep '^\[Inferior 1 ' "$out")" || return 1

    # The lines name the real processes, devices and paths.
    init=$(classroom_stage_line "$out" 2 |
        sed -n 's/.*created: PID \([0-9]*\) (PID 1 inside).*/\1/p')
    if [ -z "$init" ]; then
        fail "no init PID in: $(classroom_stage_line "$out" 2)"
        return 1
    fi
    expect_in "stage 1" "PID $init (PID 1 inside) moved itself into" \
        "$(classroom_stage_line "$out" 1)" || return 1
    expect_in "stage 3" "/dev/loop" "$(classroom_stage_line "$out" 3)" ||
        return 1
    expect_in "stage 3" "is bound to $IMAGE" \
        "$(classroom_stage_line "$out" 3)" || return 1
    expect_in "stage 4" "mounted on $STATE/" \
        "$(classroom_stage_line "$out" 4)" || return 1
    expect_in "stage 7" "nsenter -t $init -n" \
        "$(classroom_stage_line "$out" 7)" || return 1
    expect_in "stage 8" "PID $init (PID 1 inside) now runs /bin/echo \
staged-output" "$(classroom_stage_line "$out" 8)"
}

t_gdb_batch_init_stages() {
    classroom_need_gdb || return $?
    out=$TMP/gdb-init.out
    classroom_gdb "$out" 'set $auto = 1
run' run -q --init --image "$IMAGE" /bin/sh -c 'echo staged-output; exit 4'
    expect_eq "exit status of gdb" 0 $? || { cat "$out"; return 1; }
    expect_eq "stages in order" "$CLASSROOM_STAGES" \
        "$(classroom_stages "$out")" || { cat "$out"; return 1; }
    expect_eq "output of the container" staged-output \
        "$(grep -x staged-output "$out")" || return 1
    expect_in "crater's exit" "exited with code 04" \
        "$(grep '^\[Inferior 1 ' "$out")" || return 1
    expect_in "stage 8" "(PID 2 inside) now runs /bin/sh" \
        "$(classroom_stage_line "$out" 8)"
}

# Without $auto each stage is a stop: each `continue` goes one stage on.
# gdb stops once more when the command exits, and the last `continue`
# lets crater clean up and exit.
t_gdb_stops_at_each_stage() {
    classroom_need_gdb || return $?
    out=$TMP/gdb-stops.out
    classroom_gdb "$out" 'run
continue
continue
continue
continue
continue
continue
continue
continue
continue' run -q --image "$IMAGE" /bin/echo staged-output
    expect_eq "exit status of gdb" 0 $? || { cat "$out"; return 1; }
    expect_eq "stages in order" "$CLASSROOM_STAGES" \
        "$(classroom_stages "$out")" || { cat "$out"; return 1; }
    expect_eq "output of the container" staged-output \
        "$(grep -x staged-output "$out")" || return 1
    expect_in "stop after the command" "Type continue" "$(cat "$out")" ||
        return 1
    expect_in "crater's exit" "exited normally" \
        "$(grep '^\[Inferior 1 ' "$out")" || return 1

    # Three continues: four stages, then gdb ends and kills crater. The
    # detached cleanup watcher then removes the container, and run_test
    # checks that nothing is left. (Stage 3 happens inside stage 4's
    # function, so gdb ending at stage 3 would print stage 4 as not done.)
    classroom_gdb "$out" 'run
continue
continue
continue' run -q --image "$IMAGE" /bin/echo staged-output
    expect_eq "stages before gdb ends" "$(echo "$CLASSROOM_STAGES" |
        head -n 4)" "$(classroom_stages "$out")" || { cat "$out"; return 1; }
    if grep -qx staged-output "$out"; then
        fail "the command ran although gdb ended at stage 4"
        return 1
    fi
}

# --- --init ----------------------------------------------------------------

t_init_is_pid_1() {
    out=$(crater run -q --init --image "$IMAGE" /bin/sh -c \
        'echo $$; cat /proc/1/comm') || return 1
    expect_eq "PID of the command" 2 "$(echo "$out" | sed -n 1p)" || return 1
    expect_eq "command name of PID 1" crater-init "$(echo "$out" | sed -n 2p)"
}

# Orphans are re-parented to PID 1 of their namespace. `exec sleep`
# makes the shell that started them a process that never waits, so only
# crater's init, when there is one, reaps them.
CLASSROOM_ORPHANS='(sleep 0.2 &); (sleep 0.2 &); exec sleep 30'

classroom_check_zombies() {
    start_background --image "$IMAGE" /bin/sh -c "$CLASSROOM_ORPHANS" ||
        return 1
    wait_for classroom_zombies_are "$IPID" 2 || {
        fail "zombies without --init: expected 2, got" \
            "$(classroom_zombies "$IPID")"
        return 1
    }
    classroom_stop_background

    start_background --init --image "$IMAGE" /bin/sh -c \
        "$CLASSROOM_ORPHANS" || return 1
    # Once both orphans have exited, crater-init and sleep 30 are left.
    wait_for classroom_process_count_is "$IPID" 2 || {
        fail "processes under --init:" \
            "$(pids_in_namespace_of "$IPID" | tr '\n' ' ')"
        return 1
    }
    expect_eq "zombies under --init" 0 "$(classroom_zombies "$IPID")" ||
        return 1
    classroom_stop_background

    # Inside the container, ps lists no process in state Z.
    out=$(crater run -q --init --image "$IMAGE" /bin/sh -c \
        '(sleep 0.2 &); (sleep 0.2 &); sleep 1; ps -o stat,pid,comm') ||
        return 1
    expect_in "ps under --init" crater-init "$out" || return 1
    expect_not_in "ps under --init" "Z " "$out"
}

t_init_reaps_zombies() {
    classroom_check_zombies
    result=$?
    classroom_stop_background
    return $result
}

classroom_check_sigterm_init() {
    start_background --init --image "$IMAGE" /bin/sh -c \
        'while :; do sleep 0.1; done' || return 1
    wait_for classroom_has_child "$IPID" ||
        { fail "the init $IPID started no command"; return 1; }
    command=$(classroom_child_of "$IPID")
    wait_for classroom_comm_is "$command" sh ||
        { fail "the command $command is not sh"; return 1; }
    expect_eq "PID of the command inside" 2 \
        "$(classroom_inside_pid "$command")" || return 1

    kill -TERM "$CPID"
    wait_for process_gone "$CPID" ||
        { fail "crater still runs 5 s after SIGTERM"; return 1; }
    wait "$CPID"
    status=$?
    CPID="" IPID=""
    expect_eq "exit status after SIGTERM" 143 "$status"
}

t_init_sigterm_stops_shell() {
    classroom_check_sigterm_init
    result=$?
    classroom_stop_background
    return $result
}

# The same shell as PID 1, without --init: the kernel drops a signal
# sent to a PID 1 that has no handler for it (pid_namespaces(7)).
classroom_check_sigterm_pid1() {
    start_background --image "$IMAGE" /bin/sh -c \
        'while :; do sleep 0.1; done' || return 1
    wait_for classroom_comm_is "$IPID" sh ||
        { fail "the init $IPID is not sh"; return 1; }
    kill -TERM "$CPID"
    sleep 1
    if process_gone "$CPID"; then
        wait "$CPID"
        fail "the PID 1 shell ended on SIGTERM, with status $?"
        CPID="" IPID=""
        return 1
    fi
    classroom_stop_background
    expect_eq "exit status after SIGKILL" 137 "$STATUS"
}

t_pid1_shell_ignores_sigterm() {
    classroom_check_sigterm_pid1
    result=$?
    classroom_stop_background
    return $result
}

t_init_passes_exit_status() {
    crater run -q --init --image "$IMAGE" /bin/sh -c 'exit 9'
    expect_eq "exit 9" 9 $? || return 1
    crater run -q --init --image "$IMAGE" /bin/true
    expect_eq "true" 0 $? || return 1
    crater run -q --init --image "$IMAGE" /bin/sh -c 'kill -KILL $$'
    expect_eq "command killed by SIGKILL" 137 $?
}

classroom_check_create_init() {
    bundle=$1 id=$2
    make_bundle "$bundle" rootfs /bin/sleep 30 || return 1
    crater -q create --init --bundle "$bundle" --pid-file "$bundle/pid" \
        "$id" >"$bundle/out" 2>&1 </dev/null ||
        { fail "create --init failed: $(cat "$bundle/out")"; return 1; }
    IPID=$(cat "$bundle/pid")
    crater start "$id" || { fail "start $id failed"; return 1; }

    wait_for classroom_comm_is "$IPID" crater-init || {
        fail "command name of the init: $(cat "/proc/$IPID/comm")"
        return 1
    }
    expect_eq "PID of the init inside" 1 "$(classroom_inside_pid "$IPID")" ||
        return 1
    wait_for classroom_has_child "$IPID" ||
        { fail "the init $IPID started no command"; return 1; }
    command=$(classroom_child_of "$IPID")
    wait_for classroom_comm_is "$command" sleep ||
        { fail "the command $command is not sleep"; return 1; }
    expect_eq "PID of the command inside" 2 \
        "$(classroom_inside_pid "$command")" || return 1

    # sleep as PID 1 would ignore TERM. As PID 2 it ends, and the init
    # with it.
    crater kill "$id" TERM || { fail "kill $id TERM failed"; return 1; }
    wait_for process_gone "$IPID" ||
        { fail "the init $IPID still runs 5 s after kill TERM"; return 1; }
    expect_in "state after kill TERM" '"stopped"' "$(crater state "$id")" ||
        return 1
    crater delete "$id" || fail "delete $id failed"
}

t_create_init_lifecycle() {
    classroom_check_create_init "$TMP/init-bundle" classroom-init
    result=$?
    crater -q delete --force classroom-init >/dev/null 2>&1
    return $result
}

run_classroom_tests() {
    run_test "gdb batch run passes all stages" t_gdb_batch_stages
    run_test "gdb stages with --init" t_gdb_batch_init_stages
    run_test "gdb stops at each stage" t_gdb_stops_at_each_stage
    run_test "init runs command as PID 2" t_init_is_pid_1
    run_test "init reaps orphaned zombies" t_init_reaps_zombies
    run_test "SIGTERM stops shell under init" t_init_sigterm_stops_shell
    run_test "PID 1 shell ignores SIGTERM" t_pid1_shell_ignores_sigterm
    run_test "init passes exit status" t_init_passes_exit_status
    run_test "create --init starts crater-init" t_create_init_lifecycle
}
