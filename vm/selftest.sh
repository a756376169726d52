#!/usr/bin/env bash
# Test vm/run.sh with stand-in suites, without crater: the VM's cgroup2 and
# loop device setup, the 'vm: ' output stream, exit status propagation and
# the timeout.  Boots the VM three times: about 80 s under TCG, most of it
# the 60 s timeout case.
#
# Usage: vm/selftest.sh
# Prints TAP-style lines and ends with "N passed, N failed, N skipped".

set -uo pipefail

VM_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
RUN=$VM_DIR/run.sh
WORK=$(mktemp -d "${TMPDIR:-/tmp}/crater-vm-selftest.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
# run.sh keeps the logs of failed runs in a folder under TMPDIR, and the
# failing and hanging suites fail on purpose.
export TMPDIR=$WORK

passed=0
failed=0
count=0

# check NAME COMMAND...: run COMMAND and print a TAP line for it.
check() {
	local name=$1
	shift
	count=$((count + 1))
	if "$@"; then
		echo "ok $count - $name"
		passed=$((passed + 1))
	else
		echo "not ok $count - $name"
		failed=$((failed + 1))
	fi
}

# Succeed when file $1 contains the whole line $2.
has_line() {
	grep -qxF -- "$2" "$1" || {
		echo "# expected line '$2' in $1, which contains:" >&2
		sed 's/^/#   /' "$1" >&2
		return 1
	}
}

# Succeed when the last line of file $1 is $2.
last_line_is() {
	[[ $(tail -n 1 "$1") == "$2" ]] || {
		echo "# expected last line '$2' in $1, got '$(tail -n 1 "$1")'" >&2
		return 1
	}
}

equals() {
	[[ $1 == "$2" ]] || {
		echo "# expected '$2', got '$1'" >&2
		return 1
	}
}

# ---------------------------------------------------------------------
# Fixtures: a fake crater (busybox is static), an ext4 image with a
# marker file, and the stand-in suites.

cp /bin/busybox "$WORK/fake-crater"
mkdir "$WORK/image-root"
echo hello-from-image >"$WORK/image-root/marker"
mkfs.ext4 -q -F -d "$WORK/image-root" "$WORK/image.ext4" 16M >/dev/null ||
	{ echo "mkfs.ext4 failed" >&2; exit 1; }

# A folder passed with --include, which the passing suite reads relative
# to its own path, as crater's test.sh reads tests/.
mkdir "$WORK/helpers"
echo 'HELPER_LOADED=yes' >"$WORK/helpers/helper.sh"

cat >"$WORK/passing.sh" <<'EOF'
# Stand-in for crater's suite: checks what the VM provides.
passed=0 failed=0 skipped=0 count=0
check() {
	count=$((count + 1))
	name=$1
	shift
	if "$@" >/dev/null 2>&1; then
		echo "ok $count - $name"
		passed=$((passed + 1))
	else
		echo "not ok $count - $name"
		failed=$((failed + 1))
	fi
}
# busybox 1.35 stat prints UNKNOWN for %T on cgroup2, so the magic
# number is checked too (CGROUP2_SUPER_MAGIC, statfs(2)).
is_cgroup2() {
	type=$(stat -f -c %T /sys/fs/cgroup)
	magic=$(stat -f -c %t /sys/fs/cgroup)
	[ "$type" = cgroup2fs ] || [ "$magic" = 63677270 ]
}
has_controllers() {
	controllers=" $(cat /sys/fs/cgroup/cgroup.subtree_control) "
	for controller in pids memory cpu; do
		case "$controllers" in
		*" $controller "*) ;;
		*) return 1 ;;
		esac
	done
}
. "$(dirname "$0")/helpers/helper.sh"
check "included folder beside suite" test "${HELPER_LOADED:-}" = yes
check "cgroup2 only" is_cgroup2
check "no cgroup v1 mount" sh -c '! awk "\$3 == \"cgroup\"" /proc/mounts | grep -q .'
check "subtree_control lists pids memory cpu" has_controllers
check "environment set" sh -c '[ "$CRATER_IN_VM" = 1 ] && [ -x "$CRATER" ] && [ -f "$CRATER_TEST_IMAGE" ]'
check "working directory writable" touch ./probe
check "losetup -f finds a free device" losetup -f
mkdir -p mnt
check "ext4 image mounts via loop" mount -o loop,ro "$CRATER_TEST_IMAGE" mnt
check "image content readable" grep -qx hello-from-image mnt/marker
check "mountpoint sees the mount" mountpoint -q mnt
check "umount" umount mnt
check "mountpoint after umount" sh -c '! mountpoint -q mnt'
check "pivot_root in a mount namespace" unshare -m sh -c 'mkdir -p /tmp/new-root && mount -t tmpfs tmpfs /tmp/new-root && mkdir /tmp/new-root/old && cd /tmp/new-root && pivot_root . old'
check "child cgroup sets pids.max" sh -c 'mkdir /sys/fs/cgroup/probe && echo 5 >/sys/fs/cgroup/probe/pids.max && rmdir /sys/fs/cgroup/probe'
echo "$passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ]
EOF

cat >"$WORK/failing.sh" <<'EOF'
echo "ok 1 - first"
echo "not ok 2 - second" >&2
echo "1 passed, 1 failed, 0 skipped"
printf 'line without newline'
exit 3
EOF

cat >"$WORK/hanging.sh" <<'EOF'
echo "ok 1 - before the hang"
while :; do sleep 1000; done
EOF

# ---------------------------------------------------------------------

"$RUN" test --crater "$WORK/fake-crater" --image "$WORK/image.ext4" \
	--suite "$WORK/passing.sh" --include "$WORK/helpers" \
	>"$WORK/passing.out" 2>"$WORK/passing.err"
status=$?
check "passing suite exits 0" equals "$status" 0
check "suite line streamed with prefix" has_line "$WORK/passing.out" "vm: ok 2 - cgroup2 only"
check "summary is the last line" last_line_is "$WORK/passing.out" "vm: 14 passed, 0 failed, 0 skipped"
check "no boot noise on stdout" sh -c "! grep -v '^vm: ' '$WORK/passing.out'"
check "only run.sh lines on stderr" sh -c "! grep -v '^vm/run.sh: ' '$WORK/passing.err'"
if [[ $status -ne 0 ]]; then
	sed 's/^/# /' "$WORK/passing.out" "$WORK/passing.err" >&2
fi

"$RUN" test --crater "$WORK/fake-crater" --image "$WORK/image.ext4" \
	--suite "$WORK/failing.sh" >"$WORK/failing.out" 2>"$WORK/failing.err"
status=$?
check "failing suite status propagates" equals "$status" 3
check "stderr of the suite streamed" has_line "$WORK/failing.out" "vm: not ok 2 - second"
check "line without newline streamed" last_line_is "$WORK/failing.out" "vm: line without newline"
check "failure shows console log" grep -q 'crater-vm: suite exited with status 3' "$WORK/failing.err"

"$RUN" test --crater "$WORK/fake-crater" --image "$WORK/image.ext4" \
	--suite "$WORK/hanging.sh" --timeout 60 >"$WORK/hanging.out" 2>"$WORK/hanging.err"
status=$?
check "timeout exits 124" equals "$status" 124
check "output before the timeout streamed" has_line "$WORK/hanging.out" "vm: ok 1 - before the hang"
check "timeout message names the limit" grep -q 'timed out after 60s' "$WORK/hanging.err"
check "timeout shows console log" grep -q 'VM console log' "$WORK/hanging.err"

"$RUN" test --crater "$WORK/fake-crater" --image "$WORK/image.ext4" \
	--suite "$WORK/missing.sh" >/dev/null 2>"$WORK/missing.err"
status=$?
check "missing suite exits 125" equals "$status" 125
check "missing suite message" grep -q 'suite script not found' "$WORK/missing.err"

"$RUN" test --crater "$WORK/passing.sh" --image "$WORK/image.ext4" \
	--suite "$WORK/passing.sh" >/dev/null 2>"$WORK/dynamic.err"
status=$?
check "non-ELF crater rejected" equals "$status" 125
check "non-ELF crater message" grep -q 'not a statically linked' "$WORK/dynamic.err"

echo "$passed passed, $failed failed, 0 skipped"
[[ $failed -eq 0 ]]
