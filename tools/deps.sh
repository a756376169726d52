#!/bin/sh
# tools/deps.sh - install what building and testing crater needs.
#
#   tools/deps.sh build    musl-gcc, mkfs.ext4, a static busybox
#   tools/deps.sh test     the same, plus what the tests use when present
#   tools/deps.sh vm       the same, plus qemu for the cgroup v2 VM
#
# Installs the missing Debian packages with apt-get where apt-get exists,
# and prints which. Elsewhere it stops and names the packages to install.
set -u

what=${1:-build}
missing=""

# need COMMAND PACKAGE: PACKAGE provides COMMAND.
need() {
    command -v "$1" >/dev/null 2>&1 || missing="$missing $2"
}

need musl-gcc musl-tools
need mkfs.ext4 e2fsprogs
need make make
# Debian's busybox package is dynamically linked; busybox-static is not,
# and the tests copy it into images that have no libc.
if command -v dpkg >/dev/null 2>&1; then
    dpkg -s busybox-static >/dev/null 2>&1 || missing="$missing busybox-static"
elif ! [ -x /bin/busybox ]; then
    missing="$missing busybox-static"
fi
case $what in
test | vm)
    need runc runc             # `runc spec` writes the test bundles
    need gdb gdb
    ;;
esac
case $what in
vm)
    need qemu-system-x86_64 qemu-system-x86
    need cpio cpio
    need xz xz-utils
    need readelf binutils       # vm/run.sh checks that binaries are static
    ;;
esac

[ -z "$missing" ] && exit 0
if ! command -v apt-get >/dev/null 2>&1; then
    echo "deps: missing packages:$missing; install them with your" \
         "package manager" >&2
    exit 1
fi
if [ "$(id -u)" != 0 ]; then
    echo "deps: missing packages:$missing; run as root (sudo) so that" \
         "apt-get can install them" >&2
    exit 1
fi
echo "deps: installing$missing with apt-get" >&2
apt-get update -qq >&2 &&
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $missing >&2 || {
    echo "deps: apt-get install$missing failed" >&2
    exit 1
}
