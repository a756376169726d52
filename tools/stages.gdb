# tools/stages.gdb - follow `crater run` through gdb, one stop per stage.
#
#   make gdb
#   gdb -q -x tools/stages.gdb --args ./crater-debug run --image IMG /bin/sh
#
# Type `run`, then `continue` at each stop. Each stop prints one line:
# what has just happened, in which process, and a command that shows it
# from another terminal. With $auto set to 1, gdb prints the same lines
# without stopping, which batch mode needs:
#
#   gdb -batch -x tools/stages.gdb -ex 'set $auto = 1' -ex run --args ...
#
# Written for gdb 13.1 with Python, and tested with it.
#
# The stages, in the order crater runs them (child_main and
# create_container). Each stop is at the return of the function:
#
#   1/8  cgroup joined            join_cgroup          container init
#   2/8  namespaces created       create_namespaces    container init
#   3/8  loop device attached     attach_loop          container init
#   4/8  ext4 mounted             mount_root           container init
#   5/8  /proc /sys /dev mounted  mount_filesystems    container init
#   6/8  pivot_root done          pivot_into_root      container init
#   7/8  lo up                    bring_up_loopback    container init
#   8/8  command executed         catch exec           the command's process
#
# crater (the parent) writes the cgroup's limits before it forks the
# init, which then joins the cgroup first. On cgroup v2 clone3 creates
# the init inside its cgroup, so there is no stage 1 there, nor with
# --no-cgroups. A run without an image (a bundle with a directory root)
# skips stage 3, and one that keeps the host's network namespace skips
# stage 7.
#
# crater runs as three processes (four with --init), and gdb treats each
# one differently:
#   - The cleanup watcher, forked first, is detached at the fork. It runs
#     free, so when gdb quits and kills crater, the watcher removes the
#     cgroup and the state directory as it does after any crash.
#   - The container's init, forked next, stays attached (detach-on-fork
#     off), and schedule-multiple makes `continue` resume it together
#     with crater, which waits for it on a pipe.
#   - Once the command is executed, gdb detaches the container's other
#     processes (crater's init under --init). With $auto it detaches the
#     command too, so that its exit does not stop gdb. Interactive use
#     keeps the command attached until it exits, because gdb sets up the
#     terminal for crater's process group when it resumes crater, and
#     would undo the setup of a shell that already runs detached. So
#     gdb stops once more when the command exits, and `continue` lets
#     crater clean up and exit.

# gdb reads the program that a process executes. For a process in another
# mount namespace, gdb 13.1 keeps a helper process in that namespace and
# the file open until gdb exits, and with them the container's mounts and
# loop device, so a second `run` finds the image locked. Below /dev/null
# no file can exist, so gdb reads none and only warns that it could not
# load the symbols of the container's command.
set sysroot /dev/null
set follow-fork-mode parent
set detach-on-fork on
set schedule-multiple on

# $auto: set it to 1 to run through every stage without stopping.
if $_isvoid($auto)
  set $auto = 0
end

python
import os

import gdb

# The CLONE_NEW* flags (sched.h) and their names in /proc/PID/ns.
NAMESPACE_FLAGS = (
    (0x00020000, "mnt"),
    (0x04000000, "uts"),
    (0x08000000, "ipc"),
    (0x40000000, "net"),
    (0x20000000, "pid"),
    (0x02000000, "cgroup"),
)

# The limit files crater writes: cgroup v2 names, then v1 names.
LIMIT_FILES = ("pids.max", "memory.max", "cpu.max", "memory.limit_in_bytes",
               "cpu.cfs_quota_us")


def auto_continue():
    """Return whether $auto is set, so that stages print but do not stop."""
    value = gdb.convenience_variable("auto")
    return value is not None and int(value) != 0


def read_container(address):
    """Read crater's struct container at ADDRESS in the selected process."""
    pointer = gdb.parse_and_eval("(struct container *) %d" % address)
    return pointer.dereference()


def inside_pid(pid):
    """Return PID's number in its own PID namespace, from NSpid."""
    try:
        with open("/proc/%d/status" % pid) as status:
            for line in status:
                if line.startswith("NSpid:"):
                    return line.split()[-1]
    except OSError:
        pass
    return "?"


def command_line(pid):
    """Return the command line of PID, arguments separated by spaces."""
    try:
        with open("/proc/%d/cmdline" % pid, "rb") as cmdline:
            words = cmdline.read().split(b"\0")
    except OSError:
        return "?"
    return " ".join(word.decode(errors="replace") for word in words if word)


def describe_namespaces(session, container):
    # The init unshares its cgroup namespace later, after stage 6.
    flags = int(container["unshare_flags"])
    names = " ".join(name for flag, name in NAMESPACE_FLAGS
                     if flags & flag and name != "cgroup")
    return ("PID %d (PID %s inside) has new namespaces: %s. Compare: "
            "ls -l /proc/%d/ns /proc/%d/ns"
            % (session.init_pid, inside_pid(session.init_pid), names,
               session.init_pid, session.crater_pid))


def describe_loop(session, container):
    device = container["loop_device"].string()
    return ("%s is bound to %s. See: losetup -a, or cat "
            "/sys/block/%s/loop/backing_file"
            % (device, container["root_path"].string(),
               device[len("/dev/"):]))


def describe_root_mount(session, container):
    rootfs = container["state_dir"].string() + "/rootfs"
    source = (container["loop_device"].string()
              or container["root_path"].string() + " (a bind mount)")
    return ("%s is mounted on %s in the mount namespace of PID %d only. "
            "Compare: grep %s /proc/%d/mountinfo /proc/self/mountinfo"
            % (source, rootfs, session.init_pid, rootfs, session.init_pid))


def describe_filesystems(session, container):
    rootfs = container["state_dir"].string() + "/rootfs"
    return ("proc, sysfs, the /dev tmpfs and the other mounts are below "
            "%s. See: grep %s/ /proc/%d/mountinfo"
            % (rootfs, rootfs, session.init_pid))


def describe_pivot(session, container):
    root = ("the image" if container["loop_device"].string()
            else container["root_path"].string())
    return ("%s is now / for PID %d and the host's root is unmounted. "
            "See: ls /proc/%d/root/ and cat /proc/%d/mountinfo"
            % (root, session.init_pid, session.init_pid, session.init_pid))


def describe_cgroup(session, container):
    init_pid = session.init_pid
    leaves = [container["leaves"][k].string()
              for k in range(int(container["nleaves"]))]
    files = [leaf + "/" + name for leaf in leaves for name in LIMIT_FILES
             if os.path.exists(leaf + "/" + name)]
    return ("PID %d (PID %s inside) moved itself into %s, whose limits "
            "crater (PID %d) wrote. See: cat /proc/%d/cgroup %s"
            % (init_pid, inside_pid(init_pid), " ".join(leaves),
               session.crater_pid, init_pid, " ".join(files)))


def describe_loopback(session, container):
    return ("lo is up in the network namespace of PID %d. See: nsenter "
            "-t %d -n ip link show lo"
            % (session.init_pid, session.init_pid))


class Stage:
    """A step of `crater run`: the function that does it, and its line."""

    def __init__(self, number, title, function, describe):
        self.number = number
        self.title = title
        self.function = function
        self.describe = describe
        self.entry = None               # the breakpoint at the entry

    def line(self, text):
        return "[stage %d/8] %s: %s" % (self.number, self.title, text)


STAGES = (
    Stage(1, "cgroup joined", "join_cgroup", describe_cgroup),
    Stage(2, "namespaces created", "create_namespaces",
          describe_namespaces),
    Stage(3, "loop device attached", "attach_loop", describe_loop),
    Stage(4, "ext4 mounted", "mount_root", describe_root_mount),
    Stage(5, "/proc /sys /dev mounted", "mount_filesystems",
          describe_filesystems),
    Stage(6, "pivot_root done", "pivot_into_root", describe_pivot),
    Stage(7, "lo up", "bring_up_loopback", describe_loopback),
)
EXECUTED = Stage(8, "command executed", None, None)


class StageReturn(gdb.FinishBreakpoint):
    """Stops where a stage's function returns, and prints the stage."""

    def __init__(self, session, stage):
        super().__init__(gdb.newest_frame(), internal=True)
        self.silent = True
        self.session = session
        self.stage = stage

    def stop(self):
        session = self.session
        if self.stage.number <= 2 and not session.init_pid:
            # Stage 1, or 2 where there is no stage 1: the first in the init.
            session.init_pid = gdb.selected_inferior().pid
        try:
            container = read_container(session.container)
            text = self.stage.describe(session, container)
        except Exception as error:      # a failed line must not stop crater
            text = "PID %d (details unavailable: %s)" % (
                gdb.selected_inferior().pid, error)
        print(self.stage.line(text))
        return not auto_continue()

    def out_of_scope(self):
        print(self.stage.line("not done: %s did not return because its "
                              "process ended (crater printed why above)"
                              % self.stage.function))


class WatcherReturn(gdb.FinishBreakpoint):
    """Keeps every process forked after the cleanup watcher attached."""

    def __init__(self):
        super().__init__(gdb.newest_frame(), internal=True)
        self.silent = True

    def stop(self):
        gdb.set_parameter("detach-on-fork", False)
        return False


class Session:
    """What one run has shown so far: the PIDs and the stages reached."""

    def __init__(self):
        self.crater_pid = 0
        self.crater_inferior = 0
        self.init_pid = 0
        # The address of crater's struct container: the same in every
        # process, since the init is a fork of crater.
        self.container = 0
        self.watcher_entry = None
        self.exec_catchpoint = 0

    def reset(self):
        """Prepare for a new run: every stage stops once again."""
        gdb.set_parameter("detach-on-fork", True)
        self.crater_pid = self.crater_inferior = self.init_pid = 0
        self.container = 0
        self.watcher_entry.enabled = True
        for stage in STAGES:
            stage.entry.enabled = True
        gdb.execute("enable %d" % self.exec_catchpoint)
        finished = [inferior.num for inferior in gdb.inferiors()
                    if inferior.pid == 0
                    and inferior != gdb.selected_inferior()]
        if finished:
            gdb.execute("remove-inferiors %s"
                        % " ".join(map(str, finished)))

    def watcher_forking(self):
        """At the entry of watch_container(c), in crater (the parent)."""
        self.watcher_entry.enabled = False
        inferior = gdb.selected_inferior()
        self.crater_pid = inferior.pid
        self.crater_inferior = inferior.num
        self.container = int(gdb.selected_frame().read_var("c"))
        WatcherReturn()

    def enter(self, index):
        """At the entry of a stage's function: stop at its return."""
        STAGES[index].entry.enabled = False
        StageReturn(self, STAGES[index])

    def command_executed(self):
        """At the exec catchpoint: the container's command runs now."""
        gdb.execute("disable %d" % self.exec_catchpoint)
        command = gdb.selected_inferior()
        print(EXECUTED.line("PID %d (PID %s inside) now runs %s. See: cat "
                            "/proc/%d/cmdline, and ls -l /proc/%d/exe"
                            % (command.pid, inside_pid(command.pid),
                               command_line(command.pid), command.pid,
                               command.pid)))
        if auto_continue():
            self.detach_container(keep=None)
            self.select_crater()
        else:
            self.detach_container(keep=command)

    def detach_container(self, keep):
        """Detach the container's processes, all but KEEP."""
        container = [inferior.num for inferior in gdb.inferiors()
                     if inferior.pid != 0 and inferior != keep
                     and inferior.num != self.crater_inferior]
        if container:
            gdb.execute("detach inferiors %s"
                        % " ".join(map(str, container)))

    def select_crater(self):
        """Select crater's process, if the selected one has exited."""
        if gdb.selected_inferior().pid != 0:
            return
        for inferior in gdb.inferiors():
            if inferior.num == self.crater_inferior and inferior.pid != 0:
                inferior.threads()[0].switch()

    def container_exited(self, event):
        """Tell an interactive user how to go on after the command exits."""
        # A detached process gives an exited event without exit_code.
        if (auto_continue() or event.inferior.num == self.crater_inferior
                or not hasattr(event, "exit_code")):
            return
        print("A process of the container has exited. Type continue: crater "
              "(PID %d) then removes the container and exits."
              % self.crater_pid)


crater_stages = Session()
gdb.events.exited.connect(crater_stages.container_exited)
end

# Each breakpoint is by function name. Its commands set the stop at the
# function's return, because the gdb manual says that a Python
# Breakpoint.stop method must not add breakpoints. They also disable the
# breakpoint, so that a stage stops once even when another process calls
# the same function.
python
crater_stages.watcher_entry = gdb.Breakpoint("watch_container")
crater_stages.watcher_entry.commands = (
    "silent\n"
    "python crater_stages.watcher_forking()\n"
    "continue")
for index, stage in enumerate(STAGES):
    stage.entry = gdb.Breakpoint(stage.function)
    stage.entry.commands = ("silent\n"
                            "python crater_stages.enter(%d)\n"
                            "continue" % index)
end

catch exec
commands
  silent
  python crater_stages.command_executed()
  if $auto
    continue
  end
end
python crater_stages.exec_catchpoint = int(gdb.convenience_variable("bpnum"))

define hook-run
  python crater_stages.reset()
end

# After the container's command has exited, `continue` resumes crater.
define hook-continue
  python crater_stages.select_crater()
end

echo tools/stages.gdb: type run, then continue at each stage.\n
