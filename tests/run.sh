# tests/run.sh - tests of `crater run` with an ext4 image. Sourced by
# test.sh, which provides crater(), $IMAGE, $TMP, the expect_* checks
# and run_test.

# start_background ARG...: `crater run ARG...` in the background. Sets
# CPID to crater's PID and IPID to the container init's host PID.
start_background() {
    rm -f "$TMP/pid"
    # The binary itself, not the crater function: $! must be crater's PID.
    "$CRATER" --root "$STATE" run -q --pid-file "$TMP/pid" "$@" \
        >"$TMP/bg.out" 2>&1 &
    CPID=$!
    if ! wait_for test -s "$TMP/pid"; then
        fail "the container did not start: $(cat "$TMP/bg.out")"
        return 1
    fi
    IPID=$(cat "$TMP/pid")
}

# stop_background: kills the container and waits for crater; sets STATUS.
stop_background() {
    kill -9 "$IPID" 2>/dev/null
    wait "$CPID"
    STATUS=$?
}

# The host PIDs of the processes in the PID namespace of process $1.
pids_in_namespace_of() {
    ns=$(readlink "/proc/$1/ns/pid")
    for p in /proc/[0-9]*; do
        [ "$(readlink "$p/ns/pid" 2>/dev/null)" = "$ns" ] && echo "${p#/proc/}"
    done
}

# Whether process $1 has exited: no such PID, or a zombie not yet reaped.
process_gone() {
    state=$( { awk '{print $3}' "/proc/$1/stat"; } 2>/dev/null)
    [ -z "$state" ] || [ "$state" = Z ]
}

# The loop device whose backing file is $1, as /sys/block shows it.
loop_of() {
    for f in /sys/block/loop*/loop/backing_file; do
        if [ "$(cat "$f" 2>/dev/null)" = "$1" ]; then
            dev=${f#/sys/block/}
            echo "${dev%%/*}"
        fi
    done
}

t_static_binary() {
    [ -z "${CRATER_SANITIZE:-}" ] ||
        { skip "the sanitizer build uses the host's shared C library"; return 2; }
    need file || return 2
    expect_in "file crater" "statically linked" "$(file -L "$CRATER")"
}

t_debug_build() {
    [ -z "${CRATER_IN_VM:-}" ] || { skip "no compiler in the VM"; return 2; }
    need make musl-gcc file || return 2
    make -s -C "$HERE" crater-debug || return 1
    expect_in "file crater-debug" "with debug_info" \
        "$(file "$HERE/crater-debug")"
}

t_echo() {
    out=$(crater run -q --image "$IMAGE" /bin/echo hello from crater) ||
        return 1
    expect_eq "output" "hello from crater" "$out"
}

t_shorthand_and_defaults() {
    out=$(CRATER_IMAGE=$IMAGE "$CRATER" --root "$STATE" -q /bin/echo short) ||
        return 1
    expect_eq "crater /bin/echo" "short" "$out" || return 1
    out=$(echo 'echo from-default-shell' |
        CRATER_IMAGE=$IMAGE "$CRATER" --root "$STATE" -q) || return 1
    expect_eq "crater alone runs /bin/sh" "from-default-shell" "$out" ||
        return 1
    mkdir -p "$TMP/cwd" && ln -sf "$IMAGE" "$TMP/cwd/container_disk.img"
    out=$(cd "$TMP/cwd" && env -u CRATER_IMAGE "$CRATER" --root "$STATE" \
        -q run -- /bin/echo from-default-image) || return 1
    expect_eq "./container_disk.img" "from-default-image" "$out"
}

t_namespaces() {
    start_background --image "$IMAGE" /bin/sleep 30 || return 1
    for ns in uts pid mnt net ipc; do
        host=$(readlink "/proc/self/ns/$ns")
        inside=$(readlink "/proc/$IPID/ns/$ns")
        [ "$host" != "$inside" ] ||
            { fail "$ns namespace is the host's: $inside"; return 1; }
    done
    # The parent stays in the host's namespaces to clean up after.
    for ns in mnt uts net ipc; do
        expect_eq "crater's own $ns namespace" \
            "$(readlink "/proc/self/ns/$ns")" \
            "$(readlink "/proc/$CPID/ns/$ns")" || return 1
    done
    nspid=$(awk '/^NSpid:/ {print $NF}' "/proc/$IPID/status")
    expect_eq "PID of the command inside" 1 "$nspid" || return 1
    stop_background
}

t_hostname() {
    before=$(hostname)
    out=$(crater run -q --image "$IMAGE" /bin/hostname) || return 1
    expect_eq "default hostname" crater "$out" || return 1
    out=$(crater run -q --image "$IMAGE" --hostname box7 /bin/hostname) ||
        return 1
    expect_eq "--hostname" box7 "$out" || return 1
    expect_eq "host's hostname" "$before" "$(hostname)"
}

t_mounts_stay_inside() {
    start_background --image "$IMAGE" /bin/sleep 30 || return 1
    if grep -F -e "$STATE" -e "/dev/$(loop_of "$IMAGE")" \
        /proc/self/mountinfo; then
        fail "the container's mounts appear in the host's mount table"
        return 1
    fi
    stop_background
}

t_mounts_private_on_shared_host() {
    need unshare || return 2
    # A mount namespace whose / is shared, as on systemd hosts. The pid
    # file of an earlier test must not be read as this one's.
    rm -f "$TMP/pid"
    unshare -m sh -c '
        mount --make-rshared / || exit 3
        "$0" --root "$1" run -q --pid-file "$2/pid" --image "$3" \
            /bin/sleep 30 &
        i=0
        while [ ! -s "$2/pid" ] && [ $i -lt 50 ]; do sleep 0.1; i=$((i+1)); done
        [ -s "$2/pid" ] || exit 4
        grep -c -F "$1" /proc/self/mountinfo
        kill -9 "$(cat "$2/pid")" || exit 5
        wait
    ' "$CRATER" "$STATE" "$TMP" "$IMAGE" >"$TMP/shared.out" 2>&1
    status=$?
    [ $status = 3 ] && { skip "mount --make-rshared is not supported"; return 2; }
    expect_eq "exit status of the script" 0 $status ||
        { cat "$TMP/shared.out"; return 1; }
    expect_eq "host mounts with the container's state dir" 0 \
        "$(head -n 1 "$TMP/shared.out")"
}

t_loop_device_autoclear() {
    start_background --image "$IMAGE" /bin/sleep 30 || return 1
    loop=$(loop_of "$IMAGE")
    [ -n "$loop" ] || { fail "no loop device has $IMAGE as backing file"; return 1; }
    expect_eq "autoclear of $loop" 1 "$(cat "/sys/block/$loop/loop/autoclear")" ||
        return 1
    if command -v losetup >/dev/null; then
        expect_in "losetup -a" "$IMAGE" "$(losetup -a)" || return 1
    fi
    stop_background
    wait_for sh -c "[ -z \"\$(grep -lx '$IMAGE' /sys/block/loop*/loop/backing_file 2>/dev/null)\" ]" ||
        fail "$loop still attached after the container ended"
}

t_loop_sixteen_at_once() {
    i=0
    while [ $i -lt 16 ]; do
        crater run -q --read-only --image "$IMAGE" /bin/true \
            >"$TMP/par.$i" 2>&1 &
        eval "pid_$i=\$!"
        i=$((i + 1))
    done
    failures=0
    i=0
    while [ $i -lt 16 ]; do
        eval "wait \$pid_$i" || {
            failures=$((failures + 1))
            cat "$TMP/par.$i"
        }
        i=$((i + 1))
    done
    expect_eq "failed runs of 16" 0 "$failures"
}

t_read_only() {
    out=$(crater run -q --read-only --image "$IMAGE" /bin/sh -c \
        'touch /written 2>&1; grep " / / " /proc/self/mountinfo')
    expect_in "touch on a read-only root" "Read-only file system" "$out" ||
        return 1
    start_background --read-only --image "$IMAGE" /bin/sleep 30 || return 1
    loop=$(loop_of "$IMAGE")
    expect_eq "ro flag of $loop" 1 "$(cat "/sys/block/$loop/ro")" || return 1
    stop_background
}

t_mounts_inside() {
    out=$(crater run -q --image "$IMAGE" /bin/cat /proc/self/mountinfo) ||
        return 1
    for expected in " / / rw" " /proc rw" " /sys ro" " /dev rw" \
        " /dev/pts rw" " /dev/shm rw" " /dev/mqueue rw" "- ext4 /dev/loop" \
        "- proc proc" "- sysfs sysfs" "- devpts devpts" "- mqueue mqueue"; do
        expect_in "mountinfo inside" "$expected" "$out" || return 1
    done
    out=$(crater run -q --image "$IMAGE" /bin/sh -c '
        for d in null zero full random urandom tty; do
            [ -c /dev/$d ] && echo -n "$d "
        done
        echo
        ls -l /dev/null | awk "{print \$5 \$6}"
        for l in fd stdin stdout stderr ptmx; do
            echo -n "$l=$(readlink /dev/$l) "
        done
        echo
        ls /sys/class/net') || return 1
    expect_eq "device nodes" "null zero full random urandom tty " \
        "$(echo "$out" | sed -n 1p)" || return 1
    expect_eq "/dev/null numbers" "1,3" "$(echo "$out" | sed -n 2p)" ||
        return 1
    expect_eq "/dev links" "fd=/proc/self/fd stdin=/proc/self/fd/0 \
stdout=/proc/self/fd/1 stderr=/proc/self/fd/2 ptmx=pts/ptmx " \
        "$(echo "$out" | sed -n 3p)" || return 1
    expect_eq "/sys/class/net" "lo" "$(echo "$out" | sed -n '4,$p')"
}

t_image_without_mount_points() {
    need mkfs.ext4 || return 2
    mkdir -p "$TMP/bare/bin"
    cp "$BUSYBOX" "$TMP/bare/bin/busybox"
    for applet in sh ls echo; do ln -s busybox "$TMP/bare/bin/$applet"; done
    mkfs.ext4 -q -F -d "$TMP/bare" "$TMP/bare.img" 16M || return 1
    out=$(crater run -q --image "$TMP/bare.img" /bin/ls /) || return 1
    for d in dev proc sys; do
        expect_in "ls / of an image without /$d" "$d" "$out" || return 1
    done
}

# The cgroup files that hold the limits, on either cgroup version.
t_cgroup_limits_in_files() {
    start_background --pids 21 --memory 64M --cpus 0.25 --image "$IMAGE" \
        /bin/sleep 30 || return 1
    expect_in "/proc/PID/cgroup" "crater-" "$(cat "/proc/$IPID/cgroup")" ||
        return 1
    pids_dir=$(cgroup_dir "$IPID" pids)
    memory_dir=$(cgroup_dir "$IPID" memory)
    cpu_dir=$(cgroup_dir "$IPID" cpu)
    expect_eq "pids.max" 21 "$(cat "$pids_dir/pids.max")" || return 1
    if [ $CGROUP_V2 = 1 ]; then
        expect_eq "memory.max" 67108864 "$(cat "$memory_dir/memory.max")" ||
            return 1
        expect_eq "cpu.max" "25000 100000" "$(cat "$cpu_dir/cpu.max")" ||
            return 1
    else
        expect_eq "memory.limit_in_bytes" 67108864 \
            "$(cat "$memory_dir/memory.limit_in_bytes")" || return 1
        expect_eq "cpu.cfs_quota_us" 25000 \
            "$(cat "$cpu_dir/cpu.cfs_quota_us")" || return 1
        expect_eq "cpu.cfs_period_us" 100000 \
            "$(cat "$cpu_dir/cpu.cfs_period_us")" || return 1
    fi
    stop_background
    for dir in "$pids_dir" "$memory_dir" "$cpu_dir"; do
        wait_for test ! -d "$dir" ||
            { fail "cgroup $dir still exists"; return 1; }
    done
}

t_cgroup_v2_controllers_enabled() {
    [ $CGROUP_V2 = 1 ] ||
        { skip "cgroup v2 only: /sys/fs/cgroup is not cgroup2 here"; return 2; }
    start_background --image "$IMAGE" /bin/sleep 30 || return 1
    dir=$(cgroup_dir "$IPID" pids)
    enabled=$(cat "$(dirname "$dir")/cgroup.subtree_control")
    for controller in pids memory cpu; do
        expect_in "parent's cgroup.subtree_control" "$controller" \
            "$enabled" || return 1
        expect_in "cgroup.controllers" "$controller" \
            "$(cat "$dir/cgroup.controllers")" || return 1
    done
    stop_background
    wait_for test ! -d "$dir" || fail "cgroup $dir still exists"
}

# Busybox sh exits when fork fails, so the fork loop runs in a child sh.
t_cgroup_pids_limit_stops_fork_loop() {
    start_background --pids 10 --image "$IMAGE" /bin/sh -c '
        sh -c "i=0; while [ \$i -lt 50 ]; do sleep 30 & i=\$((i+1)); done" 2>&1
        echo inner-exit=$?
        sleep 30' || return 1
    wait_for grep -q inner-exit "$TMP/bg.out" ||
        { fail "fork loop did not end: $(cat "$TMP/bg.out")"; return 1; }
    sleep 0.2
    count=$(pids_in_namespace_of "$IPID" | wc -l)
    current=$(cat "$(cgroup_dir "$IPID" pids)/pids.current")
    out=$(cat "$TMP/bg.out")
    stop_background
    expect_in "fork loop output" "fork" "$out" || return 1
    expect_not_in "fork loop output" "inner-exit=0" "$out" || return 1
    [ "$count" -le 10 ] || { fail "$count processes, limit 10"; return 1; }
    [ "$current" -le 10 ] || fail "pids.current $current, limit 10"
}

t_cgroup_memory_hog_killed() {
    out=$(crater run --memory 32M --image "$IMAGE" \
        /bin/dd if=/dev/zero of=/dev/null bs=64M count=1 2>&1)
    status=$?
    expect_eq "exit status" 137 "$status" || return 1
    expect_in "crater's report" "OOM killer" "$out" || return 1
    # Under --init the command's SIGKILL reaches crater as exit status 137.
    out=$(crater run --init --memory 32M --image "$IMAGE" \
        /bin/dd if=/dev/zero of=/dev/null bs=64M count=1 2>&1)
    expect_eq "exit status with --init" 137 $? || return 1
    expect_in "crater's report with --init" "OOM killer" "$out"
}

# On cgroup v2 clone3 creates the init inside its cgroup. On v1 the init
# moves itself, writing "0" into the tasks file of each hierarchy.
t_cgroup_init_starts_inside() {
    crater -v run --image "$IMAGE" /bin/true 2>"$TMP/err" || return 1
    if [ $CGROUP_V2 = 1 ]; then
        expect_eq "clone3 calls" 1 \
            "$(grep -c 'clone3(CLONE_INTO_CGROUP, "/sys/fs/cgroup/.*") = [1-9]' \
                "$TMP/err")" || return 1
        expect_eq "writes to cgroup.procs" 0 \
            "$(grep -c 'cgroup.procs' "$TMP/err")"
    else
        expect_eq "writes of 0 to tasks" 3 \
            "$(grep -c 'write("/sys/fs/cgroup/.*/tasks", "0") = 0' "$TMP/err")"
    fi
}

t_cgroup_cpu_throttled() {
    start_background --cpus 0.1 --image "$IMAGE" /bin/sh -c \
        'while :; do :; done' || return 1
    sleep 1.5
    stat=$(cat "$(cgroup_dir "$IPID" cpu)/cpu.stat")
    stop_background
    throttled=$(echo "$stat" | awk '$1 == "nr_throttled" {print $2}')
    [ "${throttled:-0}" -gt 0 ] ||
        fail "cpu.stat shows no throttling: $stat"
}

t_no_cgroups() {
    start_background --no-cgroups --image "$IMAGE" /bin/sleep 30 || return 1
    expect_eq "/proc/PID/cgroup with --no-cgroups" \
        "$(cat /proc/self/cgroup)" "$(cat "/proc/$IPID/cgroup")" || return 1
    stop_background
}

t_cgroup_missing_controller() {
    [ $CGROUP_V2 = 0 ] ||
        { skip "hides a cgroup v1 hierarchy; this host has cgroup v2"; return 2; }
    need unshare || return 2
    out=$(unshare -m sh -c 'umount /sys/fs/cgroup/pids &&
        "$0" --root "$1" run --image "$2" /bin/true' \
        "$CRATER" "$STATE" "$IMAGE" 2>&1)
    status=$?
    expect_eq "exit status" 125 "$status" || return 1
    expect_in "error" "pids cgroup controller is not mounted" "$out" ||
        return 1
    out=$(unshare -m sh -c 'umount /sys/fs/cgroup/pids &&
        "$0" --root "$1" run -q --no-cgroups --image "$2" /bin/echo ok' \
        "$CRATER" "$STATE" "$IMAGE" 2>&1)
    expect_eq "--no-cgroups without the controller" ok "$out"
}

t_loopback_up() {
    out=$(crater run -q --image "$IMAGE" /bin/sh -c \
        'cat /sys/class/net/lo/flags; ping -c1 -W2 127.0.0.1') || return 1
    expect_eq "lo flags" 0x9 "$(echo "$out" | head -n 1)" || return 1
    expect_in "ping" "1 packets received" "$out"
}

t_clean_environment() {
    out=$(HOST_ONLY=leak TERM=xterm-test crater run -q --env FOO=bar \
        --env HOME=/home/x --image "$IMAGE" /bin/env | sort | tr '\n' ' ') ||
        return 1
    expect_eq "environment" "FOO=bar HOME=/home/x HOSTNAME=crater \
PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
TERM=xterm-test " "$out" || return 1
    out=$(env -u TERM "$CRATER" --root "$STATE" run -q --image "$IMAGE" \
        /bin/env) || return 1
    expect_not_in "environment without TERM on the host" "TERM=" "$out"
}

t_only_stdio_descriptors() {
    exec 7</dev/null 8>"$TMP/extra"
    start_background --image "$IMAGE" /bin/sleep 30 || return 1
    fds=$(ls "/proc/$IPID/fd" | sort -n | tr '\n' ' ')
    stop_background
    exec 7<&- 8>&-
    expect_eq "descriptors of the command" "0 1 2 " "$fds"
}

t_exit_status() {
    crater run -q --image "$IMAGE" /bin/sh -c 'exit 7'
    expect_eq "exit 7" 7 $? || return 1
    out=$(crater run -q --image "$IMAGE" /no/such/command 2>&1)
    expect_eq "command not found" 127 $? || return 1
    expect_in "not found error" "No such file or directory" "$out" || return 1
    crater run -q --image "$IMAGE" /etc/passwd 2>/dev/null
    expect_eq "command not executable" 126 $? || return 1
    crater run -q --image "$TMP/no-such.img" /bin/true 2>/dev/null
    expect_eq "crater's own error" 125 $? || return 1
    start_background --image "$IMAGE" /bin/sleep 30 || return 1
    stop_background
    expect_eq "killed by SIGKILL" 137 "$STATUS"
}

t_signals_forwarded() {
    for sig in INT TERM HUP QUIT USR1 USR2; do
        start_background --image "$IMAGE" /bin/sh -c "
            trap 'echo got-$sig; exit 3' $sig
            echo ready
            while :; do sleep 0.1; done" || return 1
        wait_for grep -q ready "$TMP/bg.out" || return 1
        kill -s "$sig" "$CPID"
        wait "$CPID"
        status=$?
        expect_eq "exit status after SIG$sig" 3 "$status" || return 1
        expect_in "trap output" "got-$sig" "$(cat "$TMP/bg.out")" || return 1
    done
}

t_container_dies_with_crater() {
    start_background --image "$IMAGE" /bin/sleep 30 || return 1
    kill -9 "$CPID"
    wait "$CPID" 2>/dev/null
    wait_for process_gone "$IPID" ||
        fail "container init $IPID outlived crater"
}

t_progress_lines() {
    crater run --image "$IMAGE" /bin/true 2>"$TMP/err" || return 1
    for line in "Crater Runtime Starting..." \
        "Successfully isolated namespaces!" \
        "Parent: Cgroup limits (PID=20, Mem=100MB, CPU=0.5) applied." \
        "Child: Attaching $IMAGE to /dev/loop" \
        "Child: Environment isolated. Launching command: /bin/true..."; do
        grep -qF "$line" "$TMP/err" ||
            { fail "missing progress line '$line' in: $(cat "$TMP/err")"; return 1; }
    done
    crater run -q --image "$IMAGE" /bin/true 2>"$TMP/err" || return 1
    expect_eq "stderr with -q" "" "$(cat "$TMP/err")" || return 1
    crater run --pids 7 --memory 8500K --cpus 0.0125 --image "$IMAGE" \
        /bin/true 2>"$TMP/err" ||
        { fail "run failed: $(cat "$TMP/err")"; return 1; }
    expect_in "limits line" \
        "Parent: Cgroup limits (PID=7, Mem=8500KB, CPU=0.0125) applied." \
        "$(cat "$TMP/err")"
}

t_verbose_names_calls() {
    crater run -v --image "$IMAGE" /bin/true 2>"$TMP/err" || return 1
    for call in "unshare(CLONE_NEWPID)" "unshare(CLONE_NEW" \
        "LOOP_CTL_GET_FREE" "LOOP_CONFIGURE" 'mount("/dev/loop' \
        "pivot_root(" "umount2(" "sethostname(" "sendto(netlink" \
        "netlink ack" "execvp(" "pids.max"; do
        grep -qF "$call" "$TMP/err" ||
            { fail "-v does not name $call"; return 1; }
    done
}

t_bad_option_values() {
    for bad in "--pids 0" "--pids -1" "--pids abc" "--memory 0" \
        "--memory 12Q" "--memory -5M" "--cpus 0" "--cpus abc" "--cpus -1" \
        "--env NOEQUALS" "--bogus" "--hostname="; do
        # shellcheck disable=SC2086
        out=$(crater run --image "$IMAGE" $bad /bin/true 2>&1)
        status=$?
        expect_eq "exit status of run $bad" 2 "$status" || return 1
        option=${bad%% *}
        option=${option%=}
        expect_in "error for $bad" "$option" "$out" || return 1
        value=${bad#* }
        [ "$value" = "$bad" ] || expect_in "error for $bad" "$value" "$out" ||
            return 1
    done
    out=$(crater run --no-cgroups --pids 5 --image "$IMAGE" /bin/true 2>&1)
    expect_eq "exit status of run --no-cgroups --pids 5" 2 $? || return 1
    expect_in "error for --no-cgroups --pids 5" "--no-cgroups" "$out"
}

t_bad_images() {
    mkdir -p "$TMP/a-directory.img"
    : >"$TMP/empty.img"
    head -c 2097152 /dev/urandom >"$TMP/random.img"
    head -c 1048576 "$IMAGE" >"$TMP/truncated.img"
    for case in "no-such.img:mkimage.sh" "a-directory.img:is a directory" \
        "empty.img:too small" "random.img:not an ext4 file system" \
        "truncated.img:is truncated"; do
        file=${case%%:*}
        out=$(crater run --image "$TMP/$file" /bin/true 2>&1)
        status=$?
        expect_eq "exit status for $file" 125 "$status" || return 1
        expect_in "error for $file" "${case#*:}" "$out" || return 1
    done
}

t_loop_control_missing() {
    need unshare || return 2
    out=$(unshare -m sh -c 'mount -t tmpfs none /dev &&
        "$0" --root "$1" run --image "$2" /bin/true' \
        "$CRATER" "$STATE" "$IMAGE" 2>&1)
    expect_in "error" "/dev/loop-control" "$out" || return 1
    expect_in "hint" "modprobe loop" "$out"
}

t_not_root() {
    need setpriv || return 2
    setpriv --reuid=0 true 2>/dev/null ||
        { skip "this setpriv cannot change user IDs"; return 2; }
    out=$(setpriv --reuid=65534 --regid=65534 --clear-groups \
        "$CRATER" --root "$STATE" run --image "$IMAGE" /bin/true 2>&1)
    status=$?
    expect_eq "exit status" 125 "$status" || return 1
    expect_in "hint" "must run as root" "$out"
}

t_image_locked() {
    start_background --name lock-holder --image "$IMAGE" /bin/sleep 30 ||
        return 1
    out=$(crater run --image "$IMAGE" /bin/true 2>&1)
    status=$?
    stop_background
    expect_eq "exit status of a second writer" 125 "$status" || return 1
    expect_in "error" "in use by container 'lock-holder' (init PID $IPID)" \
        "$out"
}

t_mkimage_busybox() {
    [ -z "${CRATER_IN_VM:-}" ] || { skip "mkimage.sh runs on the host"; return 2; }
    need mkfs.ext4 e2fsck debugfs || return 2
    "$HERE/mkimage.sh" --busybox "$BUSYBOX" -s 16 -o "$TMP/mk.img" \
        >/dev/null 2>&1 || { fail "mkimage.sh --busybox failed"; return 1; }
    e2fsck -fn "$TMP/mk.img" >/dev/null 2>&1 ||
        { fail "e2fsck finds errors in the image"; return 1; }
    mode=$(debugfs -R "stat /tmp" "$TMP/mk.img" 2>/dev/null |
        sed -n 's/.*Mode: *\([0-7]*\).*/\1/p')
    expect_eq "mode of /tmp" 01777 "$mode" || return 1
    out=$(crater run -q --image "$TMP/mk.img" /bin/cat /etc/hostname) ||
        return 1
    [ -n "$out" ] || { fail "no /etc/hostname in the image"; return 1; }
    out=$("$HERE/mkimage.sh" --busybox /bin/ls -o "$TMP/dyn.img" 2>&1)
    status=$?
    [ $status != 0 ] || { fail "a dynamic busybox was accepted"; return 1; }
    expect_in "error for a dynamic binary" "static" "$out"
}

t_dockerfile_lint() {
    [ -z "${CRATER_IN_VM:-}" ] || { skip "no npm in the VM"; return 2; }
    need npx || return 2
    out=$(cd "$HERE" && timeout 300 npx --yes dockerfilelint Dockerfile 2>&1)
    status=$?
    [ $status = 0 ] || fail "dockerfilelint: $out"
}

run_image_tests() {
    run_test "crater is a static binary" t_static_binary
    run_test "make debug builds with symbols" t_debug_build
    run_test "run echo prints hello" t_echo
    run_test "run shorthand and defaults" t_shorthand_and_defaults
    run_test "run namespaces differ from host" t_namespaces
    run_test "run sets the hostname" t_hostname
    run_test "run mounts stay inside" t_mounts_stay_inside
    run_test "run on a shared host root" t_mounts_private_on_shared_host
    run_test "loop device has autoclear" t_loop_device_autoclear
    run_test "sixteen runs at once" t_loop_sixteen_at_once
    run_test "read-only image" t_read_only
    run_test "mounts and /dev inside" t_mounts_inside
    run_test "image without mount points" t_image_without_mount_points
    run_test "cgroup limits in files" t_cgroup_limits_in_files
    run_test "cgroup v2 controllers enabled" t_cgroup_v2_controllers_enabled
    run_test "pids limit stops a fork loop" t_cgroup_pids_limit_stops_fork_loop
    run_test "memory hog is OOM-killed" t_cgroup_memory_hog_killed
    run_test "init starts in its cgroup" t_cgroup_init_starts_inside
    run_test "cpu limit throttles" t_cgroup_cpu_throttled
    run_test "no-cgroups keeps host cgroup" t_no_cgroups
    run_test "missing controller is named" t_cgroup_missing_controller
    run_test "loopback is up" t_loopback_up
    run_test "environment is clean" t_clean_environment
    run_test "only stdio descriptors" t_only_stdio_descriptors
    run_test "exit statuses" t_exit_status
    run_test "signals are forwarded" t_signals_forwarded
    run_test "container dies with crater" t_container_dies_with_crater
    run_test "progress lines" t_progress_lines
    run_test "verbose names the calls" t_verbose_names_calls
    run_test "bad option values" t_bad_option_values
    run_test "bad images" t_bad_images
    run_test "loop-control missing" t_loop_control_missing
    run_test "not root" t_not_root
    run_test "image is locked" t_image_locked
    run_test "mkimage.sh busybox image" t_mkimage_busybox
    run_test "Dockerfile lint" t_dockerfile_lint
}
