#!/bin/sh
# test.sh - crater's test suite, on the real kernel. Run as root:
#
#   ./test.sh          build crater and a busybox image, run every test
#   ./test.sh --vm     the same suite inside a qemu VM on cgroup v2
#   ./test.sh NAME...  only the tests whose names contain NAME
#
# Each test runs crater for real and checks what the kernel shows:
# /proc/PID/ns, /proc/PID/cgroup, mountinfo, the loop devices in /sys/block.
# After each test the suite checks that nothing leaked: no loop device on
# its images, no mount, no state directory, no cgroup directory, no process.
# Everything it makes lives in one temporary folder, removed on exit.
#
# Output is TAP-like: "ok N - name", "not ok N - name", "ok N - name # SKIP
# reason", then "N passed, N failed, N skipped". Exit status 1 on failure.
#
# The environment can name a prebuilt binary and image: CRATER and
# CRATER_TEST_IMAGE. The VM (vm/run.sh) sets both and CRATER_IN_VM=1;
# `make sanitize-test` sets CRATER to the sanitizer build and
# CRATER_SANITIZE=1.

set -u
HERE=$(cd "$(dirname "$0")" && pwd)

if [ "${1:-}" = --vm ]; then
    shift
    cd "$HERE" || exit 1
    make -s crater || exit 1
    vm_tmp=$(mktemp -d /tmp/crater-vm-suite.XXXXXX) || exit 1
    trap 'rm -rf "$vm_tmp"' EXIT
    ./mkimage.sh --busybox -s 64 -o "$vm_tmp/test.img" >/dev/null || exit 1
    # The whole suite takes about 14 minutes under qemu's emulation.
    "$HERE/vm/run.sh" test --crater "$HERE/crater" \
        --image "$vm_tmp/test.img" --suite "$HERE/test.sh" \
        --include "$HERE/tests" --timeout 1800
    exit $?
fi

if [ "$(id -u)" != 0 ]; then
    echo "test.sh: crater's tests need root (namespaces, loop devices," \
         "cgroups): run sudo ./test.sh" >&2
    exit 1
fi

TMP=$(mktemp -d /tmp/crater-test.XXXXXX) || exit 1
STATE=$TMP/state
mkdir -p "$STATE"

# Everything the suite made goes on exit: containers, then files.
cleanup() {
    trap - EXIT INT TERM HUP
    if [ -n "${CRATER:-}" ] && [ -d "$STATE" ]; then
        for dir in "$STATE"/*; do
            [ -d "$dir" ] && "$CRATER" -q --root "$STATE" delete --force \
                "$(basename "$dir")" >/dev/null 2>&1
        done
    fi
    kill_strays
    grep -F "$TMP" /proc/self/mountinfo | awk '{print $5}' | sort -r |
        while read -r point; do umount -l "$point" 2>/dev/null; done
    rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP

# --- The binary and the images ---------------------------------------------

BUSYBOX=${BUSYBOX:-/bin/busybox}
if [ -z "${CRATER:-}" ]; then
    (cd "$HERE" && make -s crater) || { echo "test.sh: make failed" >&2; exit 1; }
    CRATER=$HERE/crater
fi
if [ -n "${CRATER_TEST_IMAGE:-}" ]; then
    IMAGE_SOURCE=$CRATER_TEST_IMAGE
else
    IMAGE_SOURCE=$TMP/source.img
    "$HERE/mkimage.sh" --busybox "$BUSYBOX" -s 64 -o "$IMAGE_SOURCE" \
        >"$TMP/mkimage.log" 2>&1 || {
        cat "$TMP/mkimage.log" >&2
        echo "test.sh: mkimage.sh --busybox failed" >&2
        exit 1
    }
fi
IMAGE=$TMP/test.img
cp "$IMAGE_SOURCE" "$IMAGE"

# crater with the suite's own state directory.
crater() {
    "$CRATER" --root "$STATE" "$@"
}

# A directory root made of static busybox, for bundles.
make_rootfs() {
    mkdir -p "$1/bin" "$1/etc" "$1/proc" "$1/sys" "$1/dev" "$1/tmp" "$1/root"
    cp "$BUSYBOX" "$1/bin/busybox"
    for applet in $("$BUSYBOX" --list); do
        [ "$applet" = busybox ] || ln -sf busybox "$1/bin/$applet"
    done
    echo "root:x:0:0:root:/root:/bin/sh" >"$1/etc/passwd"
    echo "root:x:0:" >"$1/etc/group"
    chmod 1777 "$1/tmp"
}
ROOTFS=$TMP/rootfs
make_rootfs "$ROOTFS"

# make_bundle DIR ROOT ARG... writes DIR/config.json from `runc spec`
# (or the copy of its output in tests/) with process.args set to ARGs and
# terminal false. ROOT is the root.path: "rootfs" or an image file name.
make_bundle() {
    dir=$1 root=$2
    shift 2
    mkdir -p "$dir"
    if command -v runc >/dev/null 2>&1; then
        (cd "$dir" && rm -f config.json && runc spec) || return 1
    else
        cp "$HERE/tests/runc-spec.json" "$dir/config.json"
    fi
    args=""
    for arg in "$@"; do
        args="$args${args:+, }\"$arg\""
    done
    sed -i -e 's/"terminal": true/"terminal": false/' \
        -e "s|^\([[:space:]]*\)\"sh\"\$|\1$args|" \
        -e "s|\"path\": \"rootfs\"|\"path\": \"$root\"|" "$dir/config.json"
    if [ "$root" = rootfs ]; then
        ln -s "$ROOTFS" "$dir/rootfs" 2>/dev/null || true
    fi
}

# config_edit DIR SED-EXPRESSION changes DIR/config.json in place.
config_edit() {
    sed -i -e "$2" "$1/config.json"
}

# --- Leak checks -------------------------------------------------------------

# The PID namespaces and cgroup directories that existed before the tests.
# Another suite may run at the same time, so a process counts as this
# suite's only when its command line or its root file system names $TMP.
TMP_NAME=$(basename "$TMP")
pid_namespaces() {
    for p in /proc/[0-9]*; do
        readlink "$p/ns/pid" 2>/dev/null
    done | sort -u
}
cgroup_dirs() {
    find /sys/fs/cgroup -maxdepth 8 -type d -name 'crater-*' 2>/dev/null |
        sort
}
BASE_PID_NS=$(pid_namespaces)
BASE_CGROUPS=$(cgroup_dirs)
# The pattern file contains one line that no path matches, since busybox's
# grep -v -f with an empty file would match every line.
{ echo "(none)"; echo "$BASE_CGROUPS"; } >"$TMP/cgroups.before"

# The crater-* cgroup directories made since the suite started.
new_cgroup_dirs() {
    cgroup_dirs | grep -vxF -f "$TMP/cgroups.before"
}

# Whether process $1 is a crater started by this suite, or a process in a
# container whose root comes from $TMP: a bind mount of a folder there, or
# a loop device whose backing file is there.
is_ours() {
    case $( { tr '\0' ' ' <"/proc/$1/cmdline"; } 2>/dev/null) in
    *"$TMP_NAME"*) return 0 ;;
    esac
    ns=$(readlink "/proc/$1/ns/pid" 2>/dev/null) || return 1
    echo "$BASE_PID_NS" | grep -qxF "$ns" && return 1
    root=$(awk '$5 == "/" {
        for (i = 6; i <= NF; i++) if ($i == "-") { print $4, $(i + 2); break }
    }' "/proc/$1/mountinfo" 2>/dev/null | tail -n 1)
    case $root in
    *"$TMP_NAME"*) return 0 ;;
    *" /dev/loop"*)
        loop=${root##*/}
        case $(cat "/sys/block/$loop/loop/backing_file" 2>/dev/null) in
        *"$TMP_NAME"*) return 0 ;;
        esac
        ;;
    esac
    return 1
}

# Prints one line for each thing the tests left behind. A new cgroup
# directory counts when it is empty: a running container of another
# suite has processes in its cgroup.
find_leaks() {
    for f in /sys/block/loop*/loop/backing_file; do
        [ -r "$f" ] || continue
        case $(cat "$f" 2>/dev/null) in
        *"$TMP_NAME"*) echo "loop device still attached: $f: $(cat "$f")" ;;
        esac
    done
    grep -F "$TMP_NAME" /proc/self/mountinfo | sed 's/^/mount left: /'
    ls -A "$STATE" | sed 's/^/state directory left: /'
    new_cgroup_dirs | while read -r dir; do
        [ -n "$(cat "$dir/cgroup.procs" 2>/dev/null)" ] || echo "cgroup directory left: $dir"
    done
    for p in /proc/[0-9]*; do
        pid=${p#/proc/}
        [ "$pid" = $$ ] && continue
        is_ours "$pid" &&
            echo "process left: $pid $( { tr '\0' ' ' <"$p/cmdline"; } 2>/dev/null)"
    done
}

# Ends the processes that this suite's tests left, by PID.
kill_strays() {
    for p in /proc/[0-9]*; do
        pid=${p#/proc/}
        [ "$pid" = $$ ] && continue
        is_ours "$pid" && kill -9 "$pid" 2>/dev/null
    done
}

# Waits up to 5 s for the kernel and the cleanup watcher to finish, then
# prints whatever is still there.
check_leaks() {
    i=0
    while [ $i -lt 50 ]; do
        [ -z "$(find_leaks)" ] && return 0
        sleep 0.1
        i=$((i + 1))
    done
    find_leaks
    # Clean up so that the next test starts from nothing.
    for dir in "$STATE"/*; do
        [ -d "$dir" ] && "$CRATER" -q --root "$STATE" delete --force \
            "$(basename "$dir")" >/dev/null 2>&1
    done
    kill_strays
    sleep 0.5
    new_cgroup_dirs | sort -r | while read -r dir; do
            [ -n "$(cat "$dir/cgroup.procs" 2>/dev/null)" ] || rmdir "$dir" 2>/dev/null
        done
    return 1
}

# --- The runner ---------------------------------------------------------------

count=0 passed=0 failed=0 skipped=0
SKIP_FILE=$TMP/skip-reason

# Test bodies call these. A failed check prints why and returns 1.
fail() {
    echo "$*"
    return 1
}
skip() {
    echo "$*" >"$SKIP_FILE"
    return 2
}
need() {
    for tool in "$@"; do
        command -v "$tool" >/dev/null 2>&1 || {
            skip "$tool is not installed"
            return 2
        }
    done
}
expect_eq() {   # expect_eq WHAT EXPECTED ACTUAL
    [ "$2" = "$3" ] || fail "$1: expected '$2', got '$3'"
}
expect_in() {   # expect_in WHAT NEEDLE HAYSTACK
    case $3 in
    *"$2"*) return 0 ;;
    esac
    fail "$1: expected to contain '$2', got: $3"
}
expect_not_in() {
    case $3 in
    *"$2"*) fail "$1: expected not to contain '$2', got: $3" ;;
    esac
}

# wait_for COMMAND...: retries for up to 5 s.
wait_for() {
    i=0
    while [ $i -lt 50 ]; do
        "$@" && return 0
        sleep 0.1
        i=$((i + 1))
    done
    return 1
}

run_test() {
    name=$1 function=$2
    if [ -n "$FILTER" ]; then
        match=0
        for word in $FILTER; do
            case $name in *"$word"*) match=1 ;; esac
        done
        [ $match = 1 ] || return 0
    fi
    count=$((count + 1))
    rm -f "$SKIP_FILE"
    (cd "$TMP" && $function) >"$TMP/output" 2>&1
    status=$?
    leaks=$(check_leaks)
    if [ $status = 2 ] && [ -f "$SKIP_FILE" ]; then
        echo "ok $count - $name # SKIP $(cat "$SKIP_FILE")"
        skipped=$((skipped + 1))
    elif [ $status = 0 ] && [ -z "$leaks" ]; then
        echo "ok $count - $name"
        passed=$((passed + 1))
    else
        echo "not ok $count - $name"
        sed 's/^/#   /' "$TMP/output" | tail -n 25
        [ -n "$leaks" ] && echo "$leaks" | sed 's/^/#   leak: /'
        failed=$((failed + 1))
    fi
}

CGROUP_V2=0
# %t is the file system's magic number, CGROUP2_SUPER_MAGIC (statfs(2));
# busybox's stat has no name for it.
[ "$(stat -f -c %t /sys/fs/cgroup)" = 63677270 ] && CGROUP_V2=1

# Directory of the container's cgroup for CONTROLLER (pids, memory, cpu),
# read from /proc/PID/cgroup of its init as the kernel reports it.
cgroup_dir() {
    pid=$1 controller=$2
    if [ $CGROUP_V2 = 1 ]; then
        echo "/sys/fs/cgroup$(sed -n 's/^0:://p' "/proc/$pid/cgroup")"
    else
        path=$(awk -F: -v c="$controller" '{
            n = split($2, list, ",")
            for (i = 1; i <= n; i++) if (list[i] == c) print $3
        }' "/proc/$pid/cgroup")
        echo "/sys/fs/cgroup/$controller$path"
    fi
}

# The tests live in tests/, one file per part of crater.
. "$HERE/tests/run.sh"
. "$HERE/tests/lifecycle.sh"
. "$HERE/tests/classroom.sh"
. "$HERE/tests/hardening.sh"

FILTER="$*"
run_image_tests
run_lifecycle_tests
run_classroom_tests
run_hardening_tests

echo "$passed passed, $failed failed, $skipped skipped"
[ $failed = 0 ]
