#!/bin/sh
# mkimage.sh: build the ext4 disk image that crater runs containers from.
#
# The root file system comes from one of four sources:
#   (default)         the Alpine Linux minirootfs for x86_64, downloaded
#                     and checked against the sha256 pinned below
#   --alpine VERSION  another Alpine release, checked against the .sha256
#                     file that Alpine publishes beside each tarball
#   --tarball FILE    a local root file system tarball
#   --busybox [PATH]  a minimal root laid out offline around a static
#                     busybox
#
# Steps: put the tree together in a temporary folder, create a sparse file
# of the requested size beside the output, let mkfs.ext4 -d copy the tree
# into it, and rename the file over the output. mkfs.ext4 -d (e2fsprogs
# 1.43 or later) writes the file system from user space, so no loop device
# and no mount is needed. Files in the image keep the owner that they have
# in the tree, so a run as a user other than root goes through fakeroot
# when it is installed (see run_as_fake_root).
#
# The image contains no device nodes: crater populates /dev when it starts a
# container.
#
# POSIX sh: tested with dash and bash.

set -u
umask 022

# Exit statuses, one for each kind of failure. usage() prints this table.
EXIT_STEP_FAILED=1      # tar, mkfs.ext4 or the final rename failed
EXIT_USAGE=2            # unknown option, missing or extra argument
EXIT_BAD_SIZE=3         # -s is not an integer, too small or too large
EXIT_BAD_OUTPUT=4       # output folder missing, not writable, or -o a folder
EXIT_NO_MKFS=5          # mkfs.ext4 missing or older than 1.43
EXIT_NO_TOOL=6          # curl or wget, sha256sum, tar or od missing
EXIT_NO_BUSYBOX=7       # busybox not found, not ELF, or without sh
EXIT_DYNAMIC_BUSYBOX=8  # busybox is dynamically linked
EXIT_NO_TARBALL=9       # --tarball FILE not found
EXIT_DOWNLOAD=10        # download failed, usually for lack of network
EXIT_CHECKSUM=11        # downloaded tarball has the wrong sha256

# The pinned default release and the sha256 of its x86_64 minirootfs.
# NOTE: the checksum matches the value that several public projects pin
# for alpine-minirootfs-3.20.3-x86_64.tar.gz, but it was not checked
# against a download. A wrong value stops the script with exit status 11
# (EXIT_CHECKSUM) before anything is unpacked.
ALPINE_VERSION=3.20.3
ALPINE_SHA256=d4e6fd67dcf75e40c451560ac7265166c2b72a0f38ddc9aae756a7de3d1efa0c
ALPINE_MIRROR=${MKIMAGE_ALPINE_MIRROR:-https://dl-cdn.alpinelinux.org/alpine}
ALPINE_ARCH=x86_64

DEFAULT_OUTPUT=./container_disk.img
DEFAULT_SIZE_MB=500
DEFAULT_BUSYBOX=/bin/busybox

# The smallest size accepted, in MiB. mkfs.ext4 fits a busybox root
# (about 2 MiB) in less, but a smaller image leaves the container almost
# no free space to write to.
MIN_SIZE_MB=8

# Seconds that curl or wget waits to connect before giving up.
CONNECT_TIMEOUT=30

PROGRAM=mkimage

# Temporary paths that cleanup() removes on any exit.
work_dir=""
tmp_image=""

usage() {
    cat <<EOF
Usage: ./mkimage.sh [-o FILE] [-s SIZE_MB]
                    [--alpine VERSION | --tarball FILE | --busybox [PATH]]

Build an ext4 disk image with a root file system for crater. No loop
device, mount or root is needed: mkfs.ext4 -d writes the file system.

Options:
  -o, --output FILE   image to write (default $DEFAULT_OUTPUT);
                      an existing file is replaced atomically
  -s, --size SIZE_MB  size of the image in MiB (default $DEFAULT_SIZE_MB,
                      minimum $MIN_SIZE_MB); the file is sparse, so it takes
                      only the space that its contents use
  --alpine VERSION    download the Alpine minirootfs X.Y.Z for $ALPINE_ARCH
                      (default $ALPINE_VERSION, whose sha256 is pinned here;
                      other versions are checked against the .sha256
                      file published beside the tarball)
  --tarball FILE      unpack a local root file system tarball (plain,
                      gzip, xz or bzip2) instead of downloading
  --busybox [PATH]    lay out a minimal root around a static busybox
                      (default $DEFAULT_BUSYBOX, from the Debian package
                      busybox-static); works offline
  -h, --help          print this help and exit

Environment:
  MKIMAGE_ALPINE_MIRROR  base URL of an Alpine mirror (default
                         https://dl-cdn.alpinelinux.org/alpine)

Progress goes to stderr. On success the absolute path of the image is
printed on stdout.

Exit status:
  0   image written
  $EXIT_STEP_FAILED   tar, mkfs.ext4 or the final rename failed
  $EXIT_USAGE   unknown option, missing or extra argument
  $EXIT_BAD_SIZE   size is not an integer, too small or too large
  $EXIT_BAD_OUTPUT   output folder missing or not writable, or -o names a folder
  $EXIT_NO_MKFS   mkfs.ext4 missing or older than 1.43
  $EXIT_NO_TOOL   curl or wget, sha256sum, tar or od missing
  $EXIT_NO_BUSYBOX   busybox not found, not an executable or without sh
  $EXIT_DYNAMIC_BUSYBOX   busybox is dynamically linked
  $EXIT_NO_TARBALL   tarball not found
  $EXIT_DOWNLOAD  download failed (no network?)
  $EXIT_CHECKSUM  downloaded tarball has the wrong sha256
EOF
}

# Print a progress line on stderr.
say() {
    printf '%s: %s\n' "$PROGRAM" "$*" >&2
}

warn() {
    printf '%s: warning: %s\n' "$PROGRAM" "$*" >&2
}

# Print an error on stderr and exit. $1 is the exit status, and each
# further argument is printed on a line of its own.
die() {
    status=$1
    shift
    printf '%s: error: %s\n' "$PROGRAM" "$1" >&2
    shift
    for line in "$@"; do
        printf '  %s\n' "$line" >&2
    done
    exit "$status"
}

usage_error() {
    die "$EXIT_USAGE" "$1" "Run ./mkimage.sh --help for the options."
}

cleanup() {
    if [ -n "$tmp_image" ]; then
        rm -f "$tmp_image"
    fi
    if [ -n "$work_dir" ]; then
        # Trees unpacked from tarballs may contain folders without write
        # permission, which rm -rf cannot empty as a user other than root.
        chmod -R u+w "$work_dir" 2>/dev/null
        rm -rf "$work_dir"
    fi
}

# ---------------------------------------------------------------------
# Arguments

# Settings from the command line.
output=$DEFAULT_OUTPUT
size_mb=$DEFAULT_SIZE_MB
source_kind=alpine
alpine_version=$ALPINE_VERSION
tarball=""
busybox=$DEFAULT_BUSYBOX
source_option=""

# Parse the command line into the settings above. Runs in a function so
# that main keeps the original arguments for the fakeroot re-exec.
parse_args() {
    while [ $# -gt 0 ]; do
        case $1 in
        -h | --help)
            usage
            exit 0
            ;;
        -o | --output)
            [ $# -ge 2 ] || usage_error "option $1 requires a FILE argument"
            output=$2
            shift 2
            ;;
        --output=*)
            output=${1#*=}
            shift
            ;;
        -s | --size)
            [ $# -ge 2 ] || usage_error "option $1 requires a SIZE_MB argument"
            size_mb=$2
            shift 2
            ;;
        --size=*)
            size_mb=${1#*=}
            shift
            ;;
        --alpine)
            [ $# -ge 2 ] || usage_error "option $1 requires a VERSION argument"
            select_source alpine "$1"
            alpine_version=$2
            shift 2
            ;;
        --alpine=*)
            select_source alpine --alpine
            alpine_version=${1#*=}
            shift
            ;;
        --tarball)
            [ $# -ge 2 ] || usage_error "option $1 requires a FILE argument"
            select_source tarball "$1"
            tarball=$2
            shift 2
            ;;
        --tarball=*)
            select_source tarball --tarball
            tarball=${1#*=}
            shift
            ;;
        --busybox)
            select_source busybox "$1"
            shift
            # PATH is optional: the next argument is taken as PATH unless
            # it looks like an option.
            case ${1-} in
            "" | -*) ;;
            *)
                busybox=$1
                shift
                ;;
            esac
            ;;
        --busybox=*)
            select_source busybox --busybox
            busybox=${1#*=}
            shift
            ;;
        --)
            shift
            [ $# -eq 0 ] || usage_error "unexpected argument '$1'"
            ;;
        -*)
            usage_error "unknown option '$1'"
            ;;
        *)
            usage_error "unexpected argument '$1'"
            ;;
        esac
    done
}

# Record the root file system source, rejecting a second one.
select_source() {
    if [ -n "$source_option" ] && [ "$source_option" != "$2" ]; then
        usage_error "options $source_option and $2 cannot be combined."
    fi
    source_kind=$1
    source_option=$2
}

# ---------------------------------------------------------------------
# Checks made before any work starts

check_size() {
    case $size_mb in
    "" | *[!0-9]*)
        die "$EXIT_BAD_SIZE" "size: '$size_mb' is not a positive integer." \
            "Give the size in MiB, for example -s $DEFAULT_SIZE_MB."
        ;;
    esac
    # Nine digits keep the comparison inside the shell's integer range.
    if [ ${#size_mb} -gt 9 ]; then
        die "$EXIT_BAD_SIZE" "size: $size_mb MiB is too large." \
            "Give at most 9 digits, for example -s $DEFAULT_SIZE_MB."
    fi
    if [ "$size_mb" -lt "$MIN_SIZE_MB" ]; then
        die "$EXIT_BAD_SIZE" \
            "size: $size_mb MiB is too small for an ext4 root file system." \
            "Give at least -s $MIN_SIZE_MB (default $DEFAULT_SIZE_MB)."
    fi
    # Strip leading zeros so that later uses read it as decimal.
    size_mb=$(printf '%d' "$size_mb")
}

check_output() {
    case $output in
    */)
        die "$EXIT_BAD_OUTPUT" "output: '$output' names a folder." \
            "Give a file name, for example -o ${output}container_disk.img."
        ;;
    esac
    output_dir=$(dirname -- "$output")
    output_name=$(basename -- "$output")
    if [ ! -d "$output_dir" ]; then
        die "$EXIT_BAD_OUTPUT" \
            "output: folder '$output_dir' for '$output' does not exist." \
            "Create it with: mkdir -p '$output_dir'"
    fi
    if [ -d "$output" ]; then
        die "$EXIT_BAD_OUTPUT" "output: '$output' is a folder." \
            "Give a file name, for example -o $output/container_disk.img."
    fi
    if [ ! -w "$output_dir" ]; then
        die "$EXIT_BAD_OUTPUT" "output: folder '$output_dir' is not writable." \
            "Choose another folder with -o, or fix its permissions."
    fi
}

# Find mkfs.ext4, which often lives in /sbin or /usr/sbin outside a user's
# PATH, and check that it has -d (e2fsprogs 1.43 or later).
find_mkfs() {
    mkfs=$(command -v mkfs.ext4 2>/dev/null)
    for dir in /usr/sbin /sbin; do
        if [ -z "$mkfs" ] && [ -x "$dir/mkfs.ext4" ]; then
            mkfs=$dir/mkfs.ext4
        fi
    done
    if [ -z "$mkfs" ]; then
        die "$EXIT_NO_MKFS" \
            "mkfs.ext4: not found in PATH, /usr/sbin or /sbin." \
            "Install the Debian package e2fsprogs: apt-get install e2fsprogs"
    fi

    # mke2fs -V prints "mke2fs 1.47.0 (5-Feb-2023)" on its first line.
    version=$("$mkfs" -V 2>&1 | sed -n '1s/^mke2fs \([0-9][0-9.]*\).*/\1/p')
    major=${version%%.*}
    minor=${version#*.}
    minor=${minor%%.*}
    case $major$minor in
    "" | *[!0-9]*)
        warn "mkfs.ext4: cannot read the version of $mkfs;" \
            "assuming it supports -d"
        ;;
    *)
        if [ "$major" -lt 1 ] ||
            { [ "$major" -eq 1 ] && [ "$minor" -lt 43 ]; }; then
            die "$EXIT_NO_MKFS" \
                "mkfs.ext4: $mkfs is version $version, older than 1.43." \
                "Version 1.43 added -d, which this script needs." \
                "Install a newer e2fsprogs."
        fi
        ;;
    esac
}

require_tool() {
    if ! command -v "$1" >/dev/null 2>&1; then
        die "$EXIT_NO_TOOL" "$1: not found in PATH, but $2 needs it." \
            "Install the Debian package $3: apt-get install $3"
    fi
}

check_alpine_version() {
    case $alpine_version in
    *[!0-9.]* | .* | *. | *..* | *.*.*.*)
        usage_error "--alpine: '$alpine_version' is not a version X.Y.Z."
        ;;
    *.*.*) ;;
    *)
        usage_error "--alpine: '$alpine_version' is not a version X.Y.Z."
        ;;
    esac
}

check_tarball() {
    if [ ! -e "$tarball" ]; then
        die "$EXIT_NO_TARBALL" "tarball: '$tarball' not found." \
            "Check the path, or drop --tarball to download Alpine."
    fi
    if [ ! -f "$tarball" ] || [ ! -r "$tarball" ]; then
        die "$EXIT_NO_TARBALL" \
            "tarball: '$tarball' is not a readable regular file." \
            "Give the path of a .tar, .tar.gz, .tar.xz or .tar.bz2 file."
    fi
}

check_busybox() {
    if [ ! -e "$busybox" ]; then
        die "$EXIT_NO_BUSYBOX" "busybox: '$busybox' not found." \
            "Install the Debian package busybox-static" \
            "(apt-get install busybox-static), or give the path of a" \
            "static busybox with --busybox PATH."
    fi
    if [ ! -f "$busybox" ] || [ ! -x "$busybox" ]; then
        die "$EXIT_NO_BUSYBOX" \
            "busybox: '$busybox' is not an executable file." \
            "Give the path of a static busybox with --busybox PATH."
    fi
    check_static "$busybox"
    # The sh applet becomes /bin/sh, crater's default command.
    if ! "$busybox" --list 2>/dev/null | grep -qx sh; then
        die "$EXIT_NO_BUSYBOX" \
            "busybox: '$busybox' --list printed no sh applet." \
            "It is not a busybox that runs on this machine with a shell." \
            "Install the Debian package busybox-static, or give another" \
            "static busybox with --busybox PATH."
    fi
}

# ---------------------------------------------------------------------
# Static linking check
#
# A dynamically linked executable names its dynamic loader in a PT_INTERP
# program header (elf(5)), and a static one, including static-pie, has
# none. Reading the program headers with od works on any machine, unlike
# file(1), which is often not installed, or a search for "ld-linux", which
# misses musl's ld-musl loader.

PT_INTERP=3

# Print the unsigned integer of $3 bytes at offset $2 in file $1. $4 is
# the ELF byte order: 1 for little-endian, 2 for big-endian.
read_uint() {
    bytes=$(od -An -v -t u1 -j "$2" -N "$3" "$1" 2>/dev/null) || return 1
    value=0
    scale=1
    count=0
    for byte in $bytes; do
        if [ "$4" = 1 ]; then
            value=$((value + byte * scale))
            scale=$((scale * 256))
        else
            value=$((value * 256 + byte))
        fi
        count=$((count + 1))
    done
    [ "$count" -eq "$3" ] || return 1
    echo "$value"
}

# Exit with EXIT_DYNAMIC_BUSYBOX if ELF file $1 has a PT_INTERP header, or
# with EXIT_NO_BUSYBOX if it is no ELF file.
check_static() {
    elf=$1
    magic=$(od -An -v -t x1 -N 4 "$elf" 2>/dev/null | tr -d ' \n')
    if [ "$magic" != 7f454c46 ]; then
        die "$EXIT_NO_BUSYBOX" "busybox: '$elf' is not an ELF executable." \
            "Give the path of a static busybox with --busybox PATH."
    fi

    # e_ident[EI_CLASS] is 1 for 32-bit and 2 for 64-bit files, and
    # e_ident[EI_DATA] is the byte order. The offsets of e_phoff,
    # e_phentsize and e_phnum, and of p_offset and p_filesz inside a
    # program header, depend on the class.
    class=$(read_uint "$elf" 4 1 1)
    order=$(read_uint "$elf" 5 1 1)
    if [ "$class" = 2 ]; then
        phoff=$(read_uint "$elf" 32 8 "$order")
        phentsize=$(read_uint "$elf" 54 2 "$order")
        phnum=$(read_uint "$elf" 56 2 "$order")
        field_size=8
        p_offset_at=8
        p_filesz_at=32
    else
        phoff=$(read_uint "$elf" 28 4 "$order")
        phentsize=$(read_uint "$elf" 42 2 "$order")
        phnum=$(read_uint "$elf" 44 2 "$order")
        field_size=4
        p_offset_at=4
        p_filesz_at=16
    fi
    if [ -z "$phoff" ] || [ -z "$phentsize" ] || [ -z "$phnum" ]; then
        die "$EXIT_NO_BUSYBOX" "busybox: '$elf' has a truncated ELF header." \
            "Give the path of a static busybox with --busybox PATH."
    fi

    index=0
    while [ "$index" -lt "$phnum" ]; do
        header=$((phoff + index * phentsize))
        p_type=$(read_uint "$elf" "$header" 4 "$order") || break
        if [ "$p_type" = "$PT_INTERP" ]; then
            report_dynamic "$elf" "$header" "$field_size" \
                "$p_offset_at" "$p_filesz_at" "$order"
        fi
        index=$((index + 1))
    done
}

# Exit with EXIT_DYNAMIC_BUSYBOX, naming the dynamic loader from the
# PT_INTERP program header at offset $2 of file $1. $3 is the size of an
# address field, $4 and $5 are the offsets of p_offset and p_filesz in the
# header, and $6 is the byte order.
report_dynamic() {
    interp_offset=$(read_uint "$1" $(($2 + $4)) "$3" "$6")
    interp_size=$(read_uint "$1" $(($2 + $5)) "$3" "$6")
    interp=""
    if [ -n "$interp_offset" ] && [ -n "$interp_size" ]; then
        interp=$(dd if="$1" bs=1 skip="$interp_offset" count="$interp_size" \
            2>/dev/null | tr -d '\000')
    fi
    die "$EXIT_DYNAMIC_BUSYBOX" \
        "busybox: '$1' is dynamically linked (loader ${interp:-unknown})." \
        "The image has no shared libraries, so it could not run there." \
        "Install the Debian package busybox-static and use its" \
        "/bin/busybox, or give another static busybox with --busybox PATH."
}

# ---------------------------------------------------------------------
# Ownership

# Make the files in the image owned by root when the script runs as
# another user. mkfs.ext4 -d copies each file's uid and gid from the tree.
# Under fakeroot, tar and mkfs.ext4 see every file as owned by root (or by
# the owner recorded in the tarball), so the image comes out right without
# root. Re-executes the script under fakeroot and does not return when
# fakeroot is installed.
run_as_fake_root() {
    if [ "$(id -u)" = 0 ]; then
        return
    fi
    if command -v fakeroot >/dev/null 2>&1 && [ -f "$0" ]; then
        say "running as uid $(id -u): re-running under fakeroot so that" \
            "files in the image are owned by root"
        exec fakeroot -- /bin/sh "$0" "$@"
    fi
    warn "running as uid $(id -u) without fakeroot, so files in the" \
        "image will be owned by uid $(id -u), not root. Run as root, or" \
        "install the Debian package fakeroot."
    unprivileged=yes
    mkfs_extra="-E root_owner=0:0"
}

# ---------------------------------------------------------------------
# Sources of the root tree

# Download URL $1 to file $2 with curl or wget, exiting with a message
# that names the URL on failure.
download() {
    say "downloading $1"
    if command -v curl >/dev/null 2>&1; then
        error=$(curl -fsSL --connect-timeout "$CONNECT_TIMEOUT" \
            -o "$2" "$1" 2>&1)
        status=$?
        case $status in
        0) return ;;
        5 | 6 | 7 | 28 | 35) reason=network ;;
        22) reason=server ;;
        *) reason=other ;;
        esac
        tool=curl
    else
        # wget prints its progress and errors on stderr, and the last line
        # names the failure. GNU wget exits with 4 on a network failure
        # and 8 on an error response from the server.
        wget -T "$CONNECT_TIMEOUT" -O "$2" "$1" 2>"$work_dir/wget.log"
        status=$?
        error=$(sed '/^[[:space:]]*$/d' "$work_dir/wget.log" | tail -n 1)
        case $status in
        0) return ;;
        4) reason=network ;;
        8) reason=server ;;
        *) reason=other ;;
        esac
        tool=wget
    fi

    case $reason in
    network)
        die "$EXIT_DOWNLOAD" "download: cannot reach $1" \
            "${error:-$tool exited with status $status}" \
            "This machine seems to have no network access." \
            "Build offline with --busybox or --tarball FILE."
        ;;
    server)
        die "$EXIT_DOWNLOAD" "download: the server returned an error for $1" \
            "${error:-$tool exited with status $status}" \
            "Check that the URL exists (for Alpine, that the version" \
            "exists), or build offline with --busybox or --tarball FILE."
        ;;
    *)
        die "$EXIT_DOWNLOAD" "download: failed for $1" \
            "${error:-$tool exited with status $status}" \
            "Build offline with --busybox or --tarball FILE."
        ;;
    esac
}

# Download the Alpine minirootfs, verify its sha256 and unpack it into
# the tree.
fetch_alpine() {
    branch=v${alpine_version%.*}
    name=alpine-minirootfs-$alpine_version-$ALPINE_ARCH.tar.gz
    url=$ALPINE_MIRROR/$branch/releases/$ALPINE_ARCH/$name
    say "source: Alpine $alpine_version minirootfs ($ALPINE_ARCH)"

    if [ "$alpine_version" = "$ALPINE_VERSION" ]; then
        expected=$ALPINE_SHA256
        expected_from="pinned in mkimage.sh"
    else
        download "$url.sha256" "$work_dir/$name.sha256"
        # The file reads "<sha256>  <file name>".
        expected=$(sed -n '1s/^\([0-9a-fA-F]\{64\}\).*/\1/p' \
            "$work_dir/$name.sha256" | tr 'A-F' 'a-f')
        if [ -z "$expected" ]; then
            die "$EXIT_CHECKSUM" "verify: $url.sha256 contains no sha256." \
                "Check the mirror, or build with --busybox or --tarball FILE."
        fi
        expected_from="from $url.sha256"
    fi

    download "$url" "$work_dir/$name"

    say "verifying sha256 of $name"
    actual=$(sha256sum "$work_dir/$name" | cut -d ' ' -f 1)
    if [ "$actual" != "$expected" ]; then
        die "$EXIT_CHECKSUM" "verify: sha256 mismatch for $url" \
            "expected: $expected ($expected_from)" \
            "actual:   $actual" \
            "The download is corrupt or was altered. Try again, or use" \
            "--tarball FILE with a tarball that you verified yourself."
    fi

    unpack_tarball "$work_dir/$name"
}

# Print the tar option that decompresses file $1, or nothing for a plain
# tar archive. The magic numbers are the first bytes of gzip (1f 8b), xz
# (fd 37 7a 58 5a 00) and bzip2 ("BZh") streams. GNU tar detects these
# by itself, but busybox tar may not, depending on its build options.
compression_option() {
    magic=$(od -An -v -t x1 -N 6 "$1" 2>/dev/null | tr -d ' \n')
    case $magic in
    1f8b*) echo -z ;;
    fd377a585a00) echo -J ;;
    425a68*) echo -j ;;
    esac
}

# Unpack tarball $1 into the tree.
unpack_tarball() {
    say "unpacking $1"
    compression=$(compression_option "$1")
    # --numeric-owner keeps the uids and gids of the tarball instead of
    # mapping names through this machine's /etc/passwd, whose numbers
    # need not match the image's. $compression is unquoted on purpose:
    # it is empty or one option.
    # shellcheck disable=SC2086
    tar -x $compression -f "$1" -C "$tree" --numeric-owner \
        2>"$work_dir/tar.log"
    status=$?
    if [ "$status" -ne 0 ] && [ -n "$unprivileged" ] &&
        ! grep -v -e 'Cannot mknod' -e 'due to previous errors' \
            "$work_dir/tar.log" >/dev/null; then
        # Only root can create device nodes, and the image needs none.
        warn "skipped the device nodes in '$1', which only root can create"
        status=0
    elif [ -s "$work_dir/tar.log" ]; then
        cat "$work_dir/tar.log" >&2
    fi
    if [ "$status" -ne 0 ]; then
        die "$EXIT_STEP_FAILED" "unpack: tar failed on '$1'." \
            "Check that it is a tar archive (plain, gzip, xz or bzip2)." \
            "Unpacking xz needs the Debian package xz-utils, and bzip2" \
            "the package bzip2."
    fi

    remove_device_nodes

    if [ ! -e "$tree/bin/sh" ] && [ ! -L "$tree/bin/sh" ]; then
        warn "'$1' has no /bin/sh at its top level, so crater's default" \
            "command will fail. A root file system tarball has bin/," \
            "etc/ and so on at its top, not inside a single folder."
    fi
}

# Remove block and character device nodes from the tree. crater creates
# the nodes in /dev at run time, and a node in the image could give the
# container access to a host device.
#
# Under fakeroot, tar creates each node as an empty regular file that only
# fakeroot's stat() reports as a device. find -type can miss those, since
# it may take the type from the directory entry, so each file goes through
# test -b and -c, which call stat().
remove_device_nodes() {
    # shellcheck disable=SC2016
    nodes=$(find "$tree" ! -type d ! -type l -exec sh -c '
        for path in "$@"; do
            if [ -b "$path" ] || [ -c "$path" ]; then
                rm -f "$path" && echo "$path"
            fi
        done' sh {} + | wc -l)
    if [ "$nodes" -gt 0 ]; then
        say "removed $nodes device nodes from the tree"
    fi
}

# Lay out a minimal root around busybox: /bin contains busybox and a
# symbolic link for every applet, and /sbin, /usr/bin and /usr/sbin are
# symbolic links to it. One real folder gives every path that scripts
# expect (/bin/sh, /usr/bin/env, /sbin/ip) with a single set of links.
lay_out_busybox() {
    say "source: static busybox $busybox"
    for dir in bin etc dev proc sys root run tmp usr var var/tmp; do
        mkdir -p "$tree/$dir"
    done
    chmod 0700 "$tree/root"
    chmod 1777 "$tree/tmp" "$tree/var/tmp"
    ln -s bin "$tree/sbin"
    ln -s ../bin "$tree/usr/bin"
    ln -s ../bin "$tree/usr/sbin"

    cp "$busybox" "$tree/bin/busybox"
    chmod 0755 "$tree/bin/busybox"
    applets=0
    for applet in $("$busybox" --list); do
        case $applet in
        busybox | */* | .*) continue ;;
        esac
        ln -s busybox "$tree/bin/$applet"
        applets=$((applets + 1))
    done
    say "linked $applets busybox applets in /bin"

    write_busybox_etc
}

write_busybox_etc() {
    # "x" sends password checks to /etc/shadow, which does not exist, so
    # no account has a password that can log in.
    cat >"$tree/etc/passwd" <<'EOF'
root:x:0:0:root:/root:/bin/sh
nobody:x:65534:65534:nobody:/nonexistent:/bin/false
EOF
    cat >"$tree/etc/group" <<'EOF'
root:x:0:
nogroup:x:65534:
EOF
    echo crater >"$tree/etc/hostname"
    cat >"$tree/etc/hosts" <<'EOF'
127.0.0.1	localhost
::1	localhost
EOF
    # ash reads /etc/profile for a login shell (sh -l).
    cat >"$tree/etc/profile" <<'EOF'
export PATH=/bin
export HOME=${HOME:-/root}
EOF

    # "busybox --help" starts with "BusyBox v1.35.0 (Debian ...) multi-call
    # binary."
    busybox_version=$("$busybox" --help 2>&1 |
        sed -n '1s/^BusyBox v\([0-9][0-9.]*\).*/\1/p')
    cat >"$tree/etc/os-release" <<EOF
NAME="crater busybox"
ID=crater-busybox
VERSION_ID=${busybox_version:-unknown}
PRETTY_NAME="crater busybox (BusyBox ${busybox_version:-unknown version})"
EOF
}

# ---------------------------------------------------------------------
# Image

# Write the tree into a sparse file beside the output, then rename it
# over the output so that readers never see a partial image.
build_image() {
    tmp_image=$(mktemp "$output_dir/$output_name.tmp.XXXXXX") ||
        die "$EXIT_BAD_OUTPUT" \
            "output: cannot create a temporary file in '$output_dir'." \
            "Check its permissions and free space."

    say "creating a sparse file of $size_mb MiB"
    if ! truncate -s "${size_mb}M" "$tmp_image"; then
        die "$EXIT_STEP_FAILED" "image: truncate failed on '$tmp_image'." \
            "Check the free space and file size limit of '$output_dir'."
    fi

    say "writing the ext4 file system with $mkfs -d"
    # -m 0 reserves no blocks for root, which a container image does not
    # need. mkfs_extra is unquoted on purpose: it is empty or one option
    # and its value.
    # shellcheck disable=SC2086
    if ! "$mkfs" -q -F -L crater -m 0 ${mkfs_extra:-} -d "$tree" \
        "$tmp_image" "${size_mb}M"; then
        # The suggested size is a rough estimate that leaves room for
        # inode tables, the journal and small files rounded up to blocks.
        tree_mb=$(($(du -sk "$tree" | cut -f 1) / 1024 + 1))
        die "$EXIT_STEP_FAILED" \
            "image: mkfs.ext4 failed to write '$output' (see above)." \
            "If it could not allocate blocks or inodes, the tree (about" \
            "$tree_mb MiB) does not fit in $size_mb MiB. Give a larger" \
            "size, for example -s $((tree_mb * 2 + MIN_SIZE_MB))."
    fi

    # mktemp creates the file with mode 0600, and the image is no secret.
    chmod 0644 "$tmp_image"
    if ! mv -f "$tmp_image" "$output"; then
        die "$EXIT_STEP_FAILED" \
            "output: cannot rename '$tmp_image' to '$output'." \
            "Check the permissions of '$output_dir'."
    fi
    tmp_image=""
}

# ---------------------------------------------------------------------

main() {
    parse_args "$@"

    check_size
    check_output
    find_mkfs
    require_tool od "the static linking check" coreutils
    case $source_kind in
    alpine)
        check_alpine_version
        if ! command -v curl >/dev/null 2>&1 &&
            ! command -v wget >/dev/null 2>&1; then
            die "$EXIT_NO_TOOL" \
                "download: neither curl nor wget is in PATH." \
                "Install the Debian package curl (apt-get install curl)," \
                "or build offline with --busybox or --tarball FILE."
        fi
        require_tool sha256sum "the checksum check" coreutils
        require_tool tar "unpacking the Alpine tarball" tar
        ;;
    tarball)
        check_tarball
        require_tool tar "--tarball" tar
        ;;
    busybox)
        check_busybox
        ;;
    esac

    # run_as_fake_root sets these when it runs as a user other than root
    # without fakeroot.
    unprivileged=""
    mkfs_extra=""
    run_as_fake_root "$@"

    trap cleanup EXIT
    trap 'exit 129' HUP
    trap 'exit 130' INT
    trap 'exit 143' TERM

    work_dir=$(mktemp -d "${TMPDIR:-/tmp}/mkimage.XXXXXX") ||
        die "$EXIT_STEP_FAILED" \
            "setup: cannot create a temporary folder in '${TMPDIR:-/tmp}'." \
            "Set TMPDIR to a writable folder with free space."
    tree=$work_dir/root
    mkdir "$tree"
    chmod 0755 "$tree"

    case $source_kind in
    alpine) fetch_alpine ;;
    tarball) unpack_tarball "$tarball" ;;
    busybox) lay_out_busybox ;;
    esac

    build_image

    say "image ready"
    absolute_dir=$(cd -- "$output_dir" && pwd -P)
    printf '%s/%s\n' "$absolute_dir" "$output_name"
}

main "$@"
