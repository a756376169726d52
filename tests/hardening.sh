# tests/hardening.sh - crater under faults and bad input: killed at random
# moments, a full state directory, the fuzz corpus of the JSON parser.
# Sourced by test.sh.

# A random delay from 0 to 0.39 s, from /dev/urandom.
random_delay() {
    n=$(($(od -An -N1 -tu1 /dev/urandom) % 40))
    echo "0.$((n / 10))$((n % 10))"
}

# kill_at_random_moment ARG...: starts crater with ARGs in the background
# and kills it with SIGKILL after a random delay, kept in DELAY.
kill_at_random_moment() {
    "$CRATER" --root "$STATE" "$@" >/dev/null 2>&1 &
    pid=$!
    DELAY=$(random_delay)
    sleep "$DELAY"
    kill -9 "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
}

# kill -9 of crater at random moments of create, then delete --force:
# nothing may be left, and the ID must be free again.
t_kill9_during_create() {
    make_bundle "$TMP/kill-bundle" rootfs /bin/sleep 30 || return 1
    round=0
    while [ $round -lt 50 ]; do
        kill_at_random_moment create -q --bundle "$TMP/kill-bundle" kill9
        crater -q delete --force kill9 ||
            { fail "round $round: delete --force failed"; return 1; }
        check_leaks >"$TMP/leaks" || {
            fail "round $round, after $DELAY s: $(cat "$TMP/leaks")"
            return 1
        }
        round=$((round + 1))
    done
}

# The same during `crater run` from an image, 50 rounds.
t_kill9_during_run_50() {
    round=0
    while [ $round -lt 50 ]; do
        kill_at_random_moment run -q --image "$IMAGE" /bin/sleep 30
        check_leaks >"$TMP/leaks" || {
            fail "round $round, after $DELAY s: $(cat "$TMP/leaks")"
            return 1
        }
        round=$((round + 1))
    done
}

t_state_dir_full() {
    mkdir -p "$TMP/full"
    mount -t tmpfs -o size=8k,nr_inodes=8 tmpfs "$TMP/full" || return 1
    # Fill it up, so that the next file has no room.
    dd if=/dev/zero of="$TMP/full/filler" bs=1k count=64 2>/dev/null
    out=$("$CRATER" --root "$TMP/full" run --image "$IMAGE" /bin/true 2>&1)
    status=$?
    ls -A "$TMP/full" >"$TMP/full-list"
    umount "$TMP/full"
    expect_eq "exit status" 125 "$status" || return 1
    expect_in "error" "No space left on device" "$out" || return 1
    expect_in "hint" "free space there or pick another --root" "$out" ||
        return 1
    expect_eq "left in the state root" "filler" "$(cat "$TMP/full-list")"
}

t_image_not_readable() {
    need setpriv || return 2
    setpriv --inh-caps=-dac_override,-dac_read_search \
        --bounding-set=-dac_override,-dac_read_search true 2>/dev/null ||
        { skip "this setpriv cannot drop capabilities"; return 2; }
    cp "$IMAGE" "$TMP/private.img"
    chmod 000 "$TMP/private.img"
    # Root reads any file; without CAP_DAC_OVERRIDE it cannot.
    out=$(setpriv --inh-caps=-dac_override,-dac_read_search \
        --bounding-set=-dac_override,-dac_read_search \
        "$CRATER" --root "$STATE" run --image "$TMP/private.img" /bin/true 2>&1)
    status=$?
    expect_eq "exit status" 125 "$status" || return 1
    expect_in "error" "Permission denied" "$out"
}

t_fuzz_corpus_replays() {
    [ -z "${CRATER_IN_VM:-}" ] || { skip "no compiler in the VM"; return 2; }
    need make gcc || return 2
    make -s -C "$HERE" crater-fuzz-replay >"$TMP/make.out" 2>&1 ||
        { fail "make crater-fuzz-replay: $(cat "$TMP/make.out")"; return 1; }
    out=$("$HERE/crater-fuzz-replay" "$HERE"/tests/fuzz-corpus/* 2>&1) ||
        { fail "replay: $(echo "$out" | tail -n 20)"; return 1; }
    expect_in "replay" "inputs parsed" "$out"
}

run_hardening_tests() {
    run_test "kill -9 during create" t_kill9_during_create
    run_test "kill -9 during run, 50 rounds" t_kill9_during_run_50
    run_test "state directory full" t_state_dir_full
    run_test "image not readable" t_image_not_readable
    run_test "fuzz corpus replays cleanly" t_fuzz_corpus_replays
}
