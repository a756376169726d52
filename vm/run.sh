#!/usr/bin/env bash
# Run crater's test suite, or a shell, in a throw-away qemu VM whose only
# cgroup hierarchy is cgroup2 with the pids, memory and cpu controllers.
#
# The VM boots the kernel of Debian's linux-image-amd64 package with an
# initramfs made of Debian's static busybox, a few kernel modules,
# vm/init.sh, crater, the test image and the suite.  It has no disk and no
# network device, and its whole root file system is a tmpfs, so nothing it
# does reaches the host.
#
# Kernel, modules and (where the host lacks a static busybox) busybox are
# fetched once with apt-get download, unpacked with dpkg-deb and kept in
# the cache folder CRATER_VM_CACHE, by default
# ${XDG_CACHE_HOME:-$HOME/.cache}/crater-vm.  No kernel is installed on the
# host.
#
# Serial ports of the VM:
#   ttyS0  console: kernel messages and vm/init.sh's lines, to console.log
#   ttyS1  the host's stdin and stdout: the suite's output or the shell
#   ttyS2  test mode: one status line from vm/init.sh, to status.log

set -euo pipefail

readonly PROGRAM=vm/run.sh
VM_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
readonly VM_DIR

# Exit statuses of the harness itself.  Any other status is the suite's.
readonly EXIT_TIMEOUT=124
readonly EXIT_HARNESS_ERROR=125

# Kernel modules to load in the VM, with their dependencies added from the
# modules' own depends= and softdep= fields.  In Debian's 6.1 kernel these
# are modules, not built in.
readonly MODULES=(
	loop    # losetup and mount -o loop of the test image
	ext4    # the test image's file system
	overlay # overlayfs, so it works as on a stock Debian host
)

# softdep= entries name a module alias rather than a module.  Resolving
# aliases in general needs modules.alias, which the package lacks (depmod
# writes it on install), so the aliases in use are listed here.  ext4 and
# jbd2 list crypto-crc32c as a softdep, and the VM cannot load modules on
# demand, so crc32c_generic, the portable implementation, loads first.
declare -A MODULE_ALIASES=(
	[crypto-crc32c]=crc32c_generic
	[crc32c]=crc32c_generic
)

# Paths inside the VM.
readonly VM_CRATER=/usr/local/bin/crater
readonly VM_IMAGE=/usr/local/share/crater/test-image.ext4
readonly VM_SUITE=/usr/local/share/crater/test.sh

# Seconds that a KVM boot may stay silent on the console before run.sh
# stops it and boots with TCG.  An estimate with a wide margin: even under
# TCG, on a 2-core x86-64 VM, the kernel reached /init in about 2.5 s.
readonly KVM_PROBE_SECONDS=10

usage() {
	cat <<EOF
Usage:
  $PROGRAM test --crater FILE --image FILE --suite FILE [--include PATH]...
               [OPTIONS]
  $PROGRAM shell --crater FILE [--image FILE] [OPTIONS]

test   Boot a VM, run 'sh SUITE' in it with CRATER, CRATER_TEST_IMAGE and
       CRATER_IN_VM=1 set, print each line the suite prints prefixed 'vm: ',
       and exit with the suite's exit status.
shell  Boot the same VM with a busybox shell on this terminal, crater on
       PATH and the image at $VM_IMAGE.
       'poweroff' ends it, Ctrl-A X kills it.

Options:
  --crater FILE     static x86-64 crater binary (built with musl)
  --image FILE      ext4 test image
  --suite FILE      POSIX sh test suite (test mode)
  --include PATH    copy file or folder PATH into the VM beside the suite,
                    under its base name, for files the suite reads relative
                    to its own folder; repeatable
  --timeout SECONDS limit on the whole VM run, boot included (default 900
                    in test mode, none in shell mode)
  --memory MIB      VM memory in MiB (default 1024); the root tmpfs holds
                    two copies of the image during boot
  --cpus N          number of vCPUs (default 2)
  --accel MODE      auto (KVM when it works, else TCG), kvm or tcg
                    (default auto)
  -h, --help        show this help

Environment:
  CRATER_VM_CACHE   cache folder for kernel and busybox
                    (default \${XDG_CACHE_HOME:-\$HOME/.cache}/crater-vm)
  CRATER_VM_KVM_CPU qemu -cpu model used with KVM (default host)

Exit status: the suite's status, or $EXIT_TIMEOUT when the VM run timed out, or
$EXIT_HARNESS_ERROR when the VM or this script failed before the suite reported one.
EOF
}

log() {
	echo "$PROGRAM: $*" >&2
}

die() {
	echo "$PROGRAM: error: $*" >&2
	exit "$EXIT_HARNESS_ERROR"
}

# ---------------------------------------------------------------------
# Command line

MODE=
CRATER_FILE=
IMAGE_FILE=
SUITE_FILE=
INCLUDE_PATHS=()
TIMEOUT_SECONDS=
MEMORY_MIB=1024
CPU_COUNT=2
ACCEL=auto

parse_arguments() {
	if [[ $# -eq 0 ]]; then
		usage >&2
		exit "$EXIT_HARNESS_ERROR"
	fi
	case "$1" in
	test | shell) MODE=$1 ;;
	-h | --help)
		usage
		exit 0
		;;
	*) die "unknown mode '$1': expected 'test' or 'shell' (see --help)" ;;
	esac
	shift

	while [[ $# -gt 0 ]]; do
		case "$1" in
		-h | --help)
			usage
			exit 0
			;;
		--crater | --image | --suite | --include | --timeout | --memory | --cpus | --accel)
			[[ $# -ge 2 ]] || die "option $1 requires a value"
			case "$1" in
			--crater) CRATER_FILE=$2 ;;
			--image) IMAGE_FILE=$2 ;;
			--suite) SUITE_FILE=$2 ;;
			--include) INCLUDE_PATHS+=("$2") ;;
			--timeout) TIMEOUT_SECONDS=$2 ;;
			--memory) MEMORY_MIB=$2 ;;
			--cpus) CPU_COUNT=$2 ;;
			--accel) ACCEL=$2 ;;
			esac
			shift 2
			;;
		*) die "unknown argument '$1' (see --help)" ;;
		esac
	done

	[[ -n $CRATER_FILE ]] || die "missing --crater FILE"
	[[ -f $CRATER_FILE ]] || die "crater binary not found: $CRATER_FILE"
	if [[ $MODE == test ]]; then
		[[ -n $IMAGE_FILE ]] || die "missing --image FILE"
		[[ -n $SUITE_FILE ]] || die "missing --suite FILE"
		[[ -f $SUITE_FILE ]] || die "suite script not found: $SUITE_FILE"
	fi
	if [[ -n $IMAGE_FILE && ! -f $IMAGE_FILE ]]; then
		die "test image not found: $IMAGE_FILE"
	fi
	local path
	for path in "${INCLUDE_PATHS[@]}"; do
		[[ -e $path ]] || die "--include path not found: $path"
	done
	if [[ -z $TIMEOUT_SECONDS && $MODE == test ]]; then
		TIMEOUT_SECONDS=900
	fi
	[[ -z $TIMEOUT_SECONDS || $TIMEOUT_SECONDS =~ ^[1-9][0-9]*$ ]] ||
		die "invalid --timeout '$TIMEOUT_SECONDS': expected a whole number of seconds"
	[[ $MEMORY_MIB =~ ^[1-9][0-9]*$ ]] ||
		die "invalid --memory '$MEMORY_MIB': expected MiB as a whole number"
	[[ $CPU_COUNT =~ ^[1-9][0-9]*$ ]] ||
		die "invalid --cpus '$CPU_COUNT': expected a whole number"
	case "$ACCEL" in
	auto | kvm | tcg) ;;
	*) die "invalid --accel '$ACCEL': expected auto, kvm or tcg" ;;
	esac
}

# ---------------------------------------------------------------------
# Host tools

# Install the Debian packages that provide missing commands.  Arguments
# are COMMAND:PACKAGE pairs.
install_missing_tools() {
	local pair command package
	local -a packages=()
	for pair in "$@"; do
		command=${pair%%:*}
		package=${pair#*:}
		if ! command -v "$command" >/dev/null; then
			packages+=("$package")
		fi
	done
	[[ ${#packages[@]} -gt 0 ]] || return 0

	if [[ $(id -u) -ne 0 ]]; then
		die "missing Debian packages: ${packages[*]}." \
			"Install them with: sudo apt-get install ${packages[*]}"
	fi
	log "installing missing Debian packages: ${packages[*]}"
	if ! DEBIAN_FRONTEND=noninteractive apt-get install -y -q \
		--no-install-recommends "${packages[@]}" >&2; then
		log "apt-get install failed, updating the package lists and retrying"
		apt-get update -q >&2 || die "apt-get update failed"
		DEBIAN_FRONTEND=noninteractive apt-get install -y -q \
			--no-install-recommends "${packages[@]}" >&2 ||
			die "apt-get install ${packages[*]} failed"
	fi
}

check_host_tools() {
	command -v apt-get >/dev/null ||
		die "apt-get not found: $PROGRAM fetches the kernel from Debian's" \
			"package archive and needs a Debian or Ubuntu host"
	install_missing_tools \
		qemu-system-x86_64:qemu-system-x86 \
		cpio:cpio \
		xz:xz-utils \
		readelf:binutils \
		flock:util-linux
	command -v qemu-system-x86_64 >/dev/null ||
		die "qemu-system-x86_64 not found after installing qemu-system-x86"
}

# Succeed when FILE is an x86-64 ELF executable without a program
# interpreter, that is, statically linked.
is_static_x86_64_elf() {
	local file=$1 header
	header=$(LC_ALL=C readelf -h "$file" 2>/dev/null) || return 1
	grep -q 'Machine:.*X86-64' <<<"$header" || return 1
	! LC_ALL=C readelf -l "$file" 2>/dev/null | grep -q 'INTERP'
}

# ---------------------------------------------------------------------
# Cache of Debian packages

CACHE_DIR=

# Serialize cache updates between concurrent runs with a lock on fd 9.
open_cache() {
	if [[ -n ${CRATER_VM_CACHE:-} ]]; then
		CACHE_DIR=$CRATER_VM_CACHE
	elif [[ -n ${XDG_CACHE_HOME:-} ]]; then
		CACHE_DIR=$XDG_CACHE_HOME/crater-vm
	elif [[ -n ${HOME:-} ]]; then
		CACHE_DIR=$HOME/.cache/crater-vm
	else
		die "HOME is not set: set CRATER_VM_CACHE to a cache folder"
	fi
	mkdir -p "$CACHE_DIR" || die "failed to create the cache folder $CACHE_DIR"
	exec 9>"$CACHE_DIR/lock"
	flock 9 || die "failed to lock $CACHE_DIR/lock"
}

# Print the name of the package that the metapackage $1 depends on and
# whose name starts with $2, for example linux-image-6.1.0-57-amd64.
resolve_dependency() {
	apt-cache depends "$1" 2>/dev/null |
		awk -v prefix="$2" '$1 == "Depends:" && index($2, prefix) == 1 { print $2; exit }'
}

# Print "NAME VERSION" of the candidate version of package $1.
package_candidate() {
	local version
	version=$(apt-cache policy "$1" 2>/dev/null | awk '$1 == "Candidate:" { print $2 }')
	[[ -n $version && $version != "(none)" ]] || return 1
	echo "$1 $version"
}

# Print "NAME VERSION" of the package to fetch, updating the package lists
# once if they do not know the package.  $1 is a concrete package name, or
# "metapackage>prefix" to follow a dependency.
find_package() {
	local request=$1 name attempt
	for attempt in 1 2; do
		if [[ $request == *'>'* ]]; then
			name=$(resolve_dependency "${request%%>*}" "${request#*>}")
		else
			name=$request
		fi
		if [[ -n $name ]] && package_candidate "$name"; then
			return 0
		fi
		[[ $attempt -eq 1 && $(id -u) -eq 0 ]] || break
		log "package lists do not know ${request%%>*}, running apt-get update"
		apt-get update -q >&2 || return 1
	done
	return 1
}

# Download package NAME at VERSION into folder $3 as package.deb.
download_package() {
	local name=$1 version=$2 folder=$3 download
	download=$(mktemp -d "$CACHE_DIR/download.XXXXXX")
	log "downloading $name $version from Debian's package archive"
	# apt-get warns when its _apt user cannot write the folder and then
	# downloads as the calling user, so the warning is dropped.
	if ! (cd "$download" && apt-get download -q "$name=$version") \
		>"$download/apt.log" 2>&1; then
		cat "$download/apt.log" >&2
		rm -rf "$download"
		die "apt-get download $name=$version failed"
	fi
	grep -v "unsandboxed as root" "$download/apt.log" >&2 || true
	rm -f "$download/apt.log"
	mkdir -p "$folder"
	mv "$download"/*.deb "$folder/package.deb" ||
		die "apt-get download left no .deb for $name"
	rmdir "$download"
}

# Print the newest complete cache folder whose name starts with $1.
newest_cached() {
	local folder
	folder=$(find "$CACHE_DIR" -mindepth 1 -maxdepth 1 -type d -name "$1*" \
		-exec test -e '{}/complete' ';' -print | sort -V | tail -n 1)
	[[ -n $folder ]] && echo "$folder"
}

# ---------------------------------------------------------------------
# Kernel

KERNEL_DIR=

# Set KERNEL_DIR to the cache folder of the kernel that linux-image-amd64
# depends on, fetching and unpacking it first if needed.  Without package
# lists, the newest cached kernel is used.
prepare_kernel() {
	local package name version
	if package=$(find_package 'linux-image-amd64>linux-image-'); then
		read -r name version <<<"$package"
		KERNEL_DIR=$CACHE_DIR/${name}_${version//:/%3a}
	elif KERNEL_DIR=$(newest_cached linux-image-); then
		log "apt-cache cannot resolve linux-image-amd64, using the cached" \
			"kernel $(basename "$KERNEL_DIR")"
	else
		die "apt-cache cannot resolve linux-image-amd64 and no kernel is" \
			"cached in $CACHE_DIR. Run 'apt-get update' as root and retry"
	fi

	if [[ ! -e $KERNEL_DIR/complete ]]; then
		rm -rf "$KERNEL_DIR"
		download_package "$name" "$version" "$KERNEL_DIR"
		unpack_package "$KERNEL_DIR" './boot/*' './lib/modules/*'
		install_kernel "$KERNEL_DIR"
		install_modules "$KERNEL_DIR"
		rm -rf "$KERNEL_DIR/unpacked"
		touch "$KERNEL_DIR/complete"
	elif [[ "$(cat "$KERNEL_DIR/modules.request" 2>/dev/null)" != "${MODULES[*]}" ]]; then
		unpack_package "$KERNEL_DIR" './lib/modules/*'
		install_modules "$KERNEL_DIR"
		rm -rf "$KERNEL_DIR/unpacked"
	fi
}

# Unpack the paths matching the tar patterns $2... from $1/package.deb
# into $1/unpacked.  The package's data is xz-compressed, so each pass
# takes several seconds, and the first run unpacks kernel and modules in
# one pass.
unpack_package() {
	local folder=$1
	shift
	log "unpacking $* from $folder/package.deb"
	rm -rf "$folder/unpacked"
	mkdir -p "$folder/unpacked"
	dpkg-deb --fsys-tarfile "$folder/package.deb" |
		tar -x -C "$folder/unpacked" --wildcards "$@" ||
		die "failed to unpack $* from $folder/package.deb"
}

# Move vmlinuz and config out of $1/unpacked, and extract the
# uncompressed vmlinux.  qemu boots an ELF vmlinux through its PVH entry
# point, which skips the kernel's self-decompression.  Under TCG that more
# than halves the boot: qemu start to power-off with an /init that powers
# off at once took 2.4 s instead of 5.8 s (Debian's 6.1 kernel, q35,
# -cpu max, on a 2-core x86-64 VM).
install_kernel() {
	local folder=$1
	mv "$folder"/unpacked/boot/vmlinuz-* "$folder/vmlinuz" ||
		die "no /boot/vmlinuz-* in $folder/package.deb"
	mv "$folder"/unpacked/boot/config-* "$folder/config" 2>/dev/null || true

	if extract_vmlinux "$folder/vmlinuz" "$folder/vmlinux.tmp"; then
		mv "$folder/vmlinux.tmp" "$folder/vmlinux"
	else
		rm -f "$folder/vmlinux.tmp"
		log "warning: no xz-compressed vmlinux found in vmlinuz," \
			"booting the compressed kernel (slower under TCG)"
	fi
}

# Extract the ELF vmlinux from a bzImage, as Linux's scripts/extract-vmlinux
# does: try each offset where the xz magic occurs until one decompresses to
# an ELF file.  Debian's amd64 kernels are xz-compressed (CONFIG_KERNEL_XZ).
extract_vmlinux() {
	local image=$1 output=$2 offset
	# shellcheck disable=SC2013 # grep prints one number per line
	for offset in $(LC_ALL=C grep -obUaP '\xfd7zXZ\x00' "$image" | cut -d: -f1); do
		# xz stops reading at the end of the stream, so tail in a pipeline
		# would die of SIGPIPE and fail it.  A process substitution does not.
		xz -dc --single-stream < <(tail -c "+$((offset + 1))" "$image") \
			>"$output" 2>/dev/null || continue
		if [[ $(head -c 4 "$output" | od -An -tx1 | tr -d ' \n') == 7f454c46 ]]; then
			return 0
		fi
	done
	return 1
}

# Copy the modules in MODULES and their dependencies from $1/unpacked
# into $1/modules, uncompressed so that busybox insmod can load them, and
# write their load order to $1/modules/load-order.
install_modules() {
	local folder=$1 module
	log "installing kernel modules ${MODULES[*]} and their dependencies" \
		"into $folder/modules"
	declare -gA MODULE_FILES=()
	declare -gA MODULE_STATE=()
	declare -ga LOAD_ORDER=()
	index_module_files "$folder/unpacked"

	rm -rf "$folder/modules"
	mkdir -p "$folder/modules"
	for module in "${MODULES[@]}"; do
		add_module "$module" "$folder/modules"
	done
	printf '%s.ko\n' "${LOAD_ORDER[@]}" >"$folder/modules/load-order"
	echo "${MODULES[*]}" >"$folder/modules.request"
}

# Fill MODULE_FILES with module name -> file, for every module under $1.
# Module names use '_' where file names may use '-' (crc32c-intel.ko is
# module crc32c_intel).
index_module_files() {
	local file name
	while IFS= read -r file; do
		name=$(basename "$file")
		name=${name%%.ko*}
		MODULE_FILES[${name//-/_}]=$file
	done < <(find "$1/lib/modules" -name '*.ko' -o -name '*.ko.*')
}

# Copy module $1 into folder $2 uncompressed, after its dependencies, and
# append it to LOAD_ORDER.
add_module() {
	local module=${1//-/_} folder=$2 file info dependency
	case "${MODULE_STATE[$module]:-}" in
	added) return 0 ;;
	adding) die "kernel module dependency loop at $module" ;;
	esac
	MODULE_STATE[$module]=adding

	file=${MODULE_FILES[$module]:-}
	[[ -n $file ]] || die "kernel module $module not found in the kernel package"
	case "$file" in
	*.ko) cp "$file" "$folder/$module.ko" ;;
	*.ko.xz) xz -dc "$file" >"$folder/$module.ko" ;;
	*.ko.zst) zstd -dcq "$file" >"$folder/$module.ko" ;;
	*.ko.gz) gzip -dc "$file" >"$folder/$module.ko" ;;
	*) die "unknown module compression: $file" ;;
	esac || die "failed to decompress $file"

	# The .modinfo section is a list of NUL-terminated key=value strings.
	info=$(tr '\0' '\n' <"$folder/$module.ko" | grep -a -E '^(depends|softdep)=' || true)
	local -a dependencies=()
	module_dependencies "$info"
	for dependency in "${dependencies[@]}"; do
		add_module "$dependency" "$folder"
	done

	MODULE_STATE[$module]=added
	LOAD_ORDER+=("$module")
}

# Append to the caller's array "dependencies" the modules that must load
# before a module, from its depends= and softdep= lines in $1.  depends is
# a comma-separated list, softdep has the form "pre: a b post: c".
module_dependencies() {
	local line word phase
	local -a words
	while IFS= read -r line; do
		case "$line" in
		depends=*)
			IFS=, read -r -a words <<<"${line#depends=}"
			for word in "${words[@]}"; do
				[[ -z $word ]] || dependencies+=("$word")
			done
			;;
		softdep=*)
			phase=
			for word in ${line#softdep=}; do
				case "$word" in
				pre:) phase=pre ;;
				post:) phase=post ;;
				*)
					[[ $phase == pre ]] || continue
					if [[ -n ${MODULE_ALIASES[$word]:-} ]]; then
						dependencies+=("${MODULE_ALIASES[$word]}")
					elif [[ -n ${MODULE_FILES[${word//-/_}]:-} ]]; then
						dependencies+=("$word")
					else
						die "softdep '$word' is neither a module nor in" \
							"MODULE_ALIASES of $PROGRAM; add its module there"
					fi
					;;
				esac
			done
			;;
		esac
	done <<<"$1"
}

# ---------------------------------------------------------------------
# busybox

BUSYBOX_FILE=

# Set BUSYBOX_FILE to a statically linked busybox: the host's /bin/busybox
# from Debian's busybox-static when it is static, otherwise a cached copy
# unpacked from busybox-static (the host may have the dynamically linked
# busybox package, which conflicts with busybox-static).
prepare_busybox() {
	local package name version folder
	if is_static_x86_64_elf /bin/busybox; then
		BUSYBOX_FILE=/bin/busybox
		return 0
	fi

	if package=$(find_package busybox-static); then
		read -r name version <<<"$package"
		folder=$CACHE_DIR/${name}_${version//:/%3a}
	elif ! folder=$(newest_cached busybox-static_); then
		die "/bin/busybox is missing or not statically linked, and" \
			"apt-cache cannot find busybox-static. Install busybox-static"
	fi
	if [[ ! -e $folder/complete ]]; then
		rm -rf "$folder"
		download_package "$name" "$version" "$folder"
		dpkg-deb --fsys-tarfile "$folder/package.deb" |
			tar -x -O ./bin/busybox >"$folder/busybox" ||
			die "failed to unpack /bin/busybox from $folder/package.deb"
		chmod 755 "$folder/busybox"
		rm -f "$folder/package.deb"
		touch "$folder/complete"
	fi
	BUSYBOX_FILE=$folder/busybox
	is_static_x86_64_elf "$BUSYBOX_FILE" ||
		die "$BUSYBOX_FILE from busybox-static is not a static x86-64 binary"
}

# ---------------------------------------------------------------------
# initramfs

WORK_DIR=

# Write the initramfs to $WORK_DIR/initramfs.cpio, uncompressed, so the
# emulated kernel need not decompress it.  Large files are linked
# into the staging tree and copied by cpio --dereference.
build_initramfs() {
	local root=$WORK_DIR/root path
	mkdir -p "$root"/{bin,sbin,usr/bin,usr/sbin,usr/local/bin,usr/local/sbin} \
		"$root"/{dev,proc,sys,etc,lib/modules/crater-vm,usr/local/share/crater}

	# vm/init.sh runs as "#!/bin/busybox sh" and creates the applet links,
	# /bin/sh among them.
	cp "$BUSYBOX_FILE" "$root/bin/busybox"
	cp "$VM_DIR/init.sh" "$root/init"
	cp "$VM_DIR/mountpoint.sh" "$root/usr/local/bin/mountpoint"
	chmod 755 "$root/init" "$root/usr/local/bin/mountpoint"
	cp "$KERNEL_DIR"/modules/*.ko "$KERNEL_DIR/modules/load-order" \
		"$root/lib/modules/crater-vm/"

	ln -s "$(realpath "$CRATER_FILE")" "$root$VM_CRATER"
	if [[ -n $IMAGE_FILE ]]; then
		ln -s "$(realpath "$IMAGE_FILE")" "$root$VM_IMAGE"
	fi
	if [[ -n $SUITE_FILE ]]; then
		ln -s "$(realpath "$SUITE_FILE")" "$root$VM_SUITE"
	fi
	for path in "${INCLUDE_PATHS[@]}"; do
		cp -a "$path" "$root$(dirname "$VM_SUITE")/" ||
			die "failed to copy --include $path into the initramfs"
	done

	write_etc "$root/etc"

	(cd "$root" && find . -mindepth 1 | LC_ALL=C sort |
		cpio -o -H newc --quiet --dereference --owner=0:0 \
			>"$WORK_DIR/initramfs.cpio") ||
		die "cpio failed to build the initramfs"
}

# Write the files of /etc that busybox and the suite expect, and
# /etc/crater-vm.conf, which vm/init.sh reads.
write_etc() {
	local etc=$1 rows='' columns=''
	printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n' \
		>"$etc/passwd"
	printf 'root:x:0:\ntty:x:5:\nnogroup:x:65534:\n' >"$etc/group"
	printf '127.0.0.1\tlocalhost\n::1\tlocalhost\n' >"$etc/hosts"
	echo crater-vm >"$etc/hostname"

	if [[ $MODE == shell && -t 0 ]]; then
		read -r rows columns < <(stty size 2>/dev/null) || true
	fi
	{
		echo "CRATER_VM_MODE=$MODE"
		echo "export CRATER=$VM_CRATER"
		echo "export CRATER_TEST_IMAGE=${IMAGE_FILE:+$VM_IMAGE}"
		echo "CRATER_VM_SUITE=$VM_SUITE"
		echo "CRATER_VM_TERMINAL_ROWS=$rows"
		echo "CRATER_VM_TERMINAL_COLUMNS=$columns"
	} >"$etc/crater-vm.conf"
}

# ---------------------------------------------------------------------
# VM

QEMU_PID=
READER_PID=

# Print every line read from stdin prefixed with 'vm: '.  The last line
# may lack its newline.
prefix_lines() {
	local line
	while IFS= read -r line || [[ -n $line ]]; do
		printf 'vm: %s\n' "${line%$'\r'}"
	done
}

# Kill the VM, first with SIGTERM, then SIGKILL after 5 seconds.
stop_vm() {
	[[ -n $QEMU_PID ]] || return 0
	kill -TERM "$QEMU_PID" 2>/dev/null || true
	for _ in 1 2 3 4 5 6 7 8 9 10; do
		kill -0 "$QEMU_PID" 2>/dev/null || break
		sleep 0.5
	done
	kill -KILL "$QEMU_PID" 2>/dev/null || true
	wait "$QEMU_PID" 2>/dev/null || true
	QEMU_PID=
}

# Boot the VM once with accelerator $1 (kvm or tcg) and wait until it
# stops.  Sets BOOT_RESULT to "stopped" (qemu exited by itself, with
# status QEMU_STATUS), "timeout", or "kvm-silent" (a KVM boot printed
# nothing within KVM_PROBE_SECONDS and was stopped).
boot_vm() {
	local accel=$1 cpu cmdline started
	local -a qemu
	if [[ $accel == kvm ]]; then
		cpu=${CRATER_VM_KVM_CPU:-host}
	else
		cpu=max
	fi
	# cgroup_no_v1=all leaves cgroup2 as the only hierarchy.  panic=-1
	# reboots at once on a kernel panic, and -no-reboot turns the reboot
	# into an exit of qemu.
	cmdline="console=ttyS0 cgroup_no_v1=all panic=-1 rdinit=/init"

	qemu=(qemu-system-x86_64
		-machine q35 -accel "$accel" -cpu "$cpu"
		-m "$MEMORY_MIB" -smp "$CPU_COUNT"
		-nodefaults -display none -no-reboot -nic none
		-kernel "$KERNEL_IMAGE" -initrd "$WORK_DIR/initramfs.cpio"
		-append "$cmdline"
		-serial "file:$WORK_DIR/console.log")

	rm -f "$WORK_DIR/console.log" "$WORK_DIR/status.log"
	: >"$WORK_DIR/console.log"
	echo "$accel: ${qemu[*]}" >>"$WORK_DIR/qemu.log"

	if [[ $MODE == test ]]; then
		qemu+=(-serial stdio -serial "file:$WORK_DIR/status.log")
		rm -f "$WORK_DIR/suite.fifo"
		mkfifo "$WORK_DIR/suite.fifo"
		prefix_lines <"$WORK_DIR/suite.fifo" &
		READER_PID=$!
		"${qemu[@]}" </dev/null >"$WORK_DIR/suite.fifo" 2>>"$WORK_DIR/qemu.log" &
		QEMU_PID=$!
	else
		# mon:stdio multiplexes the qemu monitor, so Ctrl-A X stops qemu.
		# The terminal is passed as fd 3, because bash gives background
		# commands /dev/null as stdin.
		qemu+=(-serial mon:stdio)
		"${qemu[@]}" <&3 >&4 2>>"$WORK_DIR/qemu.log" &
		QEMU_PID=$!
	fi
	started=$SECONDS

	BOOT_RESULT=stopped
	# bash reports a background job killed by a signal ("Aborted") on its
	# stderr when it reaps the job, so the wait goes to the qemu log.
	wait_for_vm "$accel" "$started" 2>>"$WORK_DIR/qemu.log"
}

# Poll the running VM until it stops, the run times out, or a KVM boot
# stays silent, and set BOOT_RESULT as boot_vm describes.
wait_for_vm() {
	local accel=$1 started=$2
	while kill -0 "$QEMU_PID" 2>/dev/null; do
		if [[ $accel == kvm && ! -s $WORK_DIR/console.log ]] &&
			((SECONDS - started >= KVM_PROBE_SECONDS)); then
			BOOT_RESULT=kvm-silent
			break
		fi
		if [[ -n $TIMEOUT_SECONDS ]] &&
			((SECONDS - RUN_STARTED >= TIMEOUT_SECONDS)); then
			BOOT_RESULT=timeout
			break
		fi
		sleep 0.2
	done

	if [[ $BOOT_RESULT == stopped ]]; then
		QEMU_STATUS=0
		wait "$QEMU_PID" || QEMU_STATUS=$?
		QEMU_PID=
	else
		stop_vm
	fi
	if [[ -n $READER_PID ]]; then
		wait "$READER_PID" || true
		READER_PID=
	fi
}

# Succeed when /dev/kvm can be opened for reading and writing.
kvm_usable() {
	[[ -c /dev/kvm ]] && (: <>/dev/kvm) 2>/dev/null
}

# Boot the VM with KVM when requested or usable, and with TCG when KVM is
# not usable, fails at start, or prints nothing within KVM_PROBE_SECONDS
# (a nested hypervisor can leave a KVM guest hanging silently).
run_vm() {
	RUN_STARTED=$SECONDS
	if [[ $ACCEL != tcg ]] && kvm_usable; then
		boot_vm kvm
		if [[ $BOOT_RESULT == kvm-silent ]]; then
			[[ $ACCEL == auto ]] ||
				die "the KVM boot printed nothing on the console within" \
					"${KVM_PROBE_SECONDS}s; retry with --accel tcg"
			log "KVM boot printed nothing within ${KVM_PROBE_SECONDS}s," \
				"booting with TCG instead"
		elif [[ $BOOT_RESULT == stopped && $QEMU_STATUS -ne 0 && ! -s $WORK_DIR/console.log ]]; then
			[[ $ACCEL == auto ]] ||
				die "qemu failed to start with KVM (status $QEMU_STATUS):" \
					"$(qemu_messages | head -n 3)." "Retry with --accel tcg"
			log "qemu failed to start with KVM (status $QEMU_STATUS)," \
				"booting with TCG instead. qemu said:" \
				"$(qemu_messages | head -n 1)"
		else
			ACCEL_USED=kvm
			return 0
		fi
	elif [[ $ACCEL == kvm ]]; then
		die "--accel kvm: /dev/kvm is missing or not readable and writable"
	fi
	boot_vm tcg
	ACCEL_USED=tcg
}

# ---------------------------------------------------------------------
# Results

# Print the lines qemu wrote to its stderr.  qemu.log also contains the
# qemu command lines and bash's reports of jobs killed by a signal.
qemu_messages() {
	grep '^qemu-system-x86_64: ' "$WORK_DIR/qemu.log" 2>/dev/null || true
}

# Print the console log and qemu's messages to stderr.  With "from-init",
# print only the console lines from the start of /init on, which hold the
# init's messages and what the kernel logged while the suite ran.
show_console_log() {
	local part=${1:-all}
	{
		if [[ $part == from-init ]]; then
			echo "----- VM console log from /init on ($WORK_DIR/console.log) -----"
			tr -d '\r' <"$WORK_DIR/console.log" 2>/dev/null |
				sed -n '/Run \/init as init process/,$p'
		else
			echo "----- VM console log ($WORK_DIR/console.log) -----"
			tr -d '\r' <"$WORK_DIR/console.log" 2>/dev/null
		fi
		echo "----- end of VM console log -----"
		if [[ -n $(qemu_messages) ]]; then
			echo "----- qemu messages ($WORK_DIR/qemu.log) -----"
			qemu_messages
			echo "----- end of qemu messages -----"
		fi
	} >&2
}

# Keep the logs for the user and drop the large files.
keep_logs() {
	rm -rf "$WORK_DIR/root" "$WORK_DIR/initramfs.cpio" "$WORK_DIR/suite.fifo"
	KEEP_WORK_DIR=1
}

# Exit with the suite's status, or report why there is none.
finish_test() {
	local status_line status
	if [[ $BOOT_RESULT == timeout ]]; then
		keep_logs
		show_console_log
		die_with "$EXIT_TIMEOUT" "the VM run timed out after ${TIMEOUT_SECONDS}s" \
			"(--timeout) and was killed. Console log: $WORK_DIR/console.log"
	fi

	status_line=$(tr -d '\r' <"$WORK_DIR/status.log" 2>/dev/null | head -n 1)
	case "$status_line" in
	"crater-vm-exit-status "*)
		status=${status_line#crater-vm-exit-status }
		[[ $status =~ ^[0-9]+$ ]] || status=$EXIT_HARNESS_ERROR
		;;
	"crater-vm-init-failed "*)
		keep_logs
		show_console_log
		die "the VM's init failed: ${status_line#crater-vm-init-failed }." \
			"Console log: $WORK_DIR/console.log"
		;;
	*)
		keep_logs
		show_console_log
		die "the VM stopped (qemu exit status $QEMU_STATUS) before the suite" \
			"reported an exit status. Console log: $WORK_DIR/console.log"
		;;
	esac

	# On success the suite's summary stays the last line of the output.
	if [[ $status -ne 0 ]]; then
		keep_logs
		show_console_log from-init
		log "suite exited with status $status after" \
			"$((SECONDS - RUN_STARTED))s in the VM ($ACCEL_USED)"
	fi
	exit "$status"
}

die_with() {
	local status=$1
	shift
	echo "$PROGRAM: error: $*" >&2
	exit "$status"
}

# ---------------------------------------------------------------------

KEEP_WORK_DIR=
TERMINAL_SETTINGS=

# shellcheck disable=SC2317 # run by the EXIT trap
cleanup() {
	stop_vm
	if [[ -n $READER_PID ]]; then
		kill "$READER_PID" 2>/dev/null || true
	fi
	if [[ -n $TERMINAL_SETTINGS ]]; then
		stty "$TERMINAL_SETTINGS" <&3 2>/dev/null || true
	fi
	if [[ -n $WORK_DIR && -z $KEEP_WORK_DIR ]]; then
		rm -rf "$WORK_DIR"
	fi
}

main() {
	parse_arguments "$@"
	check_host_tools
	is_static_x86_64_elf "$CRATER_FILE" ||
		die "$CRATER_FILE is not a statically linked x86-64 executable." \
			"The VM has no C library, so build crater static with musl"

	WORK_DIR=$(mktemp -d "${TMPDIR:-/tmp}/crater-vm.XXXXXX")
	trap cleanup EXIT
	trap 'exit 130' INT
	trap 'exit 143' TERM

	open_cache
	prepare_kernel
	prepare_busybox
	exec 9>&-
	if [[ -e $KERNEL_DIR/vmlinux ]]; then
		KERNEL_IMAGE=$KERNEL_DIR/vmlinux
	else
		KERNEL_IMAGE=$KERNEL_DIR/vmlinuz
	fi
	build_initramfs

	if [[ $MODE == test ]]; then
		log "booting $(basename "$KERNEL_DIR") (console log: $WORK_DIR/console.log)"
		run_vm
		finish_test
	fi

	exec 3<&0 4>&1
	if [[ -t 3 ]]; then
		TERMINAL_SETTINGS=$(stty -g <&3)
	fi
	log "booting $(basename "$KERNEL_DIR"); in the VM, 'poweroff' stops it"
	run_vm
	if [[ $BOOT_RESULT == timeout ]]; then
		die_with "$EXIT_TIMEOUT" "the VM ran for ${TIMEOUT_SECONDS}s (--timeout)" \
			"and was killed"
	fi
	exit "$QEMU_STATUS"
}

main "$@"
