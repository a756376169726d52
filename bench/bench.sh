#!/bin/bash
# bench/bench.sh - benchmark of crater: start-to-exit time, memory, binary
# size and concurrent containers. runc on the same OCI bundle and a bare
# unshare + chroot (the floor) are measured next to it. Run it as root:
#
#   bench/bench.sh            full run (2 to 3 minutes on 2 cores), writes
#                             bench/RESULTS.md
#   bench/bench.sh --quick    5 rounds, one pass of the scale test; prints
#                             the report instead of writing RESULTS.md
#
# Everything it makes (image, bundle, state and runc roots, cgroups named
# after its own ID prefix, loop devices backed by its image) lives in or
# comes from one mktemp -d folder, and the exit trap removes all of it.
set -euo pipefail

usage() {
    cat <<'EOF'
usage: bench/bench.sh [--quick] [--rounds N] [--pause MS] [--output FILE]
                      [--commit REV | --crater PATH]

  --quick          5 timing rounds, 1 pass of the scale test, 2 traced runs;
                   the report goes to standard output unless --output is given
  --rounds N       timing rounds per side (default 100)
  --pause MS       idle time before each timed run, in milliseconds
                   (default 100)
  --output FILE    where to write the report (default bench/RESULTS.md,
                   "-" for standard output)
  --commit REV     build crater from the sources of git revision REV (such
                   as HEAD) instead of the working tree's
  --crater PATH    benchmark this crater binary instead of building one
EOF
}

rounds=100
warmup=2
scale_passes=5
traced_runs=5
scale_counts="1 10 50 100"
quick=0
rounds_given=0
pause_ms=100
output=""
crater_given=""
revision=""
while [ $# -gt 0 ]; do
    case $1 in
    --quick) quick=1 ;;
    --rounds)
        rounds=${2:?--rounds needs a number}
        rounds_given=1
        shift
        ;;
    --pause)
        pause_ms=${2:?--pause needs a number of milliseconds}
        shift
        ;;
    --output)
        output=${2:?--output needs a file name}
        shift
        ;;
    --crater)
        crater_given=${2:?--crater needs a path}
        shift
        ;;
    --commit)
        revision=${2:?--commit needs a git revision}
        shift
        ;;
    -h | --help)
        usage
        exit 0
        ;;
    *)
        echo "bench: unknown option '$1'" >&2
        usage >&2
        exit 2
        ;;
    esac
    shift
done
if [ "$quick" = 1 ]; then
    [ "$rounds_given" = 1 ] || rounds=5
    scale_passes=1
    traced_runs=2
    [ -z "$output" ] && output=-
fi
case $rounds in
'' | *[!0-9]* | 0)
    echo "bench: invalid --rounds '$rounds' (expected a positive number)" >&2
    exit 2
    ;;
esac
case $pause_ms in
'' | *[!0-9]*)
    echo "bench: invalid --pause '$pause_ms' (expected milliseconds)" >&2
    exit 2
    ;;
esac
pause_s=$(awk -v ms="$pause_ms" 'BEGIN { printf "%.3f", ms / 1000 }')

repo=$(cd "$(dirname "$0")/.." && pwd)
[ -z "$output" ] && output=$repo/bench/RESULTS.md
command_line="bench/bench.sh"
[ "$quick" = 1 ] && command_line="$command_line --quick"
[ -n "$revision" ] && command_line="$command_line --commit $revision"
command_line="$command_line --rounds $rounds --pause $pause_ms"

say() { echo "bench: $*" >&2; }
die() {
    echo "bench: $*" >&2
    exit 1
}

[ "$(id -u)" = 0 ] || die "run as root: crater and runc need root for" \
    "namespaces, loop devices and cgroups"
missing=""
for tool in cc unshare chroot awk sort; do
    command -v "$tool" >/dev/null 2>&1 || missing="$missing $tool"
done
[ -z "$crater_given" ] && ! command -v musl-gcc >/dev/null 2>&1 &&
    missing="$missing musl-gcc"
command -v mkfs.ext4 >/dev/null 2>&1 || missing="$missing mkfs.ext4"
[ -n "$missing" ] && die "missing tools:$missing; tools/deps.sh build" \
    "installs the build tools, and cc comes with gcc"
busybox=/bin/busybox
# A dynamic executable names its loader; the container has no libc.
[ -x "$busybox" ] && ! grep -qa -e '/ld-linux' -e '/ld-musl' "$busybox" ||
    die "$busybox is missing or not static: apt-get install busybox-static"
have_runc=0
command -v runc >/dev/null 2>&1 && have_runc=1
have_strace=0
command -v strace >/dev/null 2>&1 && have_strace=1
have_perf=0
perf stat -e task-clock true >/dev/null 2>&1 && have_perf=1

# All that the benchmark makes lives here; IDs and cgroups carry $prefix.
# The state roots are on a tmpfs, as /run (crater's and runc's default
# root) is on most distributions, so that disk writes of other processes
# do not slow down crater's and runc's state files.
work=$(mktemp -d /tmp/crater-bench.XXXXXX)
prefix=cb$$
state=$work/run/crater
runc_root=$work/run/runc
image=$work/busybox.img
bundle=$work/bundle
rootfs=$bundle/rootfs
mkdir -p "$work/log" "$work/data" "$work/trace" "$work/run"
crater=""

cleanup() {
    local status=$? f device id dir
    trap - EXIT INT TERM

    for dir in "$state"/*/; do
        [ -d "$dir" ] && [ -n "$crater" ] || continue
        id=$(basename "$dir")
        "$crater" --root "$state" delete --force "$id" >/dev/null 2>&1 || true
    done
    if [ "$have_runc" = 1 ] && [ -d "$runc_root" ]; then
        for id in $(runc --root "$runc_root" list -q 2>/dev/null); do
            runc --root "$runc_root" delete --force "$id" >/dev/null 2>&1 ||
                true
        done
    fi

    # Loop devices whose backing file is in this folder were attached by
    # this run (through crater) and are the only ones detached here.
    for f in /sys/block/loop*/loop/backing_file; do
        [ -r "$f" ] || continue
        case $(cat "$f" 2>/dev/null) in
        "$work"/*)
            device=/dev/$(basename "$(dirname "$(dirname "$f")")")
            say "detaching $device, left attached to $(cat "$f")"
            losetup -d "$device" 2>/dev/null || true
            ;;
        esac
    done

    find /sys/fs/cgroup -maxdepth 6 -depth -type d \
        \( -name "crater-$prefix-*" -o -name "$prefix-*" \) 2>/dev/null |
        while read -r dir; do
            say "removing cgroup $dir, left by this run"
            rmdir "$dir" 2>/dev/null || say "could not remove $dir"
        done

    if grep -q " $work/run " /proc/self/mountinfo; then
        umount "$work/run" || say "could not unmount $work/run"
    fi
    if grep -q " $work" /proc/self/mountinfo; then
        say "keeping $work: something is still mounted below it"
    else
        rm -rf "$work"
    fi
    exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
mount -t tmpfs -o mode=0700,size=64m tmpfs "$work/run" ||
    die "cannot mount a tmpfs on $work/run"

load_start=$(cut -d' ' -f1-3 /proc/loadavg)
say "working in $work (load average $load_start)"

# 1. crater, the runner and the inputs.
if [ -n "$crater_given" ]; then
    [ -x "$crater_given" ] || die "--crater $crater_given is not executable"
    crater=$work/crater
    cp "$crater_given" "$crater"
    crater_source="the binary given with --crater ($crater_given)"
elif [ -n "$revision" ]; then
    mkdir "$work/build"
    commit=$(git -C "$repo" rev-parse --short "$revision^{commit}") ||
        die "--commit $revision is not a revision of $repo"
    git -C "$repo" archive "$commit" | tar -x -C "$work/build" ||
        die "cannot extract the sources of $commit"
    say "building crater from $commit with make"
    make -s -C "$work/build" crater >"$work/log/build.log" 2>&1 ||
        die "make crater failed: $(cat "$work/log/build.log")"
    crater=$work/build/crater
    crater_source="crater.c at commit $commit, built with \`make crater\`"
else
    # A copy of the sources, so that edits made during the run and other
    # builds of ./crater do not change what is measured.
    mkdir "$work/build"
    cp "$repo"/*.c "$repo"/*.h "$repo/Makefile" "$work/build/"
    say "building crater with make"
    make -s -C "$work/build" crater >"$work/log/build.log" 2>&1 ||
        die "make crater failed: $(cat "$work/log/build.log")"
    crater=$work/build/crater
    commit=$(git -C "$repo" rev-parse --short HEAD 2>/dev/null || echo unknown)
    if git -C "$repo" diff --quiet HEAD -- crater.c syscalls.h 2>/dev/null
    then
        crater_source="crater.c at commit $commit, built with \`make crater\`"
    else
        checksum=$(sha256sum "$work/build/crater.c" | cut -c1-12)
        crater_source="crater.c at commit $commit with uncommitted changes"
        crater_source="$crater_source (sha256 $checksum...), built with"
        crater_source="$crater_source \`make crater\`"
    fi
fi
runner=$work/runner
cc -O2 -Wall -Wextra -o "$runner" "$repo/bench/runner.c" ||
    die "cannot build bench/runner.c"

say "building the busybox image"
"$repo/mkimage.sh" --busybox -s 64 -o "$image" >"$work/log/mkimage.log" 2>&1 ||
    die "mkimage.sh failed: $(tail -5 "$work/log/mkimage.log")"

mkdir -p "$rootfs/bin" "$rootfs/proc" "$rootfs/sys" "$rootfs/dev" \
    "$rootfs/tmp"
cp "$busybox" "$rootfs/bin/busybox"
for applet in $("$rootfs/bin/busybox" --list); do
    [ "$applet" = busybox ] || ln -s busybox "$rootfs/bin/$applet"
done
if [ "$have_runc" = 1 ]; then
    (cd "$bundle" && runc spec)
elif [ -f "$repo/tests/runc-spec.json" ]; then
    cp "$repo/tests/runc-spec.json" "$bundle/config.json"
else
    die "no runc to write config.json with, and no tests/runc-spec.json"
fi
# `runc spec` writes "terminal": true and "args": ["sh"], one per line.
sed -i -e 's/"terminal": true/"terminal": false/' \
    -e 's/^\([[:space:]]*\)"sh"$/\1"\/bin\/true"/' "$bundle/config.json"
grep -q '"terminal": false' "$bundle/config.json" &&
    grep -q '"/bin/true"' "$bundle/config.json" ||
    die "could not set terminal and args in $bundle/config.json"

# 2. The sides. %R in a command becomes the round number, so each
# container gets an ID of its own.
cmd_a=("$crater" --root "$state" run -q --name "$prefix-a%R" --image "$image"
    /bin/true)
cmd_b=("$crater" --root "$state" run -q --bundle "$bundle" "$prefix-b%R")
cmd_g=("$crater" --root "$state" run -q --bundle "$bundle" "$prefix-g%R")
cmd_c=(runc --root "$runc_root" run --bundle "$bundle" "$prefix-c%R")
cmd_d=(unshare --pid --fork --mount --uts --ipc --net chroot "$rootfs"
    /bin/true)
cmd_e=("$crater" --root "$state" run -q --no-cgroups --name "$prefix-e%R"
    --image "$image" /bin/true)
cmd_f=("$crater" --root "$state" run -q --read-only --name "$prefix-f%R"
    --image "$image" /bin/true)
cmd_s=("$crater" --root "$state" run -q --read-only --name "$prefix-s%R-{}"
    --image "$image" /bin/true)
sides="a b g c d e f"
[ "$have_runc" = 1 ] || sides="a b g d e f"
declare -A label=(
    [a]="(a) crater run, ext4 image"
    [b]="(b) crater run, bundle"
    [g]="(g) crater run, bundle, right after (b)"
    [c]="(c) runc run, bundle"
    [d]="(d) floor: unshare + chroot"
    [e]="(e) crater run, ext4 image, --no-cgroups"
    [f]="(f) crater run, ext4 image, --read-only"
)

# Prints a command as a shell line, with the work folder shown as $WORK.
show() {
    local line
    line=$(printf '%q ' "$@")
    line=${line% }
    echo "${line//$work/\$WORK}"
}

# run_side SIDE ROUND: prints "WALL_US MAXRSS_KB CPU_US STATUS".
run_side() {
    local -n command="cmd_$1"
    "$runner" time "${command[@]//%R/$2}" </dev/null 2>>"$work/log/side-$1.log"
}

# 3. Start-to-exit time: the sides alternate within each round. The first
# move of a process through cgroup.procs after a quiet spell waits for an
# RCU grace period (runc's moves, and crater's on cgroup v2), and a move
# that follows another by a few milliseconds does not. So each run but
# (g) starts after an idle pause, which keeps it from depending on the
# run before it.
say "timing: $warmup warm-up rounds, then $rounds rounds of: $sides"
for round in $(seq 1 $((warmup + rounds))); do
    for side in $sides; do
        [ "$side" = g ] || sleep "$pause_s"
        result=$(run_side "$side" "$round")
        [ "$round" -gt "$warmup" ] && echo "$result" >>"$work/data/time-$side"
    done
done

# column FILE N: the Nth column of FILE, sorted numerically.
column() { awk -v n="$2" '{print $n}' "$1" | sort -n; }
# Percentile P (0-100) of numbers on standard input, nearest rank.
percentile() {
    awk -v p="$1" '{v[NR] = $1}
        END {
            if (NR == 0) { print "n/a"; exit }
            if (p == 50 && NR % 2 == 0) { print (v[NR/2] + v[NR/2+1]) / 2; exit }
            k = int(p / 100 * NR + 0.999999); if (k < 1) k = 1
            print v[k]
        }'
}
ms() { awk -v us="$1" 'BEGIN { if (us == "n/a") print us; else printf "%.1f", us / 1000 }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "n/a" }'; }

declare -A median min p90 cpu rss failed
for side in $sides; do
    f=$work/data/time-$side
    median[$side]=$(column "$f" 1 | percentile 50)
    min[$side]=$(column "$f" 1 | percentile 0)
    p90[$side]=$(column "$f" 1 | percentile 90)
    cpu[$side]=$(column "$f" 3 | percentile 50)
    rss[$side]=$(column "$f" 2 | percentile 50)
    failed[$side]=$(awk '$4 != 0' "$f" | wc -l)
done

# 4. crater's own memory: the peak of each of its processes, without the
# command it executes, over a few runs.
say "peak memory of crater's processes"
for run in 1 2 3; do
    sleep "$pause_s"
    "$runner" peak "${cmd_a[@]//%R/p$run}" </dev/null \
        2>>"$work/log/peak.log" | sed 's/^/a /' >>"$work/data/peak"
    "$runner" peak "${cmd_b[@]//%R/p$run}" </dev/null \
        2>>"$work/log/peak.log" | sed 's/^/b /' >>"$work/data/peak"
done
# peak_of SIDE ROLE [NAME]: the largest peak in KB over the runs.
peak_of() {
    awk -v s="$1" -v r="$2" -v n="${3:-}" \
        '$1 == s && $3 == r && (n == "" || $4 == n) && $5 > m { m = $5 }
         END { print m + 0 }' "$work/data/peak"
}
# peak_unique SIDE: an estimate of one run's memory with the binary's
# file pages counted once: the sum of RssAnon plus the largest RssFile.
peak_unique() {
    awk -v s="$1" '$1 == s && $3 == "parent" { run++ }
        $1 == s { anon[run] += $6; if ($7 > file[run]) file[run] = $7 }
        END { for (r in anon) if (anon[r] + file[r] > m) m = anon[r] + file[r]; print m + 0 }' \
        "$work/data/peak"
}
# peak_sum SIDE: the largest sum over the processes of one run, in KB.
peak_sum() {
    awk -v s="$1" '$1 == s && $3 == "parent" { run++ }
        $1 == s { total[run] += $5 }
        END { for (r in total) if (total[r] > m) m = total[r]; print m + 0 }' \
        "$work/data/peak"
}

crater_size=$(stat -c %s "$crater")
runc_size=""
[ "$have_runc" = 1 ] && runc_size=$(stat -L -c %s "$(command -v runc)")

# 5. Where the bytes go: a link map of the same build.
size_report=""
if [ -z "$crater_given" ]; then
    compile=$(make -s -n -B -C "$work/build" crater | grep -- '-o crater ')
    mkdir "$work/map"
    cp "$work/build"/*.c "$work/build"/*.h "$work/map/" 2>/dev/null
    (cd "$work/map" && eval "$compile -Wl,-Map=crater.map") \
        >>"$work/log/build.log" 2>&1 || true
    if [ -f "$work/map/crater.map" ]; then
        size_report=$(awk '
            # Input sections of the output file, from the linker map:
            # " .text.name  0xADDRESS  0xSIZE  FILE", or the section name
            # alone on one line and the rest on the next.
            function hex(s,  i, v) {
                s = tolower(s); sub(/^0x/, "", s)
                for (i = 1; i <= length(s); i++) v = v * 16 + index("0123456789abcdef", substr(s, i, 1)) - 1
                return v
            }
            /^ \.[^ ]+$/ { pending = $1; next }
            {
                if (pending != "" && $1 ~ /^0x/) { name = pending; address = $1; size = $2; file = $3 }
                else if ($0 ~ /^ \./ && $2 ~ /^0x/ && $3 ~ /^0x/) { name = $1; address = $2; size = $3; file = $4 }
                else { pending = ""; next }
                pending = ""
                if (file == "") next
                if (name ~ /^\.(bss|tbss|comment|debug|note|stab)/ || hex(address) == 0) next
                if (file ~ /libc\.a\(/) { sub(/.*\(/, "", file); sub(/\.lo\)$/, "", file); owner = "libc " file }
                else if (file ~ /\/tmp\/.*\.o$|crater\.o$/) owner = "crater.c"
                else owner = "startup files"
                bytes[owner] += hex(size)
            }
            END { for (o in bytes) printf "%d %s\n", bytes[o], o }' \
            "$work/map/crater.map" | sort -rn)
    fi
fi

# 6. Scale: N read-only containers from one image, released at once.
say "scale: $scale_counts containers at once, $scale_passes pass(es)"
for pass in $(seq 1 "$scale_passes"); do
    for n in $scale_counts; do
        sleep "$pause_s"
        result=$("$runner" many "$n" "${cmd_s[@]//%R/$n-$pass}" </dev/null \
            2>>"$work/log/scale.log")
        attached=0
        for f in /sys/block/loop*/loop/backing_file; do
            [ -r "$f" ] && grep -qF "$image" "$f" 2>/dev/null &&
                attached=$((attached + 1))
        done
        left_state=$(find "$state" -mindepth 1 -maxdepth 1 2>/dev/null | wc -l)
        left_cgroups=$(find /sys/fs/cgroup -maxdepth 6 -type d \
            -name "crater-$prefix-s$n-$pass-*" 2>/dev/null | wc -l)
        echo "$n $result $attached $left_state $left_cgroups" \
            >>"$work/data/scale"
    done
done
scale_failures=$(grep -c 'no free loop device' "$work/log/scale.log" || true)

# 7. Where the time goes.
say "tracing"
perf_report=""
if [ "$have_perf" = 1 ]; then
    for side in a b c; do
        [ "$side" = c ] && [ "$have_runc" = 0 ] && continue
        declare -n command="cmd_$side"
        perf stat -r 10 -x, -e task-clock,context-switches,page-faults \
            -o "$work/data/perf-$side" -- "${command[@]//%R/perf}" \
            </dev/null 2>>"$work/log/perf.log" >/dev/null || true
        unset -n command
        perf_report="$perf_report$(awk -F, -v l="${label[$side]}" '
            $3 == "task-clock" { t = $1 } $3 == "context-switches" { c = $1 }
            $3 == "page-faults" { p = $1 }
            END { printf "| %s | %.2f | %d | %d |\n", l, t, c, p }' \
            "$work/data/perf-$side")
"
    done
fi

# categorize TRACE: "CATEGORY MS COUNT" for one `strace -f -tt -T -y` log.
categorize() {
    awk '
    function seconds(t,  p) { split(t, p, ":"); return p[1] * 3600 + p[2] * 60 + p[3] }
    function add(c, d) { ms[c] += d * 1000; n[c]++ }
    {
        pid = $1; now = seconds($2)
        if (first == "") first = now
        last = now
        line = $0; sub(/^[0-9]+ +[0-9:.]+ /, "", line)
        if (line ~ /^\+\+\+ exited/) { exited[pid] = now; next }
        if (line ~ /^---/) next
        if (line ~ /<unfinished \.\.\.>$/) { sub(/ *<unfinished \.\.\.>$/, "", line); held[pid] = line; next }
        if (line ~ /^<\.\.\. [a-z0-9_]+ resumed>/) { sub(/^<\.\.\. [a-z0-9_]+ resumed>/, "", line); line = held[pid] line }
        if (line ~ /^exit_group/) { exiting[pid] = now; next }
        d = 0
        if (match(line, /<[0-9.]+>$/)) d = substr(line, RSTART + 1, RLENGTH - 2) + 0
        name = line; sub(/\(.*/, "", name)
        if (name == "execve") {
            if (!seen_exec++) next
            command_pid = pid; add("execve of the command", d)
        } else if (name == "write" && line ~ /(cgroup\.procs|\/tasks)>/) add("cgroup: the init joins (write 0 to tasks or cgroup.procs)", d)
        else if (name == "rmdir" && line ~ /\/sys\/fs\/cgroup/) add("cgroup: rmdir", d)
        else if (line ~ /\/sys\/fs\/cgroup/) add("cgroup: mkdir, open, write limits, close", d)
        else if (name == "unshare" || name == "setns") add("namespaces: unshare", d)
        else if (name == "ioctl" && line ~ /LOOP_/) add("loop: LOOP_CTL_GET_FREE, LOOP_CONFIGURE", d)
        else if (name == "open" && line ~ /"\/dev\/loop/) add("loop: open /dev/loop*", d)
        else if (name == "mount" && line ~ /"ext4"/) add("mount: the ext4 image", d)
        else if (name ~ /^(mount|umount2|pivot_root)$/) add("mount: proc, sys, dev, masks, pivot_root", d)
        else if (name ~ /^(fork|vfork|clone|clone3)$/) add("fork", d)
        else if (name ~ /nanosleep$/) add("sleep (usleep polls)", d)
        else if (name == "access" && line ~ /backing_file/) add("loop: poll for detach (access backing_file)", d)
        else if (name ~ /^(wait4|waitid|read|poll|ppoll|pselect6|select)$/) add("waiting for another process (wait4, read, poll)", d)
        else add("other system calls", d)
    }
    END {
        if (command_pid != "" && exiting[command_pid] != "" && exited[command_pid] != "")
            add("exit of the container init (namespaces, unmount, loop detach)", exited[command_pid] - exiting[command_pid])
        add("total, first to last line", last - first); n["total, first to last line"] = 1
        for (c in ms) printf "%s\t%.3f\t%d\n", c, ms[c], n[c]
    }' "$1"
}

# slowest TRACE: the 10 slowest calls of one strace log, waits left out.
slowest() {
    awk '
        NR == 1 { next }                # the execve of crater itself
        { pid = $1; line = $0; sub(/^[0-9]+ +[0-9:.]+ /, "", line) }
        line ~ /<unfinished \.\.\.>$/ { sub(/ *<unfinished \.\.\.>$/, "", line); held[pid] = line; next }
        line ~ /^<\.\.\. [a-z0-9_]+ resumed>/ { sub(/^<\.\.\. [a-z0-9_]+ resumed>/, "", line); line = held[pid] line }
        match(line, /<[0-9.]+>$/) {
            d = substr(line, RSTART + 1, RLENGTH - 2) * 1000
            name = line; sub(/\(.*/, "", name)
            if (name ~ /^(wait4|waitid|read|poll|ppoll|pselect6|select)$/) next
            call = substr(line, 1, RSTART - 1); sub(/ += .*/, "", call)
            if (length(call) > 100) call = substr(call, 1, 97) "..."
            printf "%8.3f ms  %s\n", d, call
        }' "$1" | sort -rn | sed -n 1,10p | sed "s|$work|\$WORK|g"
}

# count_calls SIDE PATTERN: calls matching PATTERN per traced run.
count_calls() {
    cat "$work/trace/$1"-* 2>/dev/null |
        awk -v p="$2" -v runs="$traced_runs" '$0 ~ p { n++ } END { printf "%.1f", n / runs }'
}

trace_report=""
scale_trace_report=""
slowest_report=""
summary_report=""
if [ "$have_strace" = 1 ]; then
    for side in a b; do
        declare -n command="cmd_$side"
        for run in $(seq 1 "$traced_runs"); do
            sleep "$pause_s"
            strace -f -tt -T -y -o "$work/trace/$side-$run" \
                "${command[@]//%R/t$run}" </dev/null \
                2>>"$work/log/strace.log" >/dev/null || true
            categorize "$work/trace/$side-$run" | sed "s/^/$side\t/" \
                >>"$work/data/categories"
        done
        unset -n command
    done
    # One table: median milliseconds and calls per run, for (a) and (b).
    trace_report=$(awk -F'\t' '
        { key = $2; v[$1, key, ++count[$1, key]] = $3; calls[$1, key] = $4; keys[key] = 1 }
        function median(s, k,  m, i, j, t, a) {
            m = count[s, k]; if (m == 0) return "-"
            for (i = 1; i <= m; i++) a[i] = v[s, k, i]
            for (i = 2; i <= m; i++) { t = a[i]; for (j = i - 1; j >= 1 && a[j] > t; j--) a[j + 1] = a[j]; a[j + 1] = t }
            return sprintf("%.2f", m % 2 ? a[(m + 1) / 2] : (a[m / 2] + a[m / 2 + 1]) / 2)
        }
        END {
            for (k in keys) printf "| %s | %s | %s | %s | %s |\n", k, median("a", k), calls["a", k] + 0, median("b", k), calls["b", k] + 0
        }' "$work/data/categories" | sort -t'|' -k3 -rn |
        awk '/^\| (total|waiting)/ { last = last $0 "\n"; next } { print } END { printf "%s", last }')
    # The traced run of (a) whose total is the median of the traced runs.
    median_run=$(awk -F'\t' '$1 == "a" && $2 ~ /^total/ { print $3, ++run }' \
        "$work/data/categories" | sort -n |
        awk '{ r[NR] = $2 } END { print r[int((NR + 1) / 2)] }')
    slowest_report=$(slowest "$work/trace/a-$median_run")
    strace -f -c -w -o "$work/data/strace-summary" \
        "${cmd_a[@]//%R/summary}" </dev/null >/dev/null 2>&1 || true
    summary_report=$(sed -n 1,18p "$work/data/strace-summary")

    # Retries and polls when many containers start together.
    strace -f -c -o "$work/data/strace-scale" \
        "$runner" many 50 "${cmd_s[@]//%R/trace}" </dev/null \
        >>"$work/data/scale-traced" 2>>"$work/log/scale.log" || true
    scale_trace_report=$(awk 'NR <= 2 || $NF ~ /^(nanosleep|clock_nanosleep|access|rmdir|ioctl|mount|umount2|write)$/' \
        "$work/data/strace-scale")
fi

load_end=$(cut -d' ' -f1-3 /proc/loadavg)

# 8. The report.
cgroups_layout() {
    local v1 v2
    v1=$(awk '$3 == "cgroup" {n++} END {print n + 0}' /proc/mounts)
    v2=$(awk '$3 == "cgroup2" {print $2}' /proc/mounts | sed -n 1p)
    if [ "$v1" -gt 0 ] && [ -n "$v2" ]; then
        echo "hybrid: $v1 cgroup v1 hierarchies, cgroup v2 at $v2"
    elif [ "$v1" -gt 0 ]; then
        echo "cgroup v1 only: $v1 hierarchies"
    else
        echo "cgroup v2 only, at ${v2:-?}"
    fi
}
met() { awk -v a="$1" -v b="$2" 'BEGIN { print (a != "" && b != "" && a + 0 <= b + 0) ? "**met**" : "**missed**" }'; }

report() {
    local model memory
    model=$(awk -F': ' '/^model name/ {print $2; exit}' /proc/cpuinfo)
    memory=$(awk '/^MemTotal/ {printf "%.1f GiB", $2 / 1048576}' /proc/meminfo)

    echo "# crater benchmark results"
    echo
    echo "Written by \`$command_line\` on $(date -u '+%Y-%m-%d %H:%M UTC')."
    echo "Every number below comes from that one run on the machine described"
    echo "here; rerun the script to replace this file."
    echo
    echo "## Machine"
    echo
    echo "| | |"
    echo "| --- | --- |"
    echo "| CPU | $(nproc) × $model |"
    echo "| memory | $memory |"
    echo "| kernel | $(uname -r) |"
    echo "| cgroups | $(cgroups_layout) |"
    echo "| load average (1, 5, 15 min) | $load_start at the start, $load_end at the end |"
    echo "| crater | $crater_source |"
    [ "$have_runc" = 1 ] &&
        echo "| runc | $(runc --version | sed -n 1p) |"
    echo "| busybox | $("$busybox" | sed -n 1p | sed 's/ multi-call binary\.//') |"
    echo
    if awk -v l="${load_start%% *}" -v c="$(nproc)" 'BEGIN { exit !(l >= c / 2) }'; then
        echo "NOTE: the load average was $load_start at the start on $(nproc)"
        echo "CPUs: other processes were running during this benchmark, so the"
        echo "times below are slower and noisier than on an idle machine."
        echo
    fi
    echo "## Command lines"
    echo
    echo "\$WORK is the benchmark's \`mktemp -d\` folder. The image is made by"
    echo "\`mkimage.sh --busybox -s 64\`; the bundle's rootfs holds Debian's static"
    echo "busybox, its applet links and empty proc, sys, dev and tmp folders, and"
    echo "its config.json is \`runc spec\` with \`terminal\` false and \`args\`"
    echo "[\"/bin/true\"]. %R is the round number, {} the container's number."
    echo
    echo '```'
    for side in $sides; do
        local -n command="cmd_$side"
        echo "${label[$side]}:"
        echo "  $(show "${command[@]}")"
        unset -n command
    done
    echo "scale, N at once:"
    echo "  $(show "${cmd_s[@]}")"
    echo '```'
    echo
    echo "## Start-to-exit time of /bin/true"
    echo
    echo "$warmup warm-up rounds, then $rounds rounds; each round runs every side"
    echo "once, in the order of the table, and each run starts after $pause_ms ms"
    echo "of idle time, except (g), which starts as soon as (b) has exited."
    echo "bench/runner.c measures from fork to reaping with CLOCK_MONOTONIC;"
    echo "CPU is user plus system time of the whole process tree, from wait4(2)."
    echo
    echo "| side | median ms | min ms | p90 ms | CPU ms (median) | failed runs | median / runc | median / floor |"
    echo "| --- | --- | --- | --- | --- | --- | --- | --- |"
    for side in $sides; do
        local vs_runc="n/a"
        [ "$have_runc" = 1 ] && vs_runc=$(ratio "${median[$side]}" "${median[c]}")
        echo "| ${label[$side]} | $(ms "${median[$side]}") | $(ms "${min[$side]}") |" \
            "$(ms "${p90[$side]}") | $(ms "${cpu[$side]}") | ${failed[$side]} of $rounds |" \
            "$vs_runc | $(ratio "${median[$side]}" "${median[d]}") |"
    done
    echo
    echo "## Memory and size"
    echo
    echo "Max RSS of any one process of the tree (wait4(2)'s ru_maxrss, the"
    echo "number GNU time prints as %M). For crater and the floor that process"
    echo "is the container's /bin/true, Debian's static busybox, and not the"
    echo "runtime: for runc it is the runc process itself."
    echo
    echo "| side | max RSS of one process, KiB (median) |"
    echo "| --- | --- |"
    for side in $sides; do
        echo "| ${label[$side]} | ${rss[$side]} |"
    done
    echo
    echo "crater's own processes: bench/runner.c traces crater with ptrace and"
    echo "reads each process's VmHWM (peak resident set) from /proc/PID/status"
    echo "when it exits, or when it calls execve, before the command replaces"
    echo "it. The largest value of 3 runs is shown. Pages of the static binary"
    echo "and copy-on-write pages after fork are counted in every process that"
    echo "maps them, so the sum is an upper bound."
    echo
    echo "| crater process | image run, KiB | bundle run, KiB |"
    echo "| --- | --- | --- |"
    echo "| parent (\`crater run\`) | $(peak_of a parent) | $(peak_of b parent) |"
    echo "| cleanup watcher | $(peak_of a child crater-watcher) | $(peak_of b child crater-watcher) |"
    echo "| container init, before it executes the command | $(peak_of a child-before-exec) | $(peak_of b child-before-exec) |"
    echo "| sum of one run | $(peak_sum a) | $(peak_sum b) |"
    echo "| sum of one run, binary's file pages counted once (estimate) | $(peak_unique a) | $(peak_unique b) |"
    echo
    echo "Of the parent's peak in the image run, $(awk '$1 == "a" && $3 == "parent" {a = $6; f = $7} END {print a + 0}' "$work/data/peak") KiB were"
    echo "anonymous memory (stack, data, bss, heap) and $(awk '$1 == "a" && $3 == "parent" {a = $6; f = $7} END {print f + 0}' "$work/data/peak") KiB pages of"
    echo "the crater binary (RssAnon and RssFile of the last run)."
    echo
    echo "| binary | bytes | KiB |"
    echo "| --- | --- | --- |"
    echo "| crater (static, musl, stripped) | $crater_size | $(awk -v b="$crater_size" 'BEGIN { printf "%.1f", b / 1024 }') |"
    [ -n "$runc_size" ] &&
        echo "| runc ($(command -v runc)) | $runc_size | $(awk -v b="$runc_size" 'BEGIN { printf "%.1f", b / 1024 }') |"
    if [ -n "$size_report" ]; then
        echo
        echo "Where crater's bytes go, from the linker map of the same build"
        echo "(code, read-only data, data and unwind tables; the rest of the file"
        echo "is ELF headers and page alignment):"
        echo
        echo "| part | bytes |"
        echo "| --- | --- |"
        echo "$size_report" | awk '
            $2 == "crater.c" { print "| crater.c | " $1 " |"; next }
            $2 == "libc" { libc += $1; if (++k <= 10) top = top sprintf("| libc: %s | %d |\n", $3, $1); next }
            { other += $1 }
            END {
                printf "| musl libc, all members | %d |\n", libc
                printf "%s", top
                printf "| startup files | %d |\n", other
            }'
    fi
    echo
    echo "## Scale: read-only containers from one image, started at once"
    echo
    echo "bench/runner.c forks N copies of the scale command, which wait on a"
    echo "pipe until all are forked and then execute together. Total is from"
    echo "that moment to the last exit; per container is total / N. Latency is"
    echo "each container's own time from the start to its exit. Loop devices"
    echo "left attached are counted from /sys/block/loop*/loop/backing_file"
    echo "right after the last exit. $scale_passes pass(es); medians of the passes,"
    echo "sums of failures and leftovers."
    echo
    echo "| N | total ms | per container ms | median latency ms | max latency ms | failed | loop devices left attached | state dirs left | cgroups left |"
    echo "| --- | --- | --- | --- | --- | --- | --- | --- | --- |"
    for n in $scale_counts; do
        awk -v n="$n" '$1 == n' "$work/data/scale" | sort -k2 -n | awk -v n="$n" '
            { t[NR] = $2; f += $3; m[NR] = $4; x[NR] = $5; l += $6; s += $7; g += $8 }
            END {
                k = int((NR + 1) / 2)
                printf "| %d | %.1f | %.2f | %.1f | %.1f | %d of %d | %d | %d | %d |\n",
                    n, t[k] / 1000, t[k] / 1000 / n, m[k] / 1000, x[k] / 1000, f, n * NR, l, s, g
            }'
    done
    if [ "$scale_failures" -gt 0 ]; then
        echo
        echo "$scale_failures container(s) failed with \"no free loop device after 20"
        echo "attempts\": crater's attach_loop retries LOOP_CTL_GET_FREE 20 times,"
        echo "and with many containers starting at once other crater processes take"
        echo "the free device each time."
    fi
    echo
    echo "## Targets"
    echo
    local runc_ratio="" per1 per100 peak_max failed100 started100
    [ "$have_runc" = 1 ] && runc_ratio=$(ratio "${median[b]}" "${median[c]}")
    per1=$(awk '$1 == 1' "$work/data/scale" | sort -k2 -n | awk '{t[NR] = $2} END {print t[int((NR + 1) / 2)] / 1000}')
    per100=$(awk '$1 == 100' "$work/data/scale" | sort -k2 -n | awk '{t[NR] = $2} END {print t[int((NR + 1) / 2)] / 1000 / 100}')
    failed100=$(awk '$1 == 100 {f += $3; n += 100} END {print f + 0}' "$work/data/scale")
    started100=$(awk '$1 == 100 {n += 100} END {print n + 0}' "$work/data/scale")
    peak_max=$(awk '$3 != "" {if ($5 > m) m = $5} END {print m + 0}' "$work/data/peak")
    echo "The per-container time counts failed containers too, and a failed"
    echo "container exits early, so it is only comparable when none failed."
    echo
    echo "| target | measured | |"
    echo "| --- | --- | --- |"
    if [ -n "$runc_ratio" ]; then
        echo "| crater's start-to-exit time at most 0.4 × runc's, same bundle | (b) / (c) = $runc_ratio | $(met "$runc_ratio" 0.4) |"
    else
        echo "| crater's start-to-exit time at most 0.4 × runc's, same bundle | runc is not installed | **not measured** |"
    fi
    echo "| peak memory under 1 MiB (1024 KiB), per crater process | largest: $peak_max KiB | $(met "$peak_max" 1023) |"
    echo "| peak memory under 1 MiB, all crater processes of one run, shared pages counted in each process (upper bound) | $(peak_sum a) KiB (image), $(peak_sum b) KiB (bundle) | $(met "$(peak_sum a)" 1023) (image), $(met "$(peak_sum b)" 1023) (bundle) |"
    echo "| the same, the binary's file pages counted once (estimate) | $(peak_unique a) KiB (image), $(peak_unique b) KiB (bundle) | $(met "$(peak_unique a)" 1023) (image), $(met "$(peak_unique b)" 1023) (bundle) |"
    echo "| static binary under 100 KiB (102400 bytes) | $crater_size bytes | $(met "$crater_size" 102399) |"
    echo "| per-container time at 100 at once ≤ 1.5 × at 1 | $(awk -v a="$per100" -v b="$per1" 'BEGIN { printf "%.2f ms vs %.2f ms: %.2f ×", a, b, a / b }') | $(met "$per100" "$(awk -v b="$per1" 'BEGIN { print 1.5 * b }')") |"
    echo "| every container starts, 100 at once | $failed100 of $started100 failed | $(met "$failed100" 0) |"
    echo "| no loop device left attached after the scale test | $(awk '{l += $6} END {print l + 0}' "$work/data/scale") | $(met "$(awk '{l += $6} END {print l + 0}' "$work/data/scale")" 0) |"
    echo
    echo "## Where the time goes"
    echo
    echo "- CPU: crater's image run used $(ms "${cpu[a]}") ms of CPU (user +"
    echo "  system, median) of its $(ms "${median[a]}") ms; the rest of the time"
    echo "  its processes were blocked in the kernel or waiting for the CPU."
    echo "- cgroups: the same image run without cgroups ((e), --no-cgroups) took"
    echo "  $(ms "${median[e]}") ms instead of $(ms "${median[a]}") ms (medians, alternated runs)."
    echo "- cgroup moves: moving a process through cgroup.procs, as runc does,"
    echo "  takes cgroup_threadgroup_rwsem for writing (cgroup_attach_lock() in"
    echo "  the kernel's kernel/cgroup/cgroup.c), and percpu_down_write() first"
    echo "  waits for an RCU grace period unless a writer took the lock moments"
    echo "  before. crater's init joins its cgroup by writing 0 to tasks on"
    echo "  cgroup v1, a thread moving itself, for which recent kernels skip"
    echo "  that lock. The bundle run that starts as soon as the one"
    echo "  before it has exited ((g)) took $(ms "${median[g]}") ms, against $(ms "${median[b]}") ms after"
    echo "  an idle pause ((b))."
    echo "- writable image: mounted read-only ((f), --read-only) the run took"
    echo "  $(ms "${median[f]}") ms instead of $(ms "${median[a]}") ms; the bundle, a bind-mounted"
    echo "  directory, took $(ms "${median[b]}") ms."
    if [ -n "$trace_report" ]; then
        echo
        echo "\`strace -f -tt -T -y\` of $traced_runs runs of (a) and of (b): the time"
        echo "spent in each group of system calls, median of the runs, and the"
        echo "number of calls in one run. strace stops the process at every call,"
        echo "which adds tens of microseconds to each, and calls of different"
        echo "processes overlap, so the rows do not add up to the total. \"exit of"
        echo "the container init\" is from its exit_group to its exit: the kernel"
        echo "tears down its namespaces there, and with them the mount of the"
        echo "image and the loop device."
        echo
        echo "| group | (a) image, ms | calls | (b) bundle, ms | calls |"
        echo "| --- | --- | --- | --- | --- |"
        echo "$trace_report"
    fi
    if [ "$have_strace" = 1 ]; then
        echo
        echo "Polls, sleeps and retries, calls per traced run of (a) and (b):"
        echo
        echo "- sleeps (nanosleep, which usleep calls): $(count_calls a 'nanosleep\\(') and $(count_calls b 'nanosleep\\(')"
        echo "- polls for the loop device to detach (access of its backing_file): $(count_calls a 'access\\(.*backing_file')"
        echo "- cgroup rmdir failing with EBUSY (retried after 10 ms): $(count_calls a 'rmdir\\(\"/sys/fs/cgroup.*EBUSY') and $(count_calls b 'rmdir\\(\"/sys/fs/cgroup.*EBUSY')"
        echo "- LOOP_CONFIGURE failing with EBUSY (device taken, retried): $(count_calls a 'LOOP_CONFIGURE.*EBUSY')"
    fi
    if [ -n "$scale_trace_report" ]; then
        echo
        echo "\`strace -f -c\` of the scale command with 50 containers at once,"
        echo "of which $(awk '{print $2}' "$work/data/scale-traced") failed. Errors are failed calls, such as"
        echo "LOOP_CONFIGURE on a device that another container took first, rmdir"
        echo "of a cgroup that is still busy, or access() of a path that is absent:"
        echo
        echo '```'
        echo "$scale_trace_report"
        echo '```'
    fi
    if [ -n "$slowest_report" ]; then
        echo
        echo "The 10 slowest system calls of the traced run of (a) with the median"
        echo "total, waits for other processes left out:"
        echo
        echo '```'
        echo "$slowest_report"
        echo '```'
    fi
    if [ -n "$summary_report" ]; then
        echo
        echo "\`strace -f -c -w\` of one run of (a), wall time per system call,"
        echo "summed over crater's processes (waits included):"
        echo
        echo '```'
        echo "$summary_report"
        echo '```'
    fi
    if [ -n "$perf_report" ]; then
        echo
        echo "\`perf stat -r 10 -e task-clock,context-switches,page-faults\`:"
        echo
        echo "| side | task-clock ms | context switches | page faults |"
        echo "| --- | --- | --- | --- |"
        printf '%s' "$perf_report"
    fi
    [ "$have_strace" = 1 ] ||
        printf '\nstrace is not installed (apt-get install strace): no trace.\n'
}

if [ "$output" = - ]; then
    report
else
    report >"$output.tmp"
    mv "$output.tmp" "$output"
    say "wrote $output"
fi
