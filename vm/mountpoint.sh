#!/bin/sh
# mountpoint [-q] DIR: exit 0 when DIR is a mount point, 1 when it is not.
#
# Debian's busybox-static 1.35 is built without the mountpoint applet, so
# the test VM installs this stand-in at /usr/local/bin/mountpoint.  It
# covers the util-linux forms "mountpoint DIR" and "mountpoint -q DIR" by
# looking the path up in /proc/self/mountinfo.
# NOTE: util-linux's -d, -x and --fs options are not supported.

quiet=0
if [ "$1" = "-q" ] || [ "$1" = "--quiet" ]; then
	quiet=1
	shift
fi
if [ $# -ne 1 ]; then
	echo "usage: mountpoint [-q] DIR" >&2
	exit 2
fi

path=$(readlink -f -- "$1" 2>/dev/null)
if [ -z "$path" ] || [ ! -d "$path" ]; then
	[ "$quiet" = 1 ] || echo "mountpoint: $1: No such file or directory" >&2
	exit 1
fi

# Field 5 of mountinfo is the mount point, with space, tab, newline and
# backslash written as octal escapes (proc(5)).
if awk -v path="$path" '
	{
		mount_point = $5
		gsub(/\\040/, " ", mount_point)
		gsub(/\\011/, "\t", mount_point)
		gsub(/\\012/, "\n", mount_point)
		gsub(/\\134/, "\\", mount_point)
		if (mount_point == path)
			found = 1
	}
	END { exit found ? 0 : 1 }
' /proc/self/mountinfo; then
	[ "$quiet" = 1 ] || echo "$1 is a mountpoint"
	exit 0
fi
[ "$quiet" = 1 ] || echo "$1 is not a mountpoint"
exit 1
