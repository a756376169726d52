#!/bin/busybox sh
# PID 1 of the crater test VM, run by Debian's static busybox sh.
#
# vm/run.sh packs this file as /init into the initramfs, together with
# busybox, the kernel modules listed in /lib/modules/crater-vm/load-order,
# crater, the test image and, in test mode, the test suite.  The settings
# come from /etc/crater-vm.conf, written by vm/run.sh:
#
#   CRATER_VM_MODE        "test" runs the suite, "shell" starts a shell
#   CRATER                path of the crater binary
#   CRATER_TEST_IMAGE     path of the ext4 test image, empty when none
#   CRATER_VM_SUITE       path of the suite script (test mode)
#   CRATER_VM_TERMINAL_ROWS, CRATER_VM_TERMINAL_COLUMNS
#                         size of the host's terminal (shell mode), or empty
#
# The init runs in two stages:
#
#   stage 1  The kernel unpacked the initramfs into rootfs, the first mount
#            of the mount tree.  pivot_root(2) fails with EINVAL when the
#            current root is rootfs, so crater's pivot_root would fail
#            there.  Stage 1 copies everything into a tmpfs and
#            switch_root(8)s into it, which deletes the copy left in rootfs
#            and runs this script again for stage 2.
#   stage 2  Mounts the pseudo file systems and cgroup2, loads the modules,
#            then runs the suite and powers off (test mode), or hands PID 1
#            to busybox init, which runs "/init user-shell" (shell mode).
#
# Serial ports (see vm/run.sh): ttyS0 is the console (kernel messages and
# the lines of this script), which the host writes to a log file.  ttyS1 is
# wired to the host's stdin and stdout: it carries what the suite prints,
# or the interactive shell.  In test mode ttyS2 carries one status line,
# "crater-vm-exit-status N" or "crater-vm-init-failed REASON".

PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
export PATH

USER_PORT=/dev/ttyS1
STATUS_PORT=/dev/ttyS2

log() {
	echo "crater-vm: $*"
}

# Report a failed setup step on the status port and stop the VM, so that
# vm/run.sh prints the console log instead of waiting for its timeout.
fail() {
	log "error: $*"
	if [ "$CRATER_VM_MODE" = test ]; then
		echo "crater-vm-init-failed $*" >"$STATUS_PORT"
	fi
	poweroff -f
}

# Run in rootfs: copy the whole tree into a tmpfs and switch_root into it.
# The copy doubles the memory that the test image takes until switch_root
# frees the rootfs copy.
stage1() {
	/bin/busybox mount -t devtmpfs devtmpfs /dev
	exec </dev/console >/dev/console 2>&1

	# Create the applet links (ls, mount, grep, ...) in /bin, /sbin,
	# /usr/bin and /usr/sbin before the copy, so stage 2 has them too.
	/bin/busybox --install -s

	mkdir -p /newroot
	mount -t tmpfs -o mode=0755 tmpfs /newroot || fail "mounting the root tmpfs"
	for entry in /*; do
		case "$entry" in
		/newroot | /dev | /proc | /sys) continue ;;
		esac
		cp -a "$entry" /newroot/ || fail "copying $entry to the root tmpfs"
	done
	mkdir -p /newroot/dev /newroot/proc /newroot/sys
	mount --move /dev /newroot/dev || fail "moving /dev to the root tmpfs"

	exec switch_root /newroot /init stage2
}

mount_pseudo_filesystems() {
	mount -t proc proc /proc || fail "mounting /proc"
	mount -t sysfs sysfs /sys || fail "mounting /sys"
	mkdir -p /dev/pts /dev/shm
	mount -t devpts -o gid=5,mode=0620,ptmxmode=0666 devpts /dev/pts ||
		fail "mounting /dev/pts"
	mount -t tmpfs -o mode=1777 tmpfs /dev/shm || fail "mounting /dev/shm"

	# devtmpfs lacks the links that udev normally creates.
	ln -sf /proc/self/fd /dev/fd
	ln -sf /proc/self/fd/0 /dev/stdin
	ln -sf /proc/self/fd/1 /dev/stdout
	ln -sf /proc/self/fd/2 /dev/stderr
}

# Mount cgroup2 as the only cgroup hierarchy, with nsdelegate as systemd
# mounts it.  The kernel command line carries cgroup_no_v1=all, so no
# controller can be bound to a v1 hierarchy.  A child cgroup gets a
# controller only when its parent's cgroup.subtree_control enables it,
# so the root enables the ones crater uses.
mount_cgroup2() {
	mount -t cgroup2 -o nsdelegate cgroup2 /sys/fs/cgroup ||
		fail "mounting cgroup2 at /sys/fs/cgroup"
	echo "+pids +memory +cpu" >/sys/fs/cgroup/cgroup.subtree_control ||
		fail "enabling pids, memory and cpu in cgroup.subtree_control"
	log "cgroup2 at /sys/fs/cgroup, controllers enabled:" \
		"$(cat /sys/fs/cgroup/cgroup.subtree_control)"
}

# Load the modules in the order vm/run.sh computed from their depends= and
# softdep= fields.  busybox insmod resolves no dependencies by itself.
load_modules() {
	while read -r module; do
		[ -n "$module" ] || continue
		insmod "/lib/modules/crater-vm/$module" ||
			fail "loading kernel module $module"
	done </lib/modules/crater-vm/load-order
	log "loaded modules: $(cut -d' ' -f1 /proc/modules | tr '\n' ' ')"
}

prepare_system() {
	mkdir -p /tmp /run /var/tmp /root /work
	chmod 1777 /tmp /var/tmp
	hostname crater-vm
	ln -sf /proc/self/mounts /etc/mtab
	ip link set lo up || log "warning: failed to bring up lo"
}

# Run the suite with its output on the user port and report its exit
# status on the status port.  The working directory /work is on the root
# tmpfs, so the suite can write there.
run_suite() {
	# Raw mode turns off the tty's newline-to-CRLF conversion, so the
	# host receives the suite's lines unchanged.
	stty -F "$USER_PORT" raw -echo || fail "configuring $USER_PORT"

	log "running: CRATER=$CRATER CRATER_TEST_IMAGE=$CRATER_TEST_IMAGE" \
		"CRATER_IN_VM=1 sh $CRATER_VM_SUITE"
	cd /work || fail "changing to /work"
	CRATER="$CRATER" CRATER_TEST_IMAGE="$CRATER_TEST_IMAGE" CRATER_IN_VM=1 \
		sh "$CRATER_VM_SUITE" </dev/null >"$USER_PORT" 2>&1
	status=$?
	cd /

	# busybox stty applies settings with tcsetattr(TCSADRAIN) (busybox
	# 1.35 coreutils/stty.c), which waits until the port has sent every
	# queued byte, even when a process the suite left behind keeps the
	# port open.  Without it poweroff could cut the last lines.
	stty -F "$USER_PORT" raw -echo
	log "suite exited with status $status"
	echo "crater-vm-exit-status $status" >"$STATUS_PORT"
	stty -F "$STATUS_PORT" raw -echo
}

print_greeting() {
	cat <<EOF

crater test VM: Linux $(uname -r), cgroup2 only, no network device.
  crater:      $CRATER (on PATH)
EOF
	if [ -n "$CRATER_TEST_IMAGE" ]; then
		echo "  test image:  $CRATER_TEST_IMAGE"
	fi
	cat <<EOF
  cgroups:     /sys/fs/cgroup, controllers: $(cat /sys/fs/cgroup/cgroup.subtree_control)
  kernel log:  dmesg
Everything lives in memory and is lost at power-off.
Type 'poweroff' (or exit the shell) to stop the VM.

EOF
}

# Hand PID 1 to busybox init, which starts the user shell on the user
# port and stops the VM when busybox poweroff, halt or reboot signal it
# (SIGUSR2, SIGUSR1, SIGTERM).  This script cannot do that itself: while
# it waits for a foreground shell it runs no trap, and a non-interactive
# sh starts background commands with SIGINT ignored, which the user's
# commands would inherit, so Ctrl-C would not stop them.
run_shell() {
	cat >/etc/inittab <<EOF
# The crater test VM's shell: busybox init opens ${USER_PORT#/dev/} as the
# controlling terminal of the command.
${USER_PORT#/dev/}::once:/init user-shell
# busybox init runs the shutdown actions before it halts, reboots or
# powers off.  A halted VM would keep qemu running, so power off for all.
::shutdown:/bin/busybox poweroff -f
EOF
	exec init
}

# Run a login shell on the user port, started by busybox init, which has
# made the port the controlling terminal of this session.  Power off when
# the shell exits.
run_user_shell() {
	exec <>"$USER_PORT" >&0 2>&0
	. /etc/crater-vm.conf
	stty sane
	if [ -n "$CRATER_VM_TERMINAL_ROWS" ] && [ -n "$CRATER_VM_TERMINAL_COLUMNS" ]; then
		stty rows "$CRATER_VM_TERMINAL_ROWS" cols "$CRATER_VM_TERMINAL_COLUMNS"
	fi
	print_greeting
	cd /root || exit 1
	HOME=/root TERM=vt100 sh -l
	poweroff
}

stage2() {
	exec </dev/console >/dev/console 2>&1
	mount_pseudo_filesystems
	. /etc/crater-vm.conf || fail "reading /etc/crater-vm.conf"
	mount_cgroup2
	load_modules
	prepare_system

	case "$CRATER_VM_MODE" in
	test)
		run_suite
		;;
	shell)
		run_shell
		;;
	*)
		fail "unknown CRATER_VM_MODE '$CRATER_VM_MODE'"
		;;
	esac
	poweroff -f
}

case "$1" in
stage2)
	stage2
	;;
user-shell)
	run_user_shell
	;;
*)
	stage1
	;;
esac
