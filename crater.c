/*
 * crater - a container runtime to learn from.
 *
 * A container is an ordinary Linux process that the kernel shows its own
 * view of the machine. Namespaces give it its own host name (UTS), process
 * numbers (PID), mount table (mount), network stack (network) and System V
 * IPC objects (IPC). A root file system of its own comes from an ext4 disk
 * image attached to a loop device and made the root with pivot_root(2).
 * Cgroups limit how many processes, how much memory and how much CPU time
 * it may use. Nothing here is a security boundary: crater is for learning.
 *
 * What `crater run /bin/echo hi` does, in order. The parent stays in the
 * host's namespaces; the child becomes PID 1 of the container.
 *
 *   parent                               child
 *   1  read the options
 *   2  fork the cleanup watcher,
 *      which makes ROOT/ID/; open and
 *      lock the image
 *   3  cgroup: mkdir, write limits
 *      "Parent: Cgroup limits ..."
 *   4  unshare(CLONE_NEWPID), fork  ---> 5  join the cgroup (on cgroup v2,
 *                                           clone3 forks it inside)
 *                                        6  unshare mount, UTS, IPC, net
 *                                           "Successfully isolated ..."
 *                                        7  make / private, attach the image
 *                                           to a loop device, mount ext4
 *                                           "Child: Attaching ..."
 *                                        8  mount /proc, /sys, /dev, ...
 *                                        9  pivot_root into the image
 *                                        10 bring up lo, set the host name
 *                                        11 open ROOT/ID/exec.fifo, then
 *   12 write ROOT/ID/state.json   <---      report ready and wait on it
 *   13 write to exec.fifo         --->   14 execve the command
 *                                           "Child: Environment isolated..."
 *   15 wait, forward signals, clean up
 *
 * The quoted words are the progress lines each step prints. `crater
 * create` stops after step 12 and `crater start` does step 13, as runc
 * does; `crater run` does all of it. The same functions serve an ext4
 * image given on the command line and an OCI bundle's config.json.
 *
 * On a first reading, sections 1 to 7 tell the whole story; section 9,
 * the JSON parser, can wait.
 *
 * Contents, in reading order:
 *   1. Commands: main, run, create, start, state, kill, delete, list, exec
 *   2. Creating a container: the parent's side and the cleanup watcher
 *   3. The container's side: namespaces, root, mounts, exec
 *   4. Loop devices and the root file system
 *   5. Mounts and /dev
 *   6. Cgroups
 *   7. The loopback interface, through rtnetlink
 *   8. The state directory
 *   9. config.json: a small JSON parser and the OCI fields crater reads
 *  10. Errors and narration
 */
#define _GNU_SOURCE
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <net/if.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/sysmacros.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "syscalls.h"

#define CRATER_VERSION "0.1.0"
#define OCI_VERSION    "1.0.2" /* the runtime spec crater follows */

extern char **environ;

/*
 * The container as crater models it: everything the options or config.json
 * ask for, plus the runtime facts that the parent learns while creating it.
 * The strings point into argv or into the parsed config.json, both of
 * which live until crater exits, so nothing here is ever freed.
 */
#define MAX_LIST        64 /* mounts, env entries, paths ... */
#define MAX_CGROUP_DIRS 16

struct mount_entry {
    const char *source;
    const char *destination;   /* absolute, inside the container */
    const char *type;          /* "proc", "tmpfs", "bind", ... */
    unsigned long flags;       /* MS_* flags for mount(2) */
    unsigned long propagation; /* MS_PRIVATE, MS_SLAVE ... or 0 */
    char data[256];            /* fs-specific options, "mode=755" */
};

struct namespace_join {
    int type;         /* CLONE_NEW* */
    const char *path; /* /proc/PID/ns/... to setns() into */
};

struct container {
    /* What to run and where. */
    char id[1025];
    const char *bundle;    /* absolute path */
    const char *root_path; /* absolute: directory or ext4 image */
    int root_is_image;
    int readonly;
    const char *hostname; /* NULL: keep the inherited one */
    const char *args[MAX_LIST + 1];
    const char *env[MAX_LIST + 1];
    const char *cwd;
    uid_t uid;
    gid_t gid;
    gid_t groups[MAX_LIST];
    int ngroups;
    int init;           /* a small init as PID 1, --init */
    int born_in_cgroup; /* set when clone3 created the init in its cgroup */
    int terminal;       /* process.terminal */

    /* How to isolate it. */
    int unshare_flags; /* CLONE_NEW* to create */
    struct namespace_join joins[8];
    int njoins;
    struct mount_entry mounts[MAX_LIST];
    int nmounts;
    const char *masked[MAX_LIST]; /* hidden: /dev/null or empty tmpfs */
    int nmasked;
    const char *readonly_paths[MAX_LIST];
    int nreadonly;
    const char *annotations[MAX_LIST][2];
    int nannotations;

    /* Cgroup limits; -1 means no limit. */
    int use_cgroups;
    const char *cgroups_path; /* NULL: crater-ID */
    long long pids_limit;
    long long memory_limit; /* bytes */
    long long cpu_quota;    /* microseconds per period */
    long long cpu_period;   /* microseconds */
    long long cpu_shares;

    /* Runtime facts. */
    char state_dir[PATH_MAX]; /* ROOT/ID */
    const char *pid_file;
    int detach;           /* create: outlive crater */
    pid_t pid;            /* init process, host PID */
    int image_fd;         /* the image, opened by the parent */
    char loop_device[32]; /* "/dev/loop3" or "" */
    char cgroup_dirs[MAX_CGROUP_DIRS][PATH_MAX]; /* to rmdir, leaf first */
    int ncgroup_dirs;
    char leaves[3][PATH_MAX]; /* one per hierarchy, for exec */
    int nleaves;
};

/* Global settings, from the command line. */
static int verbosity = 1; /* 0: -q, 1: progress, 2: -v */
static const char *state_root = "/run/crater";
static int error_status = 1;     /* 125 for run, 1 elsewhere */
static const char *step = "run"; /* the step named in errors */

/* The cleanup watcher; see watch_container(). Set in the parent only. */
static pid_t watcher_pid;
static int watcher_fd = -1;

/* Section 1: commands. */
static int cmd_run(int argc, char **argv);
static int cmd_create(int argc, char **argv);
static int cmd_start(int argc, char **argv);
static int cmd_state(int argc, char **argv);
static int cmd_kill(int argc, char **argv);
static int cmd_delete(int argc, char **argv);
static int cmd_list(int argc, char **argv);
static int cmd_exec(int argc, char **argv);
static void usage(FILE *out);
static const char *absolute_root(const char *root);
static const char *option_value(int argc, char **argv, int *i,
                                const char *name);
static void set_defaults(struct container *c);
static void check_id(const char *id);

/* Section 2: creating a container. */
static void create_container(struct container *c);
static void start_container(struct container *c);
static void forward_signals(pid_t pid);
static int wait_container(struct container *c);
static void destroy_container(struct container *c);
static void watch_container(struct container *c);
static void disarm_watcher(void);

/* Section 3: the container's side. */
static void child_main(struct container *c, int from_parent, int to_parent);
static void create_namespaces(struct container *c);
static void join_namespace(const struct namespace_join *join);
static void exec_command(struct container *c);
static void run_init(struct container *c);

/* Section 4: loop devices and the root file system. */
static void mount_root(struct container *c, const char *target);
static void lock_image(struct container *c, int fd);
static void pivot_into_root(const char *new_root);

/* Section 5: mounts and /dev. */
static void mount_filesystems(struct container *c, const char *rootfs);
static void make_dev(const char *rootfs);
static void mask_paths(struct container *c);
static void add_default_mounts(struct container *c);

/* Section 6: cgroups. */
static void plan_cgroup(struct container *c);
static void apply_cgroup_limits(struct container *c);
static void join_cgroup(char leaves[][PATH_MAX], int nleaves);
static pid_t fork_init(struct container *c);
static void remove_cgroup(struct container *c);
static int cgroup_oom_killed(void);

/* Section 7: loopback. */
static void bring_up_loopback(void);

/* Section 8: the state directory. */
static void write_state(struct container *c);
static int read_state(const char *id, struct container *c,
                      unsigned long long *starttime, char *created,
                      size_t created_len);
static char state_damage[320]; /* the reason read_state() returned -2 */
static const char *container_status(struct container *c,
                                    unsigned long long starttime);
static void remove_state_dir(const char *dir);
static void state_path(char *out, size_t len, const char *id, const char *file);

/* Section 9: config.json, and the tree its parser builds. */
enum json_type {
    JSON_NULL,
    JSON_BOOL,
    JSON_NUMBER,
    JSON_STRING,
    JSON_ARRAY,
    JSON_OBJECT
};

struct json {
    enum json_type type;
    const char *key;    /* member name inside an object */
    char *text;         /* string, number digits, "true" */
    struct json *child; /* first element or member */
    struct json *next;  /* next sibling */
};

static void load_config(struct container *c, const char *bundle);

/* Section 10: errors and narration. */
static long check(long rc, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static long trace(long rc, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void narrate(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void die(const char *fmt, ...)
    __attribute__((noreturn, format(printf, 1, 2)));
static void fail(const char *fmt, ...)
    __attribute__((noreturn, format(printf, 1, 2)));
static void usage_error(const char *fmt, ...)
    __attribute__((noreturn, format(printf, 1, 2)));
static int format(char *buf, size_t size, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int vformat(char *buf, size_t size, const char *fmt, va_list ap);
static void print(FILE *out, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void vprint(FILE *out, const char *fmt, va_list ap);
static int split_fields(char *line, char **fields, int max);
static int split_mountinfo(char *line, char **root, char **point, char **type,
                           char **super);
static int write_file(const char *path, const char *value);
static int read_file(const char *path, char *buf, size_t len);
static char *read_text_file(const char *path, const char **problem);
static void make_dirs(const char *path, mode_t mode);

/*
 * Section 1: commands.
 *
 *   crater [--root DIR] [-v|-q] COMMAND [OPTIONS] [ARGS]
 *
 * The lifecycle commands follow runc: create, start, state, kill, delete
 * and list work on a container ID, exit 0 on success and 1 on any error.
 * run is also the default command: `crater`, `crater --image x.img` and
 * `crater /bin/echo hi` all mean `crater run ...`.
 */
static const struct command {
    const char *name;
    int (*function)(int argc, char **argv);
    const char *usage;
} commands[] = {
    {"run", cmd_run, "[OPTIONS] [--] [COMMAND [ARG...]]  or  run [-b DIR] ID"},
    {"create", cmd_create,
     "[--bundle DIR] [--pid-file FILE] [--init] [--no-cgroups] ID"},
    {"start", cmd_start, "ID"},
    {"state", cmd_state, "ID"},
    {"kill", cmd_kill, "ID [SIGNAL]   (default KILL)"},
    {"delete", cmd_delete, "[--force] ID"},
    {"list", cmd_list, "[--format table|json]"},
    {"exec", cmd_exec, "[--env NAME=VALUE] [--cwd DIR] ID COMMAND [ARG...]"},
};

#define COUNT(array) (sizeof(array) / sizeof((array)[0]))

#ifndef CRATER_FUZZ
int main(int argc, char **argv)
{
    int i;

    /*
     * With 0, 1 or 2 closed, the next file crater opens would take that
     * number, and a message meant for stderr would be written into it,
     * the disk image even. /dev/null fills the gaps first.
     */
    for (int fd = 0; fd < 3; fd++)
        if (fcntl(fd, F_GETFD) < 0 && open("/dev/null", O_RDWR) != fd)
            return 125;

    /* A write to a pipe whose reader has gone fails with EPIPE instead. */
    signal(SIGPIPE, SIG_IGN);

    /* Global options come before the command. */
    for (i = 1; i < argc; i++) {
        const char *value;

        if (strcmp(argv[i], "-v") == 0 || strcmp(argv[i], "--verbose") == 0)
            verbosity = 2;
        else if (strcmp(argv[i], "-q") == 0 || strcmp(argv[i], "--quiet") == 0)
            verbosity = 0;
        else if ((value = option_value(argc, argv, &i, "--root")))
            state_root = absolute_root(value);
        else if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0)
            usage(stdout), exit(0);
        else if (strcmp(argv[i], "--version") == 0)
            print(stdout, "crater version %s\nspec: %s\n", CRATER_VERSION,
                  OCI_VERSION),
                exit(0);
        else
            break;
    }

    /* No command, an option or a path: the command is run. */
    if (i == argc || argv[i][0] == '-' || argv[i][0] == '/')
        return cmd_run(argc - i + 1, argv + i - 1);

    if (strcmp(argv[i], "help") == 0) {
        usage(stdout);
        return 0;
    }
    /* `crater create --help` and the like print the one help text. */
    if (i + 1 < argc && (strcmp(argv[i + 1], "--help") == 0 ||
                         strcmp(argv[i + 1], "-h") == 0)) {
        usage(stdout);
        return 0;
    }
    for (size_t k = 0; k < COUNT(commands); k++)
        if (strcmp(argv[i], commands[k].name) == 0) {
            step = commands[k].name;
            return commands[k].function(argc - i, argv + i);
        }
    usage_error("unknown command '%s'", argv[i]);
}
#endif

static void usage(FILE *out)
{
    print(out,
          "usage: crater [--root DIR] [-v|-q] COMMAND [OPTIONS] [ARGS]\n"
          "\n"
          "Run a command in a container made from an ext4 image:\n"
          "  crater run [OPTIONS] [--] [COMMAND [ARG...]]   (default /bin/sh)\n"
          "  --image FILE      ext4 image (default $CRATER_IMAGE, else\n"
          "                    ./container_disk.img)\n"
          "  --name ID         container ID (default run-PID)\n"
          "  --hostname NAME   host name inside (default crater)\n"
          "  --pids N          maximum number of tasks (default 20)\n"
          "  --memory SIZE     memory limit in bytes, K/M/G suffixes\n"
          "                    (default 100M)\n"
          "  --cpus FRACTION   CPU time as a share of one CPU (default 0.5)\n"
          "  --no-cgroups      set no cgroup limits\n"
          "  --read-only       attach and mount the image read-only\n"
          "  --env NAME=VALUE  add to the environment (repeatable)\n"
          "  --init            run a small init as PID 1 that reaps zombies\n"
          "  --pid-file FILE   write the container's init PID to FILE\n"
          "\n"
          "Global options, before the command:\n"
          "  --root DIR        state directory (default /run/crater)\n"
          "  -v, -q            narrate every system call / errors only\n"
          "  --version, --help\n"
          "\n"
          "OCI lifecycle (runc-compatible), state under --root (default\n"
          "/run/crater):\n");
    for (size_t k = 0; k < COUNT(commands); k++)
        print(out, "  crater %s %s\n", commands[k].name, commands[k].usage);
    print(out, "\nExit status: the command's status, 128+N when it was "
               "killed by signal N;\n"
               "run, exec: 125 when crater fails, 126 when the command cannot "
               "be executed,\n127 when it is not found. Other commands: "
               "0 or 1. Usage errors: 2.\n");
}

/*
 * Returns the value of option NAME at argv[*i], written "NAME VALUE" or
 * "NAME=VALUE", and moves *i to its last word. Returns NULL when argv[*i]
 * is some other word.
 */
static const char *option_value(int argc, char **argv, int *i, const char *name)
{
    size_t length = strlen(name);

    if (strncmp(argv[*i], name, length) != 0)
        return NULL;
    if (argv[*i][length] == '=')
        return argv[*i] + length + 1;
    if (argv[*i][length] != '\0')
        return NULL;
    if (*i + 1 >= argc)
        usage_error("option %s needs a value", name);
    return argv[++*i];
}

/*
 * Returns ROOT as an absolute path: the child reaches the state directory
 * after it has changed its working directory.
 */
static const char *absolute_root(const char *root)
{
    static char path[PATH_MAX];
    char cwd[PATH_MAX];

    if (!*root)
        usage_error("invalid value for --root: '' (expected a folder for "
                    "the state, such as /run/crater)");
    if (root[0] == '/')
        return root;
    if (!getcwd(cwd, sizeof cwd))
        die("getcwd()");
    format(path, sizeof path, "%s/%s", cwd, root);
    return path;
}

/* Explains a global option given after the command. */
static const char *global_hint(const char *arg)
{
    if (strncmp(arg, "--root", 6) == 0)
        return " (--root is a global option: put it before the command)";
    return "";
}

/* Handles -v and -q, which every command also takes after its name. */
static int verbosity_option(const char *arg)
{
    if (strcmp(arg, "-v") == 0 || strcmp(arg, "--verbose") == 0)
        return verbosity = 2, 1;
    if (strcmp(arg, "-q") == 0 || strcmp(arg, "--quiet") == 0)
        return verbosity = 0, 1;
    return 0;
}

static long long parse_count(const char *option, const char *value,
                             long long max)
{
    char *end;
    long long n;

    errno = 0;
    n = strtoll(value, &end, 10);
    if (errno || !isdigit((unsigned char)value[0]) || *end || n <= 0 || n > max)
        usage_error("invalid value for %s: '%s' (expected a whole number "
                    "from 1 to %lld)",
                    option, value, max);
    return n;
}

/* Parses a size in bytes with an optional K, M or G suffix (1024-based). */
static long long parse_size(const char *option, const char *value)
{
    static const struct {
        char suffix;
        long long bytes;
    } units[] = {
        {'\0', 1},
        {'K', 1LL << 10},
        {'M', 1LL << 20},
        {'G', 1LL << 30},
    };
    char *end;
    long long n;

    errno = 0;
    n = strtoll(value, &end, 10);
    if (errno || !isdigit((unsigned char)value[0]) || n <= 0)
        goto invalid;
    for (size_t k = 0; k < COUNT(units); k++) {
        if (toupper((unsigned char)*end) != units[k].suffix)
            continue;
        if (*end && end[1])
            goto invalid;
        if (n > LLONG_MAX / units[k].bytes)
            goto invalid;
        return n * units[k].bytes;
    }
invalid:
    usage_error("invalid value for %s: '%s' (expected a positive size such "
                "as 512K, 100M or 2G)",
                option, value);
}

/*
 * Parses a share of CPUs, such as 0.5 or 2, into a CFS quota per 100 ms
 * period in microseconds: "1.25" is 125000. Each digit is worth a tenth
 * of the one before it, so no floating point is needed; digits past the
 * fifth decimal are worth nothing.
 */
static long long parse_cpus(const char *option, const char *value)
{
    long long quota = 0, unit = 100000; /* the quota of one CPU */
    const char *p = value;
    int digits = 0;

    for (; isdigit((unsigned char)*p) && quota <= 1024 * unit; p++, digits++)
        quota = quota * 10 + (*p - '0') * unit;
    if (*p == '.')
        for (p++; isdigit((unsigned char)*p); p++, digits++)
            quota += (*p - '0') * (unit /= 10);
    /* The kernel takes quotas from 1 ms: 0.01 of the 100 ms period. */
    if (!digits || *p || quota < 1000 || quota > 1024 * 100000LL)
        usage_error("invalid value for %s: '%s' (expected a number of CPUs "
                    "from 0.01 to 1024, such as 0.5)",
                    option, value);
    return quota;
}

/* Returns whether ID matches [A-Za-z0-9][A-Za-z0-9_.+-]* without "..". */
static int valid_id(const char *id)
{
    size_t length = strlen(id);

    /* The ID names a folder and, after "crater-", a cgroup: NAME_MAX. */
    if (length == 0 || length > NAME_MAX - strlen("crater-") ||
        !isalnum((unsigned char)id[0]))
        return 0;
    for (size_t k = 0; k < length; k++)
        if (!isalnum((unsigned char)id[k]) && !strchr("_.+-", id[k]))
            return 0;
    return strstr(id, "..") == NULL;
}

#define ID_RULE                                                                \
    "an ID is 1 to 248 characters from [A-Za-z0-9_.+-], starts with a "        \
    "letter or digit and contains no '..'"

/* Rejects an ID that could name a path outside ROOT, before any file. */
static void check_id(const char *id)
{
    if (valid_id(id))
        return;
    print(stderr, "crater: invalid container ID '%s': " ID_RULE "\n", id);
    exit(error_status);
}

/* Sets C's defaults. C is static, so every other field starts as zero. */
static void set_defaults(struct container *c)
{
    c->use_cgroups = 1;
    c->pids_limit = c->memory_limit = c->cpu_quota = -1;
    c->cpu_period = c->cpu_shares = -1;
    c->cwd = "/";
}

/* Replaces NAME=... in the environment, or adds it. */
static void set_env(struct container *c, const char *entry)
{
    size_t name_length = strcspn(entry, "=");
    int k;

    for (k = 0; c->env[k]; k++)
        if (strncmp(c->env[k], entry, name_length + 1) == 0)
            break;
    if (k >= MAX_LIST)
        usage_error("too many environment variables (at most %d)", MAX_LIST);
    c->env[k] = entry;
}

/* Options given to run and their values, before the container is built. */
struct run_options {
    const char *image;
    const char *hostname;
    const char *extra_env[MAX_LIST];
    int nextra_env;
    int image_options; /* how many only an image run takes */
    int limits;        /* count of --pids, --memory and --cpus options */
};

/*
 * Parses run's options into C and OPTIONS. Sets *first_arg to the first
 * word after them and *bundle_mode when run is to read a bundle: with
 * --bundle, or with one ID-like word in a folder that contains config.json.
 */
static void parse_run(struct container *c, struct run_options *o, int argc,
                      char **argv, int *first_arg, int *bundle_mode)
{
    int i;

    o->hostname = "crater";
    c->pids_limit = 20;
    c->memory_limit = 100LL << 20;
    c->cpu_quota = 50000;
    c->cpu_period = 100000;
    *bundle_mode = 0;

    for (i = 1; i < argc; i++) {
        const char *arg = argv[i], *value;

        if (strcmp(arg, "--") == 0) {
            i++;
            break;
        } else if (arg[0] != '-') {
            break;
        } else if (verbosity_option(arg)) {
        } else if (strcmp(arg, "-h") == 0 || strcmp(arg, "--help") == 0) {
            usage(stdout);
            exit(0);
        } else if (strcmp(arg, "--no-cgroups") == 0) {
            c->use_cgroups = 0;
        } else if (strcmp(arg, "--init") == 0) {
            c->init = 1;
        } else if (strcmp(arg, "--read-only") == 0) {
            c->readonly = 1, o->image_options++;
        } else if ((value = option_value(argc, argv, &i, "--image"))) {
            if (!*value)
                usage_error("invalid value for --image: '' (expected an "
                            "ext4 image file)");
            o->image = value, o->image_options++;
        } else if ((value = option_value(argc, argv, &i, "--name"))) {
            if (!valid_id(value))
                usage_error("invalid value for --name: '%s' (" ID_RULE ")",
                            value);
            format(c->id, sizeof c->id, "%s", value);
        } else if ((value = option_value(argc, argv, &i, "--hostname"))) {
            if (!*value || strlen(value) > 64)
                usage_error("invalid value for --hostname: '%s' (expected "
                            "1 to 64 characters)",
                            value);
            o->hostname = value, o->image_options++;
        } else if ((value = option_value(argc, argv, &i, "--pids"))) {
            c->pids_limit = parse_count("--pids", value, 4194304);
            o->image_options++, o->limits++;
        } else if ((value = option_value(argc, argv, &i, "--memory"))) {
            c->memory_limit = parse_size("--memory", value);
            o->image_options++, o->limits++;
        } else if ((value = option_value(argc, argv, &i, "--cpus"))) {
            c->cpu_quota = parse_cpus("--cpus", value);
            o->image_options++, o->limits++;
        } else if ((value = option_value(argc, argv, &i, "--env"))) {
            if (value[0] == '=' || !strchr(value, '='))
                usage_error("invalid value for --env: '%s' (expected "
                            "NAME=VALUE)",
                            value);
            if (o->nextra_env >= MAX_LIST - 8)
                usage_error("too many --env options (at most %d)",
                            MAX_LIST - 8);
            o->extra_env[o->nextra_env++] = value;
            o->image_options++;
        } else if ((value = option_value(argc, argv, &i, "--bundle")) ||
                   (value = option_value(argc, argv, &i, "-b"))) {
            c->bundle = value;
            *bundle_mode = 1;
        } else if ((value = option_value(argc, argv, &i, "--pid-file"))) {
            c->pid_file = value;
        } else {
            usage_error("unknown option '%s' for run%s", arg, global_hint(arg));
        }
    }
    *first_arg = i;

    if (!*bundle_mode && !o->image && argc - i == 1 && argv[i][0] != '/' &&
        access("config.json", F_OK) == 0) {
        c->bundle = ".";
        *bundle_mode = 1;
    }
    if (*bundle_mode && o->image_options)
        usage_error("options --image, --hostname, --pids, --memory, --cpus, "
                    "--env and --read-only are for image runs; a bundle "
                    "sets them in config.json");
    if (!c->use_cgroups && o->limits)
        usage_error("--pids, --memory and --cpus set cgroup limits, which "
                    "--no-cgroups turns off: drop one or the other");
}

/* Fills in C for an image run: the image, the command, the defaults. */
static void image_container(struct container *c, struct run_options *o,
                            char **args, int nargs)
{
    static char image[PATH_MAX], hostname_env[80], term_env[128];
    const char *path = o->image;
    const char *term = getenv("TERM");

    step = "find image";
    if (!path || !*path)
        path = getenv("CRATER_IMAGE");
    if (!path || !*path)
        path = "container_disk.img";
    if (!realpath(path, image))
        die("realpath(\"%s\")", path);
    c->root_path = c->bundle = image;
    c->root_is_image = 1;
    if (!c->id[0])
        format(c->id, sizeof c->id, "run-%d", (int)getpid());

    if (nargs > MAX_LIST)
        usage_error("too many arguments (at most %d)", MAX_LIST);
    for (int k = 0; k < nargs; k++)
        c->args[k] = args[k];
    if (nargs == 0)
        c->args[0] = "/bin/sh";

    /* A clean environment: nothing of the host's leaks in but TERM. */
    c->hostname = o->hostname;
    format(hostname_env, sizeof hostname_env, "HOSTNAME=%s", o->hostname);
    set_env(c, "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:"
               "/sbin:/bin");
    set_env(c, "HOME=/root");
    set_env(c, hostname_env);
    if (term && *term) {
        format(term_env, sizeof term_env, "TERM=%s", term);
        set_env(c, term_env);
    }
    for (int k = 0; k < o->nextra_env; k++)
        set_env(c, o->extra_env[k]);

    c->unshare_flags =
        CLONE_NEWPID | CLONE_NEWNS | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWNET;
    add_default_mounts(c);
}

static int cmd_run(int argc, char **argv)
{
    static struct container c;
    struct run_options options = {0};
    int first, bundle_mode, status;

    error_status = 125;
    set_defaults(&c);
    parse_run(&c, &options, argc, argv, &first, &bundle_mode);
    say("Crater Runtime Starting...");

    if (bundle_mode) {
        if (argc - first != 1)
            usage_error("run with a bundle takes one container ID");
        if (!valid_id(argv[first]))
            usage_error("invalid container ID '%s': " ID_RULE, argv[first]);
        format(c.id, sizeof c.id, "%s", argv[first]);
        load_config(&c, c.bundle);
    } else {
        image_container(&c, &options, argv + first, argc - first);
    }

    create_container(&c);
    forward_signals(c.pid);
    start_container(&c);
    status = wait_container(&c);
    destroy_container(&c);
    return status;
}

static int cmd_create(int argc, char **argv)
{
    static struct container c;
    const char *bundle = ".", *value;
    int i;

    set_defaults(&c);
    for (i = 1; i < argc && argv[i][0] == '-'; i++) {
        if (verbosity_option(argv[i]))
            continue;
        if ((value = option_value(argc, argv, &i, "--bundle")) ||
            (value = option_value(argc, argv, &i, "-b")))
            bundle = value;
        else if ((value = option_value(argc, argv, &i, "--pid-file")))
            c.pid_file = value;
        else if (strcmp(argv[i], "--no-cgroups") == 0)
            c.use_cgroups = 0;
        else if (strcmp(argv[i], "--init") == 0)
            c.init = 1;
        else
            usage_error("unknown option '%s' for create%s", argv[i],
                        global_hint(argv[i]));
    }
    if (argc - i != 1)
        usage_error("create takes one container ID after its options");
    check_id(argv[i]);
    format(c.id, sizeof c.id, "%s", argv[i]);

    load_config(&c, bundle);
    if (c.terminal)
        fail("config.json: process.terminal is true, but crater has no "
             "console socket to hand a terminal over: set it to false, or "
             "use crater run, which keeps the caller's terminal");
    c.detach = 1;
    create_container(&c);
    return 0;
}

/* Fails for ID, whose state.json read_state() found damaged. */
static void fail_damaged(const char *id)
{
    fail("the state of container '%s' is damaged (%s): crater --root %s "
         "delete --force %s removes its directory",
         id, state_damage, state_root, id);
}

/* Reads ID's state into C, or fails when it is missing or damaged. */
static void need_state(const char *id, struct container *c,
                       unsigned long long *starttime, char *created,
                       size_t created_len)
{
    int rc = read_state(id, c, starttime, created, created_len);

    if (rc == -1)
        fail("container '%s' does not exist (no %s/%s/state.json)", id,
             state_root, id);
    if (rc == -2)
        fail_damaged(id);
}

/* Reads ID's state for a command that takes only an ID. */
static void one_id(int argc, char **argv, const char *command,
                   struct container *c, unsigned long long *starttime)
{
    int i = 1;

    while (i < argc && verbosity_option(argv[i]))
        i++;
    if (argc - i != 1)
        usage_error("%s takes one container ID", command);
    check_id(argv[i]);
    need_state(argv[i], c, starttime, NULL, 0);
}

static int cmd_start(int argc, char **argv)
{
    static struct container c;
    unsigned long long starttime;

    one_id(argc, argv, "start", &c, &starttime);
    start_container(&c);
    return 0;
}

/* Prints the OCI state of a container, indented for people to read. */
static void print_state(struct container *c, const char *status,
                        const char *created, const char *indent);

static int cmd_state(int argc, char **argv)
{
    static struct container c;
    unsigned long long starttime;
    char created[64] = "";
    int i = 1;

    while (i < argc && verbosity_option(argv[i]))
        i++;
    if (argc - i != 1)
        usage_error("state takes one container ID");
    check_id(argv[i]);
    need_state(argv[i], &c, &starttime, created, sizeof created);
    print_state(&c, container_status(&c, starttime), created, "");
    print(stdout, "\n");
    return 0;
}

/* Signal names for kill, with and without the SIG prefix. */
static const struct {
    const char *name;
    int number;
} signals[] = {
    {"HUP", SIGHUP},       {"INT", SIGINT},   {"QUIT", SIGQUIT},
    {"ILL", SIGILL},       {"TRAP", SIGTRAP}, {"ABRT", SIGABRT},
    {"BUS", SIGBUS},       {"FPE", SIGFPE},   {"KILL", SIGKILL},
    {"USR1", SIGUSR1},     {"SEGV", SIGSEGV}, {"USR2", SIGUSR2},
    {"PIPE", SIGPIPE},     {"ALRM", SIGALRM}, {"TERM", SIGTERM},
    {"CHLD", SIGCHLD},     {"CONT", SIGCONT}, {"STOP", SIGSTOP},
    {"TSTP", SIGTSTP},     {"TTIN", SIGTTIN}, {"TTOU", SIGTTOU},
    {"URG", SIGURG},       {"XCPU", SIGXCPU}, {"XFSZ", SIGXFSZ},
    {"VTALRM", SIGVTALRM}, {"PROF", SIGPROF}, {"WINCH", SIGWINCH},
    {"IO", SIGIO},         {"PWR", SIGPWR},   {"SYS", SIGSYS},
};

static int parse_signal(const char *text)
{
    const char *name = text;
    char *end;
    long number = strtol(text, &end, 10);

    if (isdigit((unsigned char)text[0]) && *end == '\0' && number > 0 &&
        number < NSIG)
        return (int)number;
    if (strncasecmp(name, "SIG", 3) == 0)
        name += 3;
    for (size_t k = 0; k < COUNT(signals); k++)
        if (strcasecmp(name, signals[k].name) == 0)
            return signals[k].number;
    usage_error("invalid signal '%s' (expected a name such as TERM, SIGKILL "
                "or USR1, or a number from 1 to %d)",
                text, NSIG - 1);
}

static int cmd_kill(int argc, char **argv)
{
    static struct container c;
    unsigned long long starttime;
    int i = 1, signal_number = SIGKILL;

    while (i < argc && verbosity_option(argv[i]))
        i++;
    if (argc - i < 1 || argc - i > 2)
        usage_error("kill takes a container ID and an optional signal");
    check_id(argv[i]);
    if (argc - i == 2)
        signal_number = parse_signal(argv[i + 1]);
    need_state(argv[i], &c, &starttime, NULL, 0);
    if (strcmp(container_status(&c, starttime), "stopped") == 0)
        fail("container '%s' is not running: its init process has "
             "exited",
             c.id);

    step = "kill";
    check(kill(c.pid, signal_number), "kill(%d, %d)", (int)c.pid,
          signal_number);
    return 0;
}

static int cmd_delete(int argc, char **argv)
{
    static struct container c;
    unsigned long long starttime;
    char dir[PATH_MAX];
    int i = 1, force = 0;

    for (; i < argc && argv[i][0] == '-'; i++)
        if (strcmp(argv[i], "--force") == 0 || strcmp(argv[i], "-f") == 0)
            force = 1;
        else if (!verbosity_option(argv[i]))
            usage_error("unknown option '%s' for delete%s", argv[i],
                        global_hint(argv[i]));
    if (argc - i != 1)
        usage_error("delete takes one container ID");
    check_id(argv[i]);
    state_path(dir, sizeof dir, argv[i], NULL);

    switch (read_state(argv[i], &c, &starttime, NULL, 0)) {
    case -1: /* no state.json: never created, or create was killed early */
        if (access(dir, F_OK) == 0 && force)
            remove_state_dir(dir);
        if (force)
            return 0;
        fail("container '%s' does not exist", argv[i]);
    case -2: /* the processes, cgroup and loop device are unknown */
        if (!force)
            fail_damaged(argv[i]);
        print(stderr,
              "crater: delete: the state of container '%s' is damaged "
              "(%s): removing %s only; check for its processes, cgroup "
              "and loop device yourself\n",
              argv[i], state_damage, dir);
        remove_state_dir(dir);
        return 0;
    }

    if (strcmp(container_status(&c, starttime), "stopped") != 0) {
        if (!force)
            fail("container '%s' is %s: stop it first (crater kill %s) or "
                 "use delete --force",
                 c.id, container_status(&c, starttime), c.id);
        step = "delete";
        check(kill(c.pid, SIGKILL), "kill(%d, SIGKILL)", (int)c.pid);
        /* Wait until the kernel has reaped it: bounded, 10 s. */
        for (int k = 0; k < 1000; k++) {
            if (strcmp(container_status(&c, starttime), "stopped") == 0)
                break;
            usleep(10000);
        }
    }
    destroy_container(&c);
    return 0;
}

static int cmd_list(int argc, char **argv)
{
    const char *format = "table", *value;
    struct dirent *entry;
    DIR *dir;
    int i, count = 0;

    for (i = 1; i < argc; i++)
        if (verbosity_option(argv[i]))
            continue;
        else if ((value = option_value(argc, argv, &i, "--format")) ||
                 (value = option_value(argc, argv, &i, "-f")))
            format = value;
        else
            usage_error("unknown option '%s' for list%s", argv[i],
                        global_hint(argv[i]));
    if (strcmp(format, "table") != 0 && strcmp(format, "json") != 0)
        usage_error("invalid value for --format: '%s' (expected table or "
                    "json)",
                    format);

    /* A missing state root means no containers. Other errors fail. */
    dir = opendir(state_root);
    if (!dir && errno != ENOENT)
        die("opendir(\"%s\")", state_root);

    if (strcmp(format, "table") == 0)
        print(stdout, "%-20s %-8s %-8s %-40s %s\n%s\n", "ID", "PID", "STATUS",
              "BUNDLE", "CREATED",
              "--------------------------------------------------"
              "--------------------------------------------------");
    else
        print(stdout, "[");

    while (dir && (entry = readdir(dir))) {
        static struct container c;
        unsigned long long starttime;
        char created[64] = "";
        const char *status;

        if (entry->d_name[0] == '.')
            continue;
        switch (read_state(entry->d_name, &c, &starttime, created,
                           sizeof created)) {
        case -1: /* a folder without state.json: being created */
            continue;
        case -2:
            print(stderr, "crater: list: skipping container '%s': %s\n",
                  entry->d_name, state_damage);
            continue;
        }
        status = container_status(&c, starttime);
        if (strcmp(format, "table") == 0) {
            print(stdout, "%-20s %-8d %-8s %-40s %s\n", c.id,
                  strcmp(status, "stopped") ? (int)c.pid : 0, status, c.bundle,
                  created);
        } else {
            print(stdout, "%s\n", count ? "," : "");
            print_state(&c, status, created, "  ");
        }
        count++;
    }
    if (dir)
        closedir(dir);
    if (strcmp(format, "json") == 0)
        print(stdout, "%s]\n", count ? "\n" : "");
    return 0;
}

/*
 * Section 2: creating a container, the parent's side.
 *
 * The parent and the child talk over two pipes in fixed-size messages
 * (one write each, below PIPE_BUF, so the kernel never splits them):
 *
 *   child -> parent  'M' + loop device   root mounted
 *   child -> parent  'R'                 ready, waiting on exec.fifo
 *   parent -> child  'K'                 create only: outlive crater
 *   child -> parent  'k'                 death signal cleared
 *
 * End of file on a pipe means the other side has died: the child prints
 * its own error before it exits, and the parent's die() cleans up.
 */
struct message {
    char type;
    char text[63];
};

static void send_message(int fd, char type, const char *text)
{
    struct message m = {.type = type};

    format(m.text, sizeof m.text, "%s", text ? text : "");
    check(write(fd, &m, sizeof m), "write(sync pipe, '%c')", type);
}

/* Waits for a message of TYPE; returns 0 when the other side has died. */
static int receive_message(int fd, char type, struct message *m)
{
    ssize_t n;

    do
        n = read(fd, m, sizeof *m);
    while (n < 0 && errno == EINTR);
    if (n == (ssize_t)sizeof *m && m->type == type)
        return 1;
    if (n > 0)
        fail("unexpected message '%c' on the sync pipe (expected '%c')",
             m->type, type);
    return 0;
}

/* Fails when the init process exited before it was ready. */
static void init_died(struct container *c)
{
    int status = 0;

    waitpid(c->pid, &status, 0);
    if (WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL && c->use_cgroups &&
        cgroup_oom_killed())
        fail("the container's init process was killed by the OOM killer "
             "during setup: the memory limit of %lld bytes is too small",
             c->memory_limit);
    if (WIFSIGNALED(status))
        fail("the container's init process was killed by signal %d "
             "during setup",
             WTERMSIG(status));
    fail("the container's init process failed during setup (exit status "
         "%d); its error is above",
         WEXITSTATUS(status));
}

/* Checks the root file system before anything is created for it. */
static void check_root(struct container *c)
{
    unsigned char super[1024];
    struct stat st;
    int fd;
    ssize_t n;

    step = c->root_is_image ? "check image" : "check root";
    check(stat(c->root_path, &st), "stat(\"%s\")", c->root_path);
    if (!c->root_is_image && S_ISREG(st.st_mode))
        c->root_is_image = 1;
    if (!c->root_is_image) {
        if (!S_ISDIR(st.st_mode))
            fail("root %s is neither a directory nor an ext4 image",
                 c->root_path);
        return;
    }
    if (S_ISDIR(st.st_mode))
        fail("image %s is a directory: name an ext4 image file (build one "
             "with ./mkimage.sh)",
             c->root_path);
    if (!S_ISREG(st.st_mode))
        fail("image %s is not a regular file: name an ext4 image file "
             "(build one with ./mkimage.sh)",
             c->root_path);

    /* The ext4 superblock: 1024 bytes at offset 1024 (ext4(5)). */
    fd = check(open(c->root_path, O_RDONLY | O_CLOEXEC), "open(\"%s\")",
               c->root_path);
    n = pread(fd, super, sizeof super, 1024);
    close(fd);
    if (n < (ssize_t)sizeof super)
        fail("image %s is too small to hold an ext4 file system (%lld "
             "bytes): build one with ./mkimage.sh",
             c->root_path, (long long)st.st_size);
    if ((super[56] | super[57] << 8) != EXT4_SUPER_MAGIC)
        fail("image %s is not an ext4 file system (no ext4 magic number "
             "at byte 1080): build one with ./mkimage.sh",
             c->root_path);

    /* s_blocks_count_lo at 4 and s_log_block_size at 24, little-endian. */
    uint64_t blocks =
        super[4] | super[5] << 8 | super[6] << 16 | (uint64_t)super[7] << 24;
    uint64_t block_size = 1024ULL << (super[24] & 15);
    if ((uint64_t)st.st_size < blocks * block_size)
        fail("image %s is truncated: its file system needs %llu bytes but "
             "the file has %lld; rebuild it with ./mkimage.sh",
             c->root_path, (unsigned long long)(blocks * block_size),
             (long long)st.st_size);
}

/*
 * Creates the container up to the point where its init process waits on
 * exec.fifo, inside its namespaces and cgroup. Dies on any error, and the
 * cleanup watcher then removes whatever had been made.
 */
static void create_container(struct container *c)
{
    char path[PATH_MAX];
    struct message m;
    int to_child[2], to_parent[2];
    pid_t pid;

    check_root(c);
    step = "create state directory";
    state_path(c->state_dir, sizeof c->state_dir, c->id, NULL);
    if (access(c->state_dir, F_OK) == 0)
        fail("container '%s' already exists (%s): delete it first or pick "
             "another ID",
             c->id, c->state_dir);
    if (c->use_cgroups)
        plan_cgroup(c);

    /* The state directory: its mkdir is the lock that makes IDs unique. */
    step = "create state directory";
    make_dirs(state_root, 0700);

    /*
     * The watcher makes ROOT/ID itself, so that whenever crater dies the
     * watcher can tell whether the directory is its own to remove. From here
     * on, it undoes everything if crater dies.
     */
    watch_container(c);

    /*
     * The parent opens the image, in the host's mount namespace, so that
     * the loop device's backing file keeps the host's path, and locks it
     * before anything is mounted from it.
     */
    if (c->root_is_image) {
        step = "open image";
        c->image_fd = check(
            open(c->root_path, (c->readonly ? O_RDONLY : O_RDWR) | O_CLOEXEC),
            "open(\"%s\")", c->root_path);
        lock_image(c, c->image_fd);
    }

    state_path(path, sizeof path, c->id, "rootfs");
    check(mkdir(path, 0700), "mkdir(\"%s\", 0700)", path);
    state_path(path, sizeof path, c->id, "exec.fifo");
    check(mkfifo(path, 0600), "mkfifo(\"%s\", 0600)", path);
    check(pipe2(to_child, O_CLOEXEC), "pipe2(to_child)");
    check(pipe2(to_parent, O_CLOEXEC), "pipe2(to_parent)");

    /* The cgroup exists before the init, which starts in it or joins it. */
    if (c->use_cgroups)
        apply_cgroup_limits(c);

    /*
     * A new PID namespace applies to the children of the caller, not to
     * the caller itself (pid_namespaces(7)), so the parent stays in the
     * host's and the child it forks next is PID 1 of the new one.
     */
    step = "create namespaces";
    for (int k = 0; k < c->njoins; k++)
        if (c->joins[k].type == CLONE_NEWPID)
            join_namespace(&c->joins[k]);
    if (c->unshare_flags & CLONE_NEWPID)
        check(unshare(CLONE_NEWPID), "unshare(CLONE_NEWPID)");
    pid = fork_init(c);
    if (pid == 0) {
        close(to_child[1]);
        close(to_parent[0]);
        child_main(c, to_child[0], to_parent[1]);
    }
    c->pid = pid;
    check(write(watcher_fd, &pid, sizeof pid), "write(watcher, %d)", pid);
    close(to_child[0]);
    close(to_parent[1]);

    /* The child mounts its root, then gets ready to run the command. */
    step = "create";
    if (!receive_message(to_parent[0], 'M', &m))
        init_died(c);
    format(c->loop_device, sizeof c->loop_device, "%s", m.text);
    if (c->root_is_image)
        close(c->image_fd); /* the loop device keeps a reference */
    if (!receive_message(to_parent[0], 'R', &m))
        init_died(c);

    write_state(c);
    if (c->pid_file) {
        char number[32];

        step = "write pid file";
        format(number, sizeof number, "%d", (int)c->pid);
        if (write_file(c->pid_file, number) < 0)
            die("write_file(\"%s\")", c->pid_file);
    }

    /* create returns now: the init must not die with crater. */
    if (c->detach) {
        send_message(to_child[1], 'K', NULL);
        if (!receive_message(to_parent[0], 'k', &m))
            init_died(c);
        disarm_watcher();
    }
    close(to_child[1]);
    close(to_parent[0]);
}

/*
 * Lets the waiting init execute its command: one byte into exec.fifo,
 * then the FIFO is removed, which is what makes the status "running".
 * Opening a FIFO for writing with O_NONBLOCK fails with ENXIO at once
 * when no process has it open for reading (fifo(7)), so start never
 * waits for an init that is not there.
 */
static void start_container(struct container *c)
{
    char path[PATH_MAX];
    int fd;

    step = "start";
    state_path(path, sizeof path, c->id, "exec.fifo");
    fd = trace(open(path, O_WRONLY | O_NONBLOCK | O_CLOEXEC),
               "open(\"%s\", "
               "O_WRONLY|O_NONBLOCK)",
               path);
    if (fd < 0 && errno == ENOENT)
        fail("container '%s' was already started (no exec.fifo)", c->id);
    if (fd < 0 && errno == ENXIO)
        fail("container '%s' is not waiting to start: its init process "
             "has exited",
             c->id);
    check(fd, "open(\"%s\")", path);
    check(unlink(path), "unlink(\"%s\")", path);
    check(write(fd, "0", 1), "write(\"%s\", \"0\")", path);
    close(fd);
}

/* The child's host PID, for the signal forwarder. */
static volatile pid_t forward_to;

static void forward_signal(int signal_number)
{
    if (forward_to > 0)
        kill(forward_to, signal_number);
}

/* The signals crater passes on to the container's init. */
static const int forwarded_signals[] = {
    SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2,
};

/*
 * Passes the forwarded signals on to PID from now on. run calls it before
 * it starts the command, so that no signal sent after that is lost.
 */
static void forward_signals(pid_t pid)
{
    struct sigaction action = {.sa_handler = forward_signal,
                               .sa_flags = SA_RESTART};

    forward_to = pid;
    for (size_t k = 0; k < COUNT(forwarded_signals); k++)
        sigaction(forwarded_signals[k], &action, NULL);
}

/* Waits for the init to exit and returns crater's exit status for it. */
static int wait_container(struct container *c)
{
    int status, code;
    pid_t pid;

    step = "wait";
    do
        pid = waitpid(c->pid, &status, 0);
    while (pid < 0 && errno == EINTR);
    check(pid, "waitpid(%d)", (int)c->pid);
    forward_to = 0;

    if (WIFEXITED(status)) {
        narrate("container exited with status %d", WEXITSTATUS(status));
        code = WEXITSTATUS(status);
    } else {
        narrate("container was killed by signal %d", WTERMSIG(status));
        code = 128 + WTERMSIG(status);
    }
    /* SIGKILL: the init's own, or the command's, which --init passes on. */
    if (code == 128 + SIGKILL && c->use_cgroups && cgroup_oom_killed())
        print(stderr,
              "crater: the container was killed by the kernel's "
              "OOM killer: it reached its memory limit of %lld bytes\n",
              c->memory_limit);
    return code;
}

/*
 * Returns whether the loop device whose sysfs backing_file is PATH is
 * still bound to IMAGE. Another container may have the device already.
 */
static int loop_bound_to(const char *path, const char *image)
{
    char backing[PATH_MAX];

    if (read_file(path, backing, sizeof backing) < 0)
        return 0;
    backing[strcspn(backing, "\n")] = '\0';
    return strcmp(backing, image) == 0;
}

/*
 * Removes what create made once the init has exited: the cgroup, the
 * state directory, and (by waiting for the kernel) the loop device,
 * which LO_FLAGS_AUTOCLEAR detaches when the container's last mount of
 * it goes away with the mount namespace.
 */
static void destroy_container(struct container *c)
{
    char path[PATH_MAX];

    step = "clean up";
    remove_cgroup(c);
    remove_state_dir(c->state_dir);
    if (c->loop_device[0]) {
        format(path, sizeof path, "/sys/block/%s/loop/backing_file",
               c->loop_device + strlen("/dev/"));
        for (int k = 0; k < 200 && loop_bound_to(path, c->root_path); k++)
            usleep(10000);
    }
    disarm_watcher();
}

/*
 * The cleanup watcher: a small process, forked before anything that
 * needs undoing, that removes the cgroup and the state directory if
 * crater dies before it is done (by SIGKILL, say), as runc's and crun's
 * monitor processes do. It waits on a pipe that only the parent can
 * write to. The parent sends the init's PID, then 'D' (disarm) once it
 * has cleaned up or handed the container over. End of file without 'D'
 * means that crater died, so the watcher kills the init and cleans up. The
 * loop device needs no help: the kernel detaches it by itself.
 */
static void watch_container(struct container *c)
{
    int fds[2], reply[2], null, error = 0;
    pid_t init = 0;
    char command = 0;

    step = "start cleanup watcher";
    check(pipe2(fds, O_CLOEXEC), "pipe2(watcher)");
    check(pipe2(reply, O_CLOEXEC), "pipe2(watcher reply)");
    watcher_pid = check(fork(), "fork() cleanup watcher");
    if (watcher_pid > 0) {
        close(fds[0]);
        close(reply[1]);
        watcher_fd = fds[1];

        /* The watcher's mkdir of ROOT/ID is the lock on the ID. */
        step = "create state directory";
        if (read(reply[0], &error, sizeof error) != sizeof error)
            fail("the cleanup watcher exited before it made %s", c->state_dir);
        close(reply[0]);
        errno = error;
        if (error == EEXIST)
            fail("container '%s' already exists (%s): delete it first or "
                 "pick another ID",
                 c->id, c->state_dir);
        check(error ? -1 : 0, "mkdir(\"%s\", 0700)", c->state_dir);
        return;
    }

    /*
     * The watcher. A session of its own keeps it out of the process group
     * that a terminal or a job control shell signals (or kills) as one,
     * and it ignores the signals meant for the container.
     */
    watcher_pid = 0;
    close(fds[1]);
    setsid();
    for (size_t k = 0; k < COUNT(forwarded_signals); k++)
        signal(forwarded_signals[k], SIG_IGN);
    null = open("/dev/null", O_RDWR);
    if (null >= 0) {
        dup2(null, 0);
        dup2(null, 1);
        close(null);
    }
    prctl(PR_SET_NAME, "crater-watcher");

    /* A crater killed from here on leaves a directory to remove. */
    if (mkdir(c->state_dir, 0700) < 0)
        error = errno;
    /* When crater has died, this write fails and the read below ends. */
    ssize_t sent = write(reply[1], &error, sizeof error);
    (void)sent;
    if (error)
        _exit(0);
    close(reply[0]);
    close(reply[1]);

    if (read(fds[0], &init, sizeof init) == sizeof init &&
        read(fds[0], &command, 1) == 1 && command == 'D')
        _exit(0);

    step = "clean up after crater died";
    if (init > 0)
        kill(init, SIGKILL);
    if (c->ncgroup_dirs)
        remove_cgroup(c);
    else
        for (int k = 0; k < 500 && init > 0 && kill(init, 0) == 0; k++)
            usleep(10000);
    remove_state_dir(c->state_dir);
    _exit(0);
}

/* Tells the watcher that crater has finished, and waits for it. */
static void disarm_watcher(void)
{
    if (watcher_pid <= 0)
        return;
    trace(write(watcher_fd, "D", 1), "write(watcher, \"D\")");
    close(watcher_fd);
    waitpid(watcher_pid, NULL, 0);
    watcher_pid = 0;
}

/* Lets the watcher undo a failed create, and waits until it has. */
static void abandon_container(void)
{
    if (watcher_pid <= 0)
        return;
    close(watcher_fd);
    waitpid(watcher_pid, NULL, 0);
    watcher_pid = 0;
}

/*
 * Section 3: the container's side.
 *
 * child_main runs in the forked child, which is already PID 1 of the new
 * PID namespace. It enters the other namespaces, builds the root file
 * system and waits until crater starts it. Every error here exits the
 * child. The parent then reads end of file on its pipe and cleans up.
 */

/* Namespace types: name in config.json and /proc/PID/ns, clone flag. */
static const struct namespace_type {
    const char *name;      /* config.json "type" */
    const char *proc_name; /* /proc/PID/ns/NAME */
    int flag;
    const char *flag_name;
    const char *isolates;
} namespace_types[] = {
    {"pid", "pid", CLONE_NEWPID, "CLONE_NEWPID", "process IDs"},
    {"network", "net", CLONE_NEWNET, "CLONE_NEWNET", "interfaces, ports"},
    {"ipc", "ipc", CLONE_NEWIPC, "CLONE_NEWIPC", "System V IPC, mqueues"},
    {"uts", "uts", CLONE_NEWUTS, "CLONE_NEWUTS", "the host name"},
    {"mount", "mnt", CLONE_NEWNS, "CLONE_NEWNS", "the mount table"},
    {"cgroup", "cgroup", CLONE_NEWCGROUP, "CLONE_NEWCGROUP",
     "the view of /proc/self/cgroup"},
};

/* Returns the names of the CLONE_NEW* flags in FLAGS, "|"-separated. */
static const char *namespace_names(int flags)
{
    static char names[128];

    names[0] = '\0';
    for (size_t k = 0; k < COUNT(namespace_types); k++)
        if (flags & namespace_types[k].flag)
            format(names + strlen(names), sizeof names - strlen(names), "%s%s",
                   names[0] ? "|" : "", namespace_types[k].flag_name);
    return names;
}

/* Closes every file descriptor above 2 but the three given (or -1). */
static void close_other_fds(int keep1, int keep2, int keep3)
{
    DIR *dir = opendir("/proc/self/fd");
    struct dirent *entry;

    if (!dir)
        die("opendir(\"/proc/self/fd\")");
    while ((entry = readdir(dir))) {
        int fd = atoi(entry->d_name);

        if (fd > 2 && fd != dirfd(dir) && fd != keep1 && fd != keep2 &&
            fd != keep3)
            close(fd);
    }
    closedir(dir);
}

static void child_main(struct container *c, int from_parent, int to_parent)
{
    char rootfs[PATH_MAX], fifo_path[PATH_MAX], fifo_proc[64];
    struct message m;
    sigset_t none;
    int fifo;

    /* Die with the parent: a container never outlives a killed crater. */
    watcher_pid = 0;
    step = "create namespaces";
    check(prctl(PR_SET_PDEATHSIG, SIGKILL), "prctl(PR_SET_PDEATHSIG, "
                                            "SIGKILL)");
    for (int s = 1; s < NSIG; s++)
        signal(s, SIG_DFL);
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    close_other_fds(from_parent, to_parent,
                    c->root_is_image ? c->image_fd : -1);

    /* Into the cgroup first, so that everything from here on counts. */
    if (c->use_cgroups && !c->born_in_cgroup)
        join_cgroup(c->leaves, c->nleaves);
    create_namespaces(c);
    say("Successfully isolated namespaces!");

    /*
     * Mount propagation: on systemd hosts / is shared, and a mount below
     * a shared mount would appear in the host's mount namespace too. A
     * recursive MS_PRIVATE stops that before the first mount.
     */
    step = "make mounts private";
    check(mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL),
          "mount(NULL, \"/\", NULL, MS_REC|MS_PRIVATE)");

    /*
     * exec.fifo lives in the state directory, which the container cannot
     * see after pivot_root, so an O_PATH descriptor keeps hold of it.
     */
    step = "open exec.fifo";
    state_path(fifo_path, sizeof fifo_path, c->id, "exec.fifo");
    fifo = check(open(fifo_path, O_PATH | O_CLOEXEC), "open(\"%s\", O_PATH)",
                 fifo_path);

    state_path(rootfs, sizeof rootfs, c->id, "rootfs");
    mount_root(c, rootfs);
    mount_filesystems(c, rootfs);
    pivot_into_root(rootfs);
    mask_paths(c);

    /* The root is ready: tell crater the loop device it is mounted from. */
    send_message(to_parent, 'M', c->loop_device);
    if (c->unshare_flags & CLONE_NEWCGROUP) {
        step = "create cgroup namespace";
        check(unshare(CLONE_NEWCGROUP), "unshare(CLONE_NEWCGROUP)");
    }
    if (c->unshare_flags & CLONE_NEWNET)
        bring_up_loopback();
    if (c->hostname && (c->unshare_flags & CLONE_NEWUTS)) {
        step = "set hostname";
        check(sethostname(c->hostname, strlen(c->hostname)),
              "sethostname(\"%s\")", c->hostname);
    }

    /* Become a reader of exec.fifo before telling crater we are ready. */
    step = "wait for start";
    format(fifo_proc, sizeof fifo_proc, "/proc/self/fd/%d", fifo);
    int reader = check(open(fifo_proc, O_RDONLY | O_NONBLOCK | O_CLOEXEC),
                       "open(\"%s\" (exec.fifo), O_RDONLY)", fifo_proc);
    close(fifo);
    send_message(to_parent, 'R', NULL);
    if (c->detach) {
        if (!receive_message(from_parent, 'K', &m))
            exit(125);
        check(prctl(PR_SET_PDEATHSIG, 0), "prctl(PR_SET_PDEATHSIG, 0)");
        send_message(to_parent, 'k', NULL);
    }
    close(from_parent);
    close(to_parent);

    /*
     * Wait until start writes its byte. poll() reports no hang-up before a
     * writer has opened the FIFO, so an early wake-up cannot happen.
     */
    struct pollfd wait_for = {.fd = reader, .events = POLLIN};
    char byte;
    while (poll(&wait_for, 1, -1) < 0)
        if (errno != EINTR)
            die("poll(exec.fifo)");
    if (read(reader, &byte, 1) != 1)
        fail("exec.fifo closed without a start");
    close(reader);

    if (c->init)
        run_init(c);
    exec_command(c);
}

/*
 * Joins the namespace file JOIN->path, which must be of type JOIN->type.
 * O_NONBLOCK keeps a FIFO given by mistake from blocking the open, and
 * NS_GET_NSTYPE fails on any file that is not a namespace.
 */
static void join_namespace(const struct namespace_join *join)
{
    char wanted[128];
    int fd, type;

    fd = check(open(join->path, O_RDONLY | O_NONBLOCK | O_CLOEXEC),
               "open(\"%s\")", join->path);
    type = ioctl(fd, NS_GET_NSTYPE);
    if (type < 0 && errno == ENOTTY)
        fail("namespace path %s is not a namespace file (such as "
             "/proc/PID/ns/net)",
             join->path);
    format(wanted, sizeof wanted, "%s", namespace_names(join->type));
    if (type >= 0 && type != join->type)
        fail("namespace path %s is a %s namespace, not %s", join->path,
             namespace_names(type), wanted);
    check(setns(fd, join->type), "setns(\"%s\", %s)", join->path, wanted);
    close(fd);
}

/*
 * Joins the namespaces given by path and creates the others. setns()
 * on a file of the wrong type fails with EINVAL (setns(2)), so crater
 * checks the type first and names it in the error.
 */
static void create_namespaces(struct container *c)
{
    int flags = c->unshare_flags & ~(CLONE_NEWPID | CLONE_NEWCGROUP);

    for (int k = 0; k < c->njoins; k++)
        if (c->joins[k].type != CLONE_NEWPID) /* the parent joined it */
            join_namespace(&c->joins[k]);
    if (flags)
        check(unshare(flags), "unshare(%s)", namespace_names(flags));
}

/* Replaces the child with the container's command. */
static void exec_command(struct container *c)
{
    step = "execute command";
    check(chdir(c->cwd), "chdir(\"%s\")", c->cwd);

    /* Drop crater's supplementary groups, then the IDs: groups first. */
    check(setgroups(c->ngroups, c->groups), "setgroups(%d)", c->ngroups);
    check(setgid(c->gid), "setgid(%d)", (int)c->gid);
    check(setuid(c->uid), "setuid(%d)", (int)c->uid);

    say("Child: Environment isolated. Launching command: %s...", c->args[0]);
    narrate("execvp(\"%s\") with %s", c->args[0],
            c->env[0] ? c->env[0] : "an empty environment");
    fflush(stderr);

    /* execvp() searches the PATH of environ, so the container's is set. */
    environ = (char **)c->env;
    execvp(c->args[0], (char *const *)c->args);
    int saved = errno;
    print(stderr, "crater: execute command: execvp(\"%s\"): %s\n", c->args[0],
          strerror(saved));
    if (saved == ENOENT)
        print(stderr, "crater: hint: the command is not in the container's "
                      "root; "
                      "name it with its full path or check PATH\n");
    _exit(saved == ENOENT ? 127 : 126);
}

/*
 * --init: a small init as PID 1. The command runs as PID 2; PID 1 passes
 * on the forwarded signals and reaps every process that is re-parented
 * to it, so no zombie stays, and exits with the command's status. The
 * signals are blocked and taken with sigwaitinfo(2): a PID 1 receives
 * only signals it handles or blocks, never the default action
 * (pid_namespaces(7)).
 */
static void run_init(struct container *c)
{
    sigset_t set;
    siginfo_t info;
    pid_t command;
    int status;

    step = "run init";
    sigemptyset(&set);
    sigaddset(&set, SIGCHLD);
    for (size_t k = 0; k < COUNT(forwarded_signals); k++)
        sigaddset(&set, forwarded_signals[k]);
    sigprocmask(SIG_BLOCK, &set, NULL);

    command = check(fork(), "fork() in the container");
    if (command == 0) {
        sigprocmask(SIG_UNBLOCK, &set, NULL);
        exec_command(c);
    }
    prctl(PR_SET_NAME, "crater-init");
    for (;;) {
        if (sigwaitinfo(&set, &info) < 0)
            continue;
        if (info.si_signo != SIGCHLD) {
            kill(command, info.si_signo);
            continue;
        }
        for (pid_t pid; (pid = waitpid(-1, &status, WNOHANG)) > 0;)
            if (pid == command)
                _exit(WIFEXITED(status) ? WEXITSTATUS(status)
                                        : 128 + WTERMSIG(status));
    }
}

/*
 * Section 4: loop devices and the root file system.
 *
 * A loop device (loop(4)) turns a file into a block device that ext4 can
 * be mounted from. /dev/loop-control hands out the number of a free one;
 * the number is only a hint, since another process may bind that device
 * first, so an EBUSY means: ask again. With 100 crater runs started at
 * once, 20 attempts were too few for some of them (bench/RESULTS.md); 200,
 * with a pause of 1 to 4 ms after each lost race, spread them out.
 */
#define LOOP_ATTEMPTS 200

/*
 * Returns the ID of a running or created container under the state root
 * whose image is IMAGE, and its init's PID in *PID, or NULL when there
 * is none. The new container's own directory has no state.json yet.
 */
static const char *find_image_user(const char *image, pid_t *pid)
{
    static struct container other;
    unsigned long long starttime;
    struct dirent *entry;
    DIR *dir = opendir(state_root);
    const char *found = NULL;

    while (dir && !found && (entry = readdir(dir)))
        if (entry->d_name[0] != '.' &&
            read_state(entry->d_name, &other, &starttime, NULL, 0) == 0 &&
            strcmp(other.root_path, image) == 0 &&
            strcmp(container_status(&other, starttime), "stopped") != 0) {
            found = other.id;
            *pid = other.pid;
        }
    if (dir)
        closedir(dir);
    return found;
}

/*
 * Locks the image: two containers writing one ext4 file system would
 * corrupt it, so a writer takes an exclusive flock(2) and a read-only
 * user a shared one. The lock belongs to the open file, and the loop
 * device keeps a reference to that file, so the lock lasts exactly as
 * long as the loop device stays attached.
 */
static void lock_image(struct container *c, int fd)
{
    const char *user;
    pid_t pid;

    if (trace(flock(fd, (c->readonly ? LOCK_SH : LOCK_EX) | LOCK_NB),
              "flock(\"%s\", %s)", c->root_path,
              c->readonly ? "LOCK_SH" : "LOCK_EX") == 0)
        return;
    if (errno != EWOULDBLOCK)
        die("flock(\"%s\")", c->root_path);
    user = find_image_user(c->root_path, &pid);
    if (user)
        fail("image %s is in use by container '%s' (init PID %d)%s",
             c->root_path, user, (int)pid,
             c->readonly ? "" : "; --read-only runs may share an image");
    fail("image %s is in use: by a container being created, one with a "
         "damaged state, one of another --root, or a loop device attached "
         "by hand (losetup -j %s lists the loop devices)",
         c->root_path, c->root_path);
}

/*
 * Binds the image open as IMAGE to a free loop device, named in DEVICE,
 * and returns the device's descriptor. LO_FLAGS_AUTOCLEAR makes the
 * kernel detach the device when its last user closes it: here, when the
 * container's mount of it goes away.
 */
static int attach_loop(struct container *c, int image, char *device,
                       size_t length)
{
    int mode = c->readonly ? O_RDONLY : O_RDWR;
    int control, loop;

    control = check(open("/dev/loop-control", O_RDWR | O_CLOEXEC),
                    "open(\"/dev/loop-control\")");
    for (int attempt = 1; attempt <= LOOP_ATTEMPTS; attempt++) {
        struct loop_config config = {.fd = (uint32_t)image};
        long number;

        number = check(ioctl(control, LOOP_CTL_GET_FREE),
                       "ioctl(\"/dev/loop-control\", LOOP_CTL_GET_FREE)");
        format(device, length, "/dev/loop%ld", number);
        loop = check(open(device, mode | O_CLOEXEC), "open(\"%s\")", device);

        config.info.lo_flags = LO_FLAGS_AUTOCLEAR;
        if (c->readonly)
            config.info.lo_flags |= LO_FLAGS_READ_ONLY;
        format((char *)config.info.lo_file_name, LO_NAME_SIZE, "%s",
               c->root_path);

        /* One call binds the file and sets the flags: Linux 5.8. */
        if (trace(ioctl(loop, LOOP_CONFIGURE, &config),
                  "ioctl(\"%s\", LOOP_CONFIGURE, fd=%d, AUTOCLEAR%s)", device,
                  image, c->readonly ? "|READ_ONLY" : "") == 0) {
            close(control);
            return loop;
        }
        if (errno == EBUSY) {
            close(loop); /* taken by someone else: retry */
            usleep(1000 * (1 + attempt % 4));
            continue;
        }
        if (errno != EINVAL && errno != ENOTTY)
            die("ioctl(\"%s\", LOOP_CONFIGURE)", device);

        /*
         * Before 5.8, LOOP_CONFIGURE is unknown (EINVAL): bind with
         * LOOP_SET_FD, then set the flags with LOOP_SET_STATUS64.
         * NOTE: between the two calls the device has no AUTOCLEAR, so a
         * crater killed right there leaves it attached.
         */
        if (trace(ioctl(loop, LOOP_SET_FD, image),
                  "ioctl(\"%s\", "
                  "LOOP_SET_FD, %d)",
                  device, image) < 0) {
            if (errno != EBUSY)
                die("ioctl(\"%s\", LOOP_SET_FD)", device);
            close(loop);
            continue;
        }
        check(ioctl(loop, LOOP_SET_STATUS64, &config.info),
              "ioctl(\"%s\", LOOP_SET_STATUS64, AUTOCLEAR)", device);
        close(control);
        return loop;
    }
    fail("no free loop device after %d attempts: other processes took each "
         "one first; try again",
         LOOP_ATTEMPTS);
}

/*
 * Mounts the container's root at TARGET, a directory in the state
 * directory: an ext4 image through a loop device, or a directory by a
 * recursive bind mount. Either way TARGET becomes a mount point, which
 * pivot_root needs. The host's mount table never shows it, because this
 * mount namespace is private.
 */
static void mount_root(struct container *c, const char *target)
{
    int loop;

    if (!c->root_is_image) {
        step = "bind root";
        check(mount(c->root_path, target, NULL, MS_BIND | MS_REC, NULL),
              "mount(\"%s\", \"%s\", NULL, MS_BIND|MS_REC)", c->root_path,
              target);
        return;
    }

    step = "attach image";
    loop = attach_loop(c, c->image_fd, c->loop_device, sizeof c->loop_device);
    say("Child: Attaching %s to %s", c->root_path, c->loop_device);
    close(c->image_fd); /* the loop device keeps a reference */

    step = "mount image";
    check(mount(c->loop_device, target, "ext4", c->readonly ? MS_RDONLY : 0,
                NULL),
          "mount(\"%s\", \"%s\", \"ext4\", %s)", c->loop_device, target,
          c->readonly ? "MS_RDONLY" : "0");
    close(loop); /* the mount keeps a reference now */
}

/*
 * Makes NEW_ROOT the root of this mount namespace. pivot_root(".", ".")
 * stacks the old root on top of the new one, and unmounting "." then
 * takes the old root away, so no directory for it is needed in the image
 * (pivot_root(2), since Linux 3.17). MNT_DETACH lets it go although the
 * host's files are still in use elsewhere.
 */
static void pivot_into_root(const char *new_root)
{
    step = "pivot_root";
    check(chdir(new_root), "chdir(\"%s\")", new_root);
    check(syscall(SYS_pivot_root, ".", "."), "pivot_root(\".\", \".\")");
    check(umount2(".", MNT_DETACH), "umount2(\".\", MNT_DETACH)");
    check(chdir("/"), "chdir(\"/\")");
}

/*
 * Section 5: mounts and /dev.
 *
 * Every mount is made before pivot_root, below the new root, so that a
 * bind mount can still reach its source on the host; the file systems
 * of /proc and /sys take their view from the namespaces of the process
 * that mounts them, which is already the container's.
 */

/* The mount options of config.json that are flags, not fs data. */
static const struct mount_option {
    const char *name;
    unsigned long set;
    unsigned long clear;
    int propagation; /* a separate mount(2) call */
} mount_options[] = {
    {"ro", MS_RDONLY, 0, 0},
    {"rw", 0, MS_RDONLY, 0},
    {"nosuid", MS_NOSUID, 0, 0},
    {"suid", 0, MS_NOSUID, 0},
    {"nodev", MS_NODEV, 0, 0},
    {"dev", 0, MS_NODEV, 0},
    {"noexec", MS_NOEXEC, 0, 0},
    {"exec", 0, MS_NOEXEC, 0},
    {"sync", MS_SYNCHRONOUS, 0, 0},
    {"async", 0, MS_SYNCHRONOUS, 0},
    {"dirsync", MS_DIRSYNC, 0, 0},
    {"remount", MS_REMOUNT, 0, 0},
    {"mand", MS_MANDLOCK, 0, 0},
    {"nomand", 0, MS_MANDLOCK, 0},
    {"atime", 0, MS_NOATIME, 0},
    {"noatime", MS_NOATIME, 0, 0},
    {"diratime", 0, MS_NODIRATIME, 0},
    {"nodiratime", MS_NODIRATIME, 0, 0},
    {"relatime", MS_RELATIME, 0, 0},
    {"norelatime", 0, MS_RELATIME, 0},
    {"strictatime", MS_STRICTATIME, 0, 0},
    {"nostrictatime", 0, MS_STRICTATIME, 0},
    {"bind", MS_BIND, 0, 0},
    {"rbind", MS_BIND | MS_REC, 0, 0},
    {"private", MS_PRIVATE, 0, 1},
    {"rprivate", MS_PRIVATE | MS_REC, 0, 1},
    {"shared", MS_SHARED, 0, 1},
    {"rshared", MS_SHARED | MS_REC, 0, 1},
    {"slave", MS_SLAVE, 0, 1},
    {"rslave", MS_SLAVE | MS_REC, 0, 1},
    {"unbindable", MS_UNBINDABLE, 0, 1},
    {"runbindable", MS_UNBINDABLE | MS_REC, 0, 1},
};

/* Adds one option to M: a flag from the table, or fs data otherwise. */
static void add_mount_option(struct mount_entry *m, const char *option)
{
    size_t used = strlen(m->data);

    for (size_t k = 0; k < COUNT(mount_options); k++) {
        const struct mount_option *o = &mount_options[k];

        if (strcmp(option, o->name) != 0)
            continue;
        if (o->propagation)
            m->propagation = o->set;
        else
            m->flags = (m->flags | o->set) & ~o->clear;
        return;
    }
    if (used + strlen(option) + 2 > sizeof m->data)
        fail("mount options of %s are too long: at most %zu bytes",
             m->destination, sizeof m->data - 1);
    format(m->data + used, sizeof m->data - used, "%s%s", used ? "," : "",
           option);
}

/* The mounts of an image run, the same as `runc spec` writes. */
static const struct default_mount {
    const char *destination;
    const char *type;
    const char *options;
    const char *why;
} default_mounts[] = {
    {"/proc", "proc", "nosuid,noexec,nodev", "the new PID namespace's"},
    {"/sys", "sysfs", "ro,nosuid,noexec,nodev", "read-only; net shows lo"},
    {"/dev", "tmpfs", "nosuid,strictatime,mode=755,size=65536k",
     "a small /dev: crater adds the nodes"},
    {"/dev/pts", "devpts",
     "nosuid,noexec,newinstance,ptmxmode=0666,mode=0620,gid=5",
     "a new instance: only this container's terminals"},
    {"/dev/shm", "tmpfs", "nosuid,noexec,nodev,mode=1777,size=65536k",
     "POSIX shared memory"},
    {"/dev/mqueue", "mqueue", "nosuid,noexec,nodev",
     "the new IPC namespace's message queues"},
};

/* Paths hidden or made read-only in an image run, as `runc spec` does. */
static const char *const default_masked[] = {
    "/proc/acpi",        "/proc/asound",        "/proc/kcore",
    "/proc/keys",        "/proc/latency_stats", "/proc/timer_list",
    "/proc/timer_stats", "/proc/sched_debug",   "/proc/scsi",
    "/sys/firmware",
};
static const char *const default_readonly[] = {
    "/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger",
};

static void add_default_mounts(struct container *c)
{
    static char options[COUNT(default_mounts)][128];

    for (size_t k = 0; k < COUNT(default_mounts); k++) {
        struct mount_entry *m = &c->mounts[c->nmounts++];
        char *option, *rest = options[k];

        m->destination = default_mounts[k].destination;
        m->type = m->source = default_mounts[k].type;
        format(options[k], sizeof options[k], "%s", default_mounts[k].options);
        while ((option = strsep(&rest, ",")))
            add_mount_option(m, option);
    }
    for (size_t k = 0; k < COUNT(default_masked); k++)
        c->masked[c->nmasked++] = default_masked[k];
    for (size_t k = 0; k < COUNT(default_readonly); k++)
        c->readonly_paths[c->nreadonly++] = default_readonly[k];
}

/*
 * Creates the mount point TARGET below ROOTFS for a mount of SOURCE: a
 * file for a bind mount of a file, else a directory, with any missing
 * parents. It goes one path component at a time, and each one that
 * exists must resolve inside ROOTFS, so that a symbolic link in the image
 * cannot make crater create anything on the host.
 */
static void check_inside(const char *rootfs, const char *target);

static void make_mount_point(const char *rootfs, const char *target,
                             const char *source, int bind)
{
    char path[PATH_MAX];
    struct stat st;
    int file = bind && stat(source, &st) == 0 && !S_ISDIR(st.st_mode);

    format(path, sizeof path, "%s", target);
    for (char *end = path + strlen(rootfs) + 1;; end++) {
        if (*end != '/' && *end != '\0')
            continue;
        char saved = *end;
        *end = '\0';
        if (lstat(path, &st) == 0) {
            check_inside(rootfs, path);
        } else if (!saved && file) {
            int fd = check(
                open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
                     0644),
                "open(\"%s\", O_CREAT) mount point", path);
            close(fd);
        } else {
            check(mkdir(path, 0755), "mkdir(\"%s\") mount point", path);
        }
        *end = saved;
        if (!saved)
            break;
    }
}

/*
 * Refuses a mount point that resolves outside ROOTFS, as a symbolic link
 * in the image could make it do. NOTE: a process in the image could still
 * swap the path between this check and the mount; runc and crun close
 * that gap by mounting through /proc/self/fd of an O_PATH descriptor.
 */
static void check_inside(const char *rootfs, const char *target)
{
    char resolved[PATH_MAX], root[PATH_MAX];
    size_t length;

    if (!realpath(rootfs, root))
        die("realpath(\"%s\")", rootfs);
    if (!realpath(target, resolved))
        die("realpath(\"%s\")", target);
    length = strlen(root);
    if (strncmp(resolved, root, length) != 0 ||
        (resolved[length] != '/' && resolved[length] != '\0'))
        fail("mount point %s resolves to %s, outside the container's root",
             target, resolved);
}

/*
 * A "cgroup" mount. On cgroup v2 it is the one cgroup2 hierarchy. On v1,
 * as runc does, it is a tmpfs with each of the host's v1 hierarchies
 * mounted in a folder of its own name.
 */
static void mount_cgroup_fs(const struct mount_entry *m, const char *target)
{
    struct statfs fs;
    char line[4096], sub[PATH_MAX];
    FILE *mountinfo;

    if (statfs("/sys/fs/cgroup", &fs) == 0 &&
        fs.f_type == CGROUP2_SUPER_MAGIC) {
        check(mount("cgroup2", target, "cgroup2", m->flags, NULL),
              "mount(\"cgroup2\", \"%s\", \"cgroup2\")", target);
        return;
    }
    check(mount("tmpfs", target, "tmpfs", m->flags & ~MS_RDONLY, "mode=755"),
          "mount(\"tmpfs\", \"%s\", \"tmpfs\")", target);
    mountinfo = fopen("/proc/self/mountinfo", "re");
    if (!mountinfo)
        die("fopen(\"/proc/self/mountinfo\")");
    while (fgets(line, sizeof line, mountinfo)) {
        char *point, *type, *super, *name;

        if (!split_mountinfo(line, NULL, &point, &type, &super) ||
            strcmp(type, "cgroup") != 0)
            continue;
        /* The file grows as this loop mounts: skip those new lines. */
        if (strncmp(point, target, strlen(target)) == 0)
            continue;
        name = strrchr(point, '/') + 1;
        format(sub, sizeof sub, "%s/%s", target, name);
        make_dirs(sub, 0755);
        /* SUPER is "rw,memory": the controllers, after rw or ro. */
        char *controllers = strchr(super, ',') ? strchr(super, ',') + 1 : super;
        /* The hierarchy is the host's, mounted rw: ro is per mount. */
        check(
            mount("cgroup", sub, "cgroup", m->flags & ~MS_RDONLY, controllers),
            "mount(\"cgroup\", \"%s\", \"cgroup\", \"%s\")", sub, controllers);
        if (m->flags & MS_RDONLY)
            check(mount(NULL, sub, NULL, MS_REMOUNT | MS_BIND | m->flags, NULL),
                  "mount(\"%s\", MS_REMOUNT|MS_BIND|MS_RDONLY)", sub);
    }
    fclose(mountinfo);
    if (m->flags & MS_RDONLY)
        check(mount(NULL, target, NULL, MS_REMOUNT | MS_RDONLY | m->flags,
                    "mode=755"),
              "mount(\"%s\", MS_REMOUNT|MS_RDONLY)", target);
}

/* Makes each mount of the container below ROOTFS, in the given order. */
static void mount_filesystems(struct container *c, const char *rootfs)
{
    static char step_name[PATH_MAX + 16];
    int made_dev = 0;

    for (int k = 0; k < c->nmounts; k++) {
        const struct mount_entry *m = &c->mounts[k];
        char target[PATH_MAX], source[PATH_MAX];
        int bind = (m->flags & MS_BIND) != 0;
        unsigned long flags = m->flags;

        format(step_name, sizeof step_name, "mount %s", m->destination);
        step = step_name;
        format(target, sizeof target, "%s%s", rootfs, m->destination);
        if (bind && m->source[0] != '/')
            format(source, sizeof source, "%s/%s", c->bundle, m->source);
        else
            format(source, sizeof source, "%s", m->source);

        make_mount_point(rootfs, target, source, bind);

        if (strcmp(m->type, "cgroup") == 0) {
            mount_cgroup_fs(m, target);
            continue;
        }
        /* A bind mount takes MS_RDONLY only when it is remounted. */
        if (bind)
            flags &= ~MS_RDONLY;
        check(mount(source, target, bind ? NULL : m->type, flags, m->data),
              "mount(\"%s\", \"%s\", \"%s\", 0x%lx, \"%s\")", source, target,
              bind ? "bind" : m->type, flags, m->data);
        if (bind && (m->flags & MS_RDONLY))
            check(mount(NULL, target, NULL, MS_BIND | MS_REMOUNT | m->flags,
                        NULL),
                  "mount(\"%s\", MS_BIND|MS_REMOUNT|MS_RDONLY)", target);
        if (m->propagation)
            check(mount(NULL, target, NULL, m->propagation, NULL),
                  "mount(\"%s\", propagation 0x%lx)", target, m->propagation);
        if (strcmp(m->destination, "/dev") == 0 &&
            strcmp(m->type, "tmpfs") == 0)
            made_dev = 1;
    }
    if (made_dev)
        make_dev(rootfs);
}

/* The device nodes of a container's /dev (devices(7)). */
static const struct device {
    const char *name;
    unsigned int major_number, minor_number;
    const char *why;
} devices[] = {
    {"null", 1, 3, "discards writes, reads as empty"},
    {"zero", 1, 5, "reads as zero bytes"},
    {"full", 1, 7, "writes fail with ENOSPC"},
    {"random", 1, 8, "the kernel's random numbers"},
    {"urandom", 1, 9, "the same, never blocks"},
    {"tty", 5, 0, "the process's controlling terminal"},
};

/* The links a program expects in /dev, into /proc and /dev/pts. */
static const struct {
    const char *name, *target;
} dev_links[] = {
    {"fd", "/proc/self/fd"},       {"stdin", "/proc/self/fd/0"},
    {"stdout", "/proc/self/fd/1"}, {"stderr", "/proc/self/fd/2"},
    {"ptmx", "pts/ptmx"},          {"core", "/proc/kcore"},
};

/* Fills the tmpfs mounted at ROOTFS/dev. */
static void make_dev(const char *rootfs)
{
    char path[PATH_MAX];

    step = "make /dev";
    for (size_t k = 0; k < COUNT(devices); k++) {
        const struct device *d = &devices[k];

        format(path, sizeof path, "%s/dev/%s", rootfs, d->name);
        check(mknod(path, S_IFCHR | 0666,
                    makedev(d->major_number, d->minor_number)),
              "mknod(\"%s\", S_IFCHR, %u:%u)", path, d->major_number,
              d->minor_number);
        check(chmod(path, 0666), "chmod(\"%s\", 0666)", path);
    }
    for (size_t k = 0; k < COUNT(dev_links); k++) {
        format(path, sizeof path, "%s/dev/%s", rootfs, dev_links[k].name);
        check(symlink(dev_links[k].target, path), "symlink(\"%s\", \"%s\")",
              dev_links[k].target, path);
    }
}

/*
 * After pivot_root: hides the masked paths (a file under /dev/null, a
 * folder under an empty read-only tmpfs), makes the read-only paths
 * read-only, and makes a directory root read-only when asked to. Paths
 * that do not exist are skipped, as runc does.
 */
static void mask_paths(struct container *c)
{
    struct stat st;

    step = "mask paths";
    for (int k = 0; k < c->nmasked; k++) {
        const char *path = c->masked[k];

        if (stat(path, &st) < 0)
            continue;
        if (S_ISDIR(st.st_mode))
            check(mount("tmpfs", path, "tmpfs", MS_RDONLY, "size=0"),
                  "mount(\"tmpfs\", \"%s\", \"tmpfs\", MS_RDONLY)", path);
        else
            check(mount("/dev/null", path, NULL, MS_BIND, NULL),
                  "mount(\"/dev/null\", \"%s\", NULL, MS_BIND)", path);
    }
    step = "make paths read-only";
    for (int k = 0; k < c->nreadonly; k++) {
        const char *path = c->readonly_paths[k];

        if (stat(path, &st) < 0)
            continue;
        check(mount(path, path, NULL, MS_BIND | MS_REC, NULL),
              "mount(\"%s\", \"%s\", NULL, MS_BIND|MS_REC)", path, path);
        check(mount(NULL, path, NULL,
                    MS_BIND | MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV |
                        MS_NOEXEC,
                    NULL),
              "mount(\"%s\", MS_BIND|MS_REMOUNT|MS_RDONLY)", path);
    }
    if (c->readonly && !c->root_is_image)
        check(mount(NULL, "/", NULL, MS_BIND | MS_REMOUNT | MS_RDONLY, NULL),
              "mount(\"/\", MS_BIND|MS_REMOUNT|MS_RDONLY)");
}

/*
 * Section 6: cgroups (cgroups(7)).
 *
 * The container's cgroup goes below the cgroup that crater itself runs
 * in, read from /proc/self/cgroup, and never beside or above it: a host
 * supervisor that put crater into a cgroup keeps its limits on all of
 * crater's containers. The name is crater-ID, or linux.cgroupsPath of
 * config.json, taken as relative even when it starts with '/'.
 *
 * cgroup v2: one hierarchy, /sys/fs/cgroup is of type cgroup2, and one
 * directory gets pids.max, memory.max and cpu.max. cgroup v1 (or a
 * hybrid host, whose v2 hierarchy has no controllers): each controller
 * has a hierarchy of its own, /sys/fs/cgroup/pids and so on, and the
 * container gets a directory in each.
 */
enum { PIDS, MEMORY, CPU, CONTROLLERS };
static const char *const controllers[CONTROLLERS] = {"pids", "memory", "cpu"};

/* Where the container's cgroup is: one leaf per controller. */
static struct {
    int v2;
    char leaf[CONTROLLERS][PATH_MAX];
} cgroup;

/* The values written to the cgroup files; see cgroup_value(). */
enum limit {
    PIDS_MAX,
    MEMORY_MAX,
    SWAP_MAX,
    MEMSW_MAX,
    CPU_MAX,
    CPU_WEIGHT,
    CPU_PERIOD,
    CPU_QUOTA,
    CPU_SHARES,
};

static const struct cgroup_file {
    int v2; /* 1: a v2 file, 0: a v1 file */
    int controller;
    const char *name;
    enum limit value;
    const char *why;
} cgroup_files[] = {
    {1, PIDS, "pids.max", PIDS_MAX, "fork() fails with EAGAIN past it"},
    {1, MEMORY, "memory.max", MEMORY_MAX, "the OOM killer acts past it"},
    {1, MEMORY, "memory.swap.max", SWAP_MAX, "no escape into swap"},
    {1, CPU, "cpu.max", CPU_MAX, "\"QUOTA PERIOD\", in microseconds"},
    {1, CPU, "cpu.weight", CPU_WEIGHT, "share under contention, 1-10000"},
    {0, PIDS, "pids.max", PIDS_MAX, "fork() fails with EAGAIN past it"},
    {0, MEMORY, "memory.limit_in_bytes", MEMORY_MAX, "the OOM killer acts"},
    {0, MEMORY, "memory.memsw.limit_in_bytes", MEMSW_MAX, "memory + swap"},
    {0, CPU, "cpu.cfs_period_us", CPU_PERIOD,
     "before the quota: the "
     "kernel checks it"},
    {0, CPU, "cpu.cfs_quota_us", CPU_QUOTA, "run time per period"},
    {0, CPU, "cpu.shares", CPU_SHARES, "share under contention"},
};

/*
 * Writes the value of LIMIT for C into BUFFER. Returns 0 when the file
 * is to be left alone: no limit is set, or the file is one that only
 * some kernels have (swap accounting is a boot option) and is missing.
 */
static int cgroup_value(struct container *c, enum limit limit, char *buffer,
                        size_t length)
{
    long long period = c->cpu_period > 0 ? c->cpu_period : 100000;

    switch (limit) {
    case PIDS_MAX:
        if (c->pids_limit < 0)
            return cgroup.v2 ? format(buffer, length, "max") : 0;
        return format(buffer, length, "%lld", c->pids_limit);
    case MEMORY_MAX:
        if (c->memory_limit < 0)
            return cgroup.v2 ? format(buffer, length, "max") : 0;
        return format(buffer, length, "%lld", c->memory_limit);
    case SWAP_MAX:
        return c->memory_limit < 0 ? 0 : format(buffer, length, "0");
    case MEMSW_MAX:
        return c->memory_limit < 0
                   ? 0
                   : format(buffer, length, "%lld", c->memory_limit);
    case CPU_MAX:
        if (c->cpu_quota < 0)
            return format(buffer, length, "max %lld", period);
        return format(buffer, length, "%lld %lld", c->cpu_quota, period);
    case CPU_WEIGHT:
        /* The conversion runc uses: shares 2..262144 to weight 1..10000. */
        if (c->cpu_shares < 0)
            return 0;
        return format(buffer, length, "%lld",
                      1 + ((c->cpu_shares - 2) * 9999) / 262142);
    case CPU_PERIOD:
        return c->cpu_period < 0 && c->cpu_quota < 0
                   ? 0
                   : format(buffer, length, "%lld", period);
    case CPU_QUOTA:
        return c->cpu_quota < 0 ? 0
                                : format(buffer, length, "%lld", c->cpu_quota);
    case CPU_SHARES:
        return c->cpu_shares < 0
                   ? 0
                   : format(buffer, length, "%lld", c->cpu_shares);
    }
    return 0;
}

/*
 * Finds the v1 hierarchy of CONTROLLER in /proc/self/mountinfo and
 * writes the directory of crater's own cgroup in it to DIR.
 */
static int find_v1_cgroup(const char *controller, char *dir, size_t length)
{
    char line[4096], own[PATH_MAX] = "";
    FILE *file;
    int found = 0;

    /* /proc/self/cgroup: "4:memory:/path" (v1), "0::/path" (v2). */
    file = fopen("/proc/self/cgroup", "re");
    if (!file)
        die("fopen(\"/proc/self/cgroup\")");
    while (!own[0] && fgets(line, sizeof line, file)) {
        char *list = strchr(line, ':'), *path, *name;

        if (!list || !(path = strchr(++list, ':')))
            continue;
        *path++ = '\0';
        path[strcspn(path, "\n")] = '\0';
        while ((name = strsep(&list, ",")))
            if (strcmp(name, controller) == 0)
                format(own, sizeof own, "%s", path);
    }
    fclose(file);
    if (!own[0])
        return 0;

    file = fopen("/proc/self/mountinfo", "re");
    if (!file)
        die("fopen(\"/proc/self/mountinfo\")");
    while (!found && fgets(line, sizeof line, file)) {
        char *root, *point, *type, *super, *name, *list;

        if (!split_mountinfo(line, &root, &point, &type, &super) ||
            strcmp(type, "cgroup") != 0)
            continue;
        list = super;
        while ((name = strsep(&list, ",")))
            if (strcmp(name, controller) == 0)
                found = 1;
        if (!found)
            continue;
        /* A hierarchy mounted from a subtree: its root is a prefix. */
        size_t skip = strcmp(root, "/") == 0 ? 0 : strlen(root);
        if (strncmp(own, root, skip) != 0)
            skip = 0;
        format(dir, length, "%s%s", point,
               strcmp(own + skip, "/") == 0 ? "" : own + skip);
    }
    fclose(file);
    return found;
}

/*
 * Works out the cgroup directories of C without creating any, so that
 * the cleanup watcher knows them from the start: the leaves, and every
 * directory between crater's own cgroup and a leaf that does not exist
 * yet (the ones crater creates and so must remove).
 */
static void plan_cgroup(struct container *c)
{
    char name[PATH_MAX], own[PATH_MAX], line[PATH_MAX];
    struct statfs fs;

    step = "plan cgroup";
    if (c->cgroups_path) {
        const char *p = c->cgroups_path + strspn(c->cgroups_path, "/");

        char copy[PATH_MAX], *rest = copy, *part;

        /* systemd's "SLICE:PREFIX:NAME" is the scope SLICE/PREFIX-NAME. */
        char slice[PATH_MAX], *prefix, *scope = NULL;
        format(slice, sizeof slice, "%s", p);
        prefix = strchr(slice, ':');
        if (prefix && prefix > slice)
            scope = strchr(prefix + 1, ':');
        if (scope && scope > prefix + 1 && scope[1]) {
            *prefix++ = '\0';
            *scope++ = '\0';
            format(name, sizeof name, "%s/%s-%s.scope", slice, prefix, scope);
        } else {
            format(name, sizeof name, "%s", p);
        }
        format(copy, sizeof copy, "%s", name);
        while ((part = strsep(&rest, "/")))
            if (!*part || strcmp(part, ".") == 0 || strcmp(part, "..") == 0)
                fail("invalid linux.cgroupsPath '%s' in config.json "
                     "(expected a path such as /crater/web, with no empty, "
                     "'.' or '..' parts)",
                     c->cgroups_path);
    } else {
        format(name, sizeof name, "crater-%s", c->id);
    }

    cgroup.v2 =
        statfs("/sys/fs/cgroup", &fs) == 0 && fs.f_type == CGROUP2_SUPER_MAGIC;
    for (int k = 0; k < CONTROLLERS; k++) {
        if (cgroup.v2) {
            if (read_file("/proc/self/cgroup", line, sizeof line) < 0 ||
                strncmp(line, "0::", 3) != 0)
                fail("cannot find crater's own cgroup v2 in "
                     "/proc/self/cgroup");
            line[strcspn(line, "\n")] = '\0';
            format(own, sizeof own, "/sys/fs/cgroup%s",
                   strcmp(line + 3, "/") == 0 ? "" : line + 3);
            format(line, sizeof line, "%s/cgroup.controllers", own);
            char available[256] = "";
            read_file(line, available, sizeof available);
            if (!strstr(available, controllers[k]))
                fail("the %s controller is not available in %s (its "
                     "cgroup.controllers lists: %s): enable it in the "
                     "parent's cgroup.subtree_control, or use --no-cgroups",
                     controllers[k], own, available[0] ? available : "none");
        } else if (!find_v1_cgroup(controllers[k], own, sizeof own)) {
            fail("the %s cgroup controller is not mounted (no cgroup v1 "
                 "hierarchy for it in /proc/self/mountinfo, and "
                 "/sys/fs/cgroup is not cgroup2): mount it, or use "
                 "--no-cgroups",
                 controllers[k]);
        }
        format(cgroup.leaf[k], PATH_MAX, "%s/%s", own, name);

        /* Record the leaf and each missing parent, leaf first. */
        format(line, sizeof line, "%s", cgroup.leaf[k]);
        while (strlen(line) > strlen(own) && access(line, F_OK) < 0) {
            int seen = 0;

            for (int d = 0; d < c->ncgroup_dirs; d++)
                seen |= strcmp(c->cgroup_dirs[d], line) == 0;
            if (!seen && c->ncgroup_dirs < MAX_CGROUP_DIRS)
                format(c->cgroup_dirs[c->ncgroup_dirs++], PATH_MAX, "%s", line);
            *strrchr(line, '/') = '\0';
        }
        if (access(cgroup.leaf[k], F_OK) == 0)
            fail("cgroup %s already exists: another container uses it, or "
                 "one that crater could not clean up (crater delete --force "
                 "ID removes it with the container; otherwise rmdir it once "
                 "it has no processes)",
                 cgroup.leaf[k]);
    }
}

/*
 * cgroup v2 gives a controller to a cgroup's children only when the
 * parent lists it in cgroup.subtree_control, and the kernel refuses that
 * write with EBUSY while the parent has processes of its own (the "no
 * internal processes" rule), except in the root cgroup. crater cannot
 * move itself or its callers out of their cgroup, so it only writes
 * subtree_control where the controllers are not enabled yet: in a root
 * cgroup, a delegated one (systemd's Delegate=yes) or a directory that
 * crater created itself. Elsewhere it fails and says how to fix it.
 */
static void enable_controllers(const char *dir)
{
    char path[PATH_MAX], enabled[256] = "", request[16];

    format(path, sizeof path, "%s/cgroup.subtree_control", dir);
    read_file(path, enabled, sizeof enabled);
    for (int k = 0; k < CONTROLLERS; k++) {
        if (strstr(enabled, controllers[k]))
            continue;
        format(request, sizeof request, "+%s", controllers[k]);
        if (trace(write_file(path, request), "write(\"%s\", \"%s\")", path,
                  request) == 0)
            continue;
        if (errno == EBUSY)
            fail("cannot enable the %s controller in %s: that cgroup has "
                 "processes of its own, and cgroup v2 gives controllers "
                 "only to the children of a cgroup without processes. Run "
                 "crater from a cgroup with delegated controllers (such as "
                 "systemd-run --scope -p Delegate=yes), or use --no-cgroups",
                 controllers[k], dir);
        die("write(\"%s\", \"%s\")", path, request);
    }
}

/*
 * Creates the cgroup and writes the limits, before the init exists. The
 * init then starts inside it (fork_init, cgroup v2) or joins it itself
 * (join_cgroup).
 */
static void apply_cgroup_limits(struct container *c)
{
    char path[PATH_MAX], value[64];
    char shown[3][32];

    step = "apply cgroup limits";
    for (int d = c->ncgroup_dirs - 1; d >= 0; d--) {
        if (cgroup.v2) {
            format(path, sizeof path, "%s", c->cgroup_dirs[d]);
            *strrchr(path, '/') = '\0';
            enable_controllers(path);
        }
        check(mkdir(c->cgroup_dirs[d], 0755), "mkdir(\"%s\")",
              c->cgroup_dirs[d]);
    }

    for (size_t k = 0; k < COUNT(cgroup_files); k++) {
        const struct cgroup_file *f = &cgroup_files[k];

        if (f->v2 != cgroup.v2 ||
            !cgroup_value(c, f->value, value, sizeof value))
            continue;
        format(path, sizeof path, "%s/%s", cgroup.leaf[f->controller], f->name);
        if ((f->value == SWAP_MAX || f->value == MEMSW_MAX ||
             f->value == CPU_WEIGHT) &&
            access(path, F_OK) < 0)
            continue; /* no swap accounting here */
        check(write_file(path, value), "write(\"%s\", \"%s\")", path, value);
    }

    /* The leaves the init joins: one per hierarchy (one on v2). */
    for (int k = 0; k < CONTROLLERS; k++)
        if (k == 0 || strcmp(cgroup.leaf[k], cgroup.leaf[k - 1]) != 0)
            format(c->leaves[c->nleaves++], PATH_MAX, "%s", cgroup.leaf[k]);

    format(shown[0], sizeof shown[0], c->pids_limit < 0 ? "max" : "%lld",
           c->pids_limit);
    if (c->memory_limit < 0)
        format(shown[1], sizeof shown[1], "max");
    else if (c->memory_limit % (1 << 20) == 0)
        format(shown[1], sizeof shown[1], "%lldMB", c->memory_limit >> 20);
    else if (c->memory_limit % (1 << 10) == 0)
        format(shown[1], sizeof shown[1], "%lldKB", c->memory_limit >> 10);
    else
        format(shown[1], sizeof shown[1], "%lldB", c->memory_limit);
    if (c->cpu_quota < 0) {
        format(shown[2], sizeof shown[2], "max");
    } else {
        /* CPUs to 5 decimals, shown as 0.5 or 2: trailing zeros go. */
        long long period = c->cpu_period > 0 ? c->cpu_period : 100000;
        long long decimals = c->cpu_quota % period * 100000 / period;
        int n = format(shown[2], sizeof shown[2], "%lld.%05lld",
                       c->cpu_quota / period, decimals);
        while (shown[2][n - 1] == '0')
            shown[2][--n] = '\0';
        if (shown[2][n - 1] == '.')
            shown[2][--n] = '\0';
    }
    say("Parent: Cgroup limits (PID=%s, Mem=%s, CPU=%s) applied.", shown[0],
        shown[1], shown[2]);
}

/*
 * Moves the calling process into the cgroup directories LEAVES, one per
 * hierarchy. Writing "0" means "the process that writes" (cgroups(7)).
 *
 * Why the process moves itself, through the tasks file on cgroup v1:
 * a move through cgroup.procs takes a lock over every process on the
 * machine (cgroup_threadgroup_rwsem, in kernel/cgroup/cgroup.c). Taking
 * it for writing first waits for an RCU grace period: 12 ms, half the
 * run time of a short container, on a 2-CPU VM with Linux 6.18 (the
 * grace period depends on the kernel's configuration and load).
 * A thread that moves only itself, by writing "0" to tasks, cannot fork,
 * exit or execve meanwhile, so kernels with the change "cgroup: Optimize
 * single thread migration" skip that lock. Older kernels take it anyway,
 * and the move is only slower. The init has one thread, so moving the
 * thread moves the process.
 *
 * cgroup v2 has no tasks file, and cgroup.threads moves threads only
 * within one threaded subtree, so there the whole process moves through
 * cgroup.procs and pays the wait. That is why fork_init() creates the
 * init inside its cgroup on cgroup v2. This move is its fallback there,
 * and it is how `crater exec` joins the cgroup.
 */
static void join_cgroup(char leaves[][PATH_MAX], int nleaves)
{
    char path[PATH_MAX];

    step = "join cgroup";
    for (int k = 0; k < nleaves; k++) {
        format(path, sizeof path, "%s/tasks", leaves[k]);
        if (access(path, F_OK) < 0)
            format(path, sizeof path, "%s/cgroup.procs", leaves[k]);
        check(write_file(path, "0"), "write(\"%s\", \"0\")", path);
    }
}

/*
 * Forks the container's init. On cgroup v2, clone3(2) with
 * CLONE_INTO_CGROUP (Linux 5.7) creates it inside its cgroup, so it never
 * has to move (see join_cgroup). Its other arguments are fork()'s: no
 * shared memory, and SIGCHLD to the parent at the init's exit. Where
 * clone3 is missing (ENOSYS), predates CLONE_INTO_CGROUP (E2BIG) or is
 * blocked by a seccomp filter (ENOSYS or EPERM, before any process
 * exists), a plain fork() follows and the init joins its cgroup itself.
 * Other errors end crater: a clone3 that failed after taking PID 1 of
 * the new PID namespace leaves it closed to further forks.
 *
 * NOTE: the fallback has not run on the kernels crater is tested on (6.1
 * and 6.18), which all take CLONE_INTO_CGROUP.
 *
 * NOTE: clone3 has no libc wrapper, and the raw call skips libc's fork
 * bookkeeping: the child's libc still records the parent's thread ID,
 * which raise() and pthread functions use. The init calls neither.
 */
static pid_t fork_init(struct container *c)
{
    struct clone_args args = {.flags = CLONE_INTO_CGROUP,
                              .exit_signal = SIGCHLD};
    long pid;
    int saved;

    if (!c->use_cgroups || !cgroup.v2)
        return check(fork(), "fork()");
    args.cgroup = check(open(c->leaves[0], O_PATH | O_DIRECTORY | O_CLOEXEC),
                        "open(\"%s\", O_PATH)", c->leaves[0]);
    pid = syscall(SYS_clone3, &args, sizeof args);
    saved = errno;
    close(args.cgroup); /* closed in both processes */
    if (pid == 0) {
        c->born_in_cgroup = 1;
        return 0;
    }
    errno = saved;
    trace(pid, "clone3(CLONE_INTO_CGROUP, \"%s\")", c->leaves[0]);
    if (pid > 0)
        return pid;
    if (errno != ENOSYS && errno != E2BIG && errno != EPERM)
        die("clone3(CLONE_INTO_CGROUP, \"%s\")", c->leaves[0]);
    return check(fork(), "fork()");
}

/*
 * Removes the container's cgroup directories, leaf first. rmdir fails
 * with EBUSY while a process is still in the cgroup, which it can be for
 * a moment after the init was reaped, so that is retried for up to 5 s.
 */
static void remove_cgroup(struct container *c)
{
    for (int d = 0; d < c->ncgroup_dirs; d++) {
        const char *dir = c->cgroup_dirs[d];

        for (int attempt = 0; attempt < 500; attempt++) {
            if (trace(rmdir(dir), "rmdir(\"%s\")", dir) == 0 || errno == ENOENT)
                break;
            if (errno != EBUSY) {
                print(stderr, "crater: clean up: rmdir(\"%s\"): %s\n", dir,
                      strerror(errno));
                break;
            }
            usleep(10000);
        }
    }
}

/* Returns whether the OOM killer has killed a process of the container. */
static int cgroup_oom_killed(void)
{
    char path[PATH_MAX], text[1024];
    const char *count;

    /* memory.events (v2) and memory.oom_control (v1): "oom_kill N". */
    format(path, sizeof path, "%s/%s", cgroup.leaf[MEMORY],
           cgroup.v2 ? "memory.events" : "memory.oom_control");
    if (read_file(path, text, sizeof text) < 0)
        return 0;
    count = strstr(text, "oom_kill ");
    return count && atoll(count + strlen("oom_kill ")) > 0;
}

/*
 * Section 7: the loopback interface, through rtnetlink (rtnetlink(7)).
 *
 * A new network namespace has one interface, lo, and it is down. `ip
 * link set lo up` would send this same request: an RTM_NEWLINK message
 * on a NETLINK_ROUTE socket, which sets the IFF_UP flag of the link
 * named "lo". The message is a header, then the ifinfomsg, then one
 * attribute (a length, a type and the name):
 *
 *   | nlmsghdr 16 | ifinfomsg 16 | rtattr 4 | "lo\0" + pad to 4 |
 *
 * NLM_F_ACK asks the kernel to reply with an NLMSG_ERROR message whose
 * error field is 0 on success or a negative errno. The error comes back
 * in that reply, never in errno.
 */
static void bring_up_loopback(void)
{
    struct {
        struct nlmsghdr header;
        struct ifinfomsg link;
        struct rtattr name_attribute;
        char name[4];
    } request = {
        .header = {.nlmsg_len = sizeof request,
                   .nlmsg_type = RTM_NEWLINK,
                   .nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK,
                   .nlmsg_seq = 1},
        .link = {.ifi_family = AF_UNSPEC,
                 .ifi_index = 0,
                 .ifi_flags = IFF_UP,
                 .ifi_change = IFF_UP},
        .name_attribute = {.rta_len = sizeof(struct rtattr) + 3,
                           .rta_type = IFLA_IFNAME},
        .name = "lo",
    };
    struct sockaddr_nl kernel = {.nl_family = AF_NETLINK};
    struct {
        struct nlmsghdr header;
        struct nlmsgerr error;
    } reply;
    int fd;
    ssize_t n;

    step = "bring up lo";
    fd = check(socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE),
               "socket(AF_NETLINK, SOCK_RAW, NETLINK_ROUTE)");
    check(sendto(fd, &request, sizeof request, 0, (struct sockaddr *)&kernel,
                 sizeof kernel),
          "sendto(netlink, RTM_NEWLINK \"lo\" IFF_UP)");
    n = check(recv(fd, &reply, sizeof reply, 0), "recv(netlink ack)");
    close(fd);

    if (n < (ssize_t)sizeof reply.header ||
        reply.header.nlmsg_type != NLMSG_ERROR)
        fail("netlink: unexpected reply of type %d to RTM_NEWLINK",
             reply.header.nlmsg_type);
    narrate("netlink ack: error %d", reply.error.error);
    if (reply.error.error != 0) {
        errno = -reply.error.error;
        die("netlink RTM_NEWLINK \"lo\" IFF_UP");
    }
}

/*
 * Section 8: the state directory.
 *
 *   ROOT/                  /run/crater, or --root; mode 0700
 *     ID/                  mkdir is the lock for the ID; mode 0700
 *       state.json         written to state.json.tmp, then renamed
 *       exec.fifo          the init waits on it; removed by start
 *       rootfs/            mount point of the root, in the container's
 *                          mount namespace only
 *
 * state.json keeps what the other commands need: the init's PID and its
 * start time (to tell a reused PID apart), the loop device and its image,
 * and the cgroup directories to remove.
 */
static void state_path(char *out, size_t len, const char *id, const char *file)
{
    if (file)
        format(out, len, "%s/%s/%s", state_root, id, file);
    else
        format(out, len, "%s/%s", state_root, id);
}

/* Writes S as a JSON string, with the escapes JSON requires. */
static void print_json_string(FILE *out, const char *s)
{
    fputc('"', out);
    for (; *s; s++) {
        unsigned char ch = (unsigned char)*s;

        if (ch == '"' || ch == '\\')
            print(out, "\\%c", ch);
        else if (ch < 0x20)
            print(out, "\\u%04x", ch);
        else
            fputc(ch, out);
    }
    fputc('"', out);
}

/*
 * Reads the start time of PID (field 22 of /proc/PID/stat, in clock ticks
 * since boot) and its state letter. Returns 0 when there is no such PID.
 */
static unsigned long long process_start(pid_t pid, char *state)
{
    char path[64], text[1024], *after_name, *field[20];

    format(path, sizeof path, "/proc/%d/stat", (int)pid);
    if (pid <= 0 || read_file(path, text, sizeof text) < 0)
        return 0;
    /* The command name may hold spaces and ')': skip to the last ')'. */
    after_name = strrchr(text, ')');
    if (!after_name || split_fields(after_name + 1, field, 20) < 20)
        return 0;
    *state = field[0][0];                 /* field 3 */
    return strtoull(field[19], NULL, 10); /* field 22 */
}

static void write_state(struct container *c)
{
    char path[PATH_MAX], temporary[PATH_MAX], state;
    char created[64];
    time_t now = time(NULL);
    FILE *out;

    step = "write state";
    struct tm utc;
    gmtime_r(&now, &utc);
    format(created, sizeof created, "%04d-%02d-%02dT%02d:%02d:%02dZ",
           utc.tm_year + 1900, utc.tm_mon + 1, utc.tm_mday, utc.tm_hour,
           utc.tm_min, utc.tm_sec);
    state_path(path, sizeof path, c->id, "state.json");
    state_path(temporary, sizeof temporary, c->id, "state.json.tmp");
    out = fopen(temporary, "we");
    if (!out)
        die("fopen(\"%s\")", temporary);

    print(out, "{\n  \"ociVersion\": \"%s\",\n  \"id\": ", OCI_VERSION);
    print_json_string(out, c->id);
    print(out, ",\n  \"pid\": %d,\n  \"starttime\": %llu,\n  \"bundle\": ",
          (int)c->pid, process_start(c->pid, &state));
    print_json_string(out, c->bundle);
    print(out, ",\n  \"created\": \"%s\",\n  \"loop\": ", created);
    print_json_string(out, c->loop_device);
    print(out, ",\n  \"image\": ");
    print_json_string(out, c->root_is_image ? c->root_path : "");
    print(out, ",\n  \"cgroups\": [");
    for (int d = 0; d < c->ncgroup_dirs; d++) {
        print(out, "%s\n    ", d ? "," : "");
        print_json_string(out, c->cgroup_dirs[d]);
    }
    print(out, "%s],\n  \"leaves\": [", c->ncgroup_dirs ? "\n  " : "");
    for (int k = 0; k < c->nleaves; k++) {
        print(out, "%s\n    ", k ? "," : "");
        print_json_string(out, c->leaves[k]);
    }
    print(out, "%s],\n  \"cwd\": ", c->nleaves ? "\n  " : "");
    print_json_string(out, c->cwd);
    print(out, ",\n  \"uid\": %u,\n  \"gid\": %u,\n  \"env\": [",
          (unsigned)c->uid, (unsigned)c->gid);
    for (int k = 0; c->env[k]; k++) {
        print(out, "%s\n    ", k ? "," : "");
        print_json_string(out, c->env[k]);
    }
    print(out, "%s],\n  \"annotations\": {", c->env[0] ? "\n  " : "");
    for (int k = 0; k < c->nannotations; k++) {
        print(out, "%s\n    ", k ? "," : "");
        print_json_string(out, c->annotations[k][0]);
        print(out, ": ");
        print_json_string(out, c->annotations[k][1]);
    }
    print(out, "%s}\n}\n", c->nannotations ? "\n  " : "");

    if (fflush(out) != 0 || fsync(fileno(out)) != 0) {
        int saved = errno;
        fclose(out);
        errno = saved;
        die("write(\"%s\")", temporary);
    }
    fclose(out);
    check(rename(temporary, path), "rename(\"%s\", \"%s\")", temporary, path);
}

static void print_state(struct container *c, const char *status,
                        const char *created, const char *indent)
{
    int running = strcmp(status, "stopped") != 0;

    print(stdout, "%s{\n%s  \"ociVersion\": \"%s\",\n%s  \"id\": ", indent,
          indent, OCI_VERSION, indent);
    print_json_string(stdout, c->id);
    print(stdout,
          ",\n%s  \"status\": \"%s\",\n%s  \"pid\": %d,\n%s  \"bundle\": ",
          indent, status, indent, running ? (int)c->pid : 0, indent);
    print_json_string(stdout, c->bundle);
    print(stdout, ",\n%s  \"created\": \"%s\",\n%s  \"annotations\": {", indent,
          created, indent);
    for (int k = 0; k < c->nannotations; k++) {
        print(stdout, "%s\n%s    ", k ? "," : "", indent);
        print_json_string(stdout, c->annotations[k][0]);
        print(stdout, ": ");
        print_json_string(stdout, c->annotations[k][1]);
    }
    if (c->nannotations)
        print(stdout, "\n%s  ", indent);
    print(stdout, "}\n%s}", indent);
}

/*
 * The status of a container, from its live init: "stopped" when the PID
 * is gone, a zombie, or now another process (its start time differs);
 * else "created" while exec.fifo exists, and "running" after.
 */
static const char *container_status(struct container *c,
                                    unsigned long long starttime)
{
    char path[PATH_MAX], state = 0;

    if (process_start(c->pid, &state) != starttime || state == 'Z' ||
        state == 'X')
        return "stopped";
    state_path(path, sizeof path, c->id, "exec.fifo");
    return access(path, F_OK) == 0 ? "created" : "running";
}

static struct json *parse_json(const char *text, const char *file, char *error,
                               size_t error_length);
static struct json *json_member(struct json *object, const char *name);
static const char *json_text(struct json *value);

/*
 * Reads ROOT/ID/state.json into C. Returns -1 when there is none, and -2
 * when it is damaged (state_damage gives the reason). A state file is damaged
 * when it is not JSON or lacks a positive pid or starttime: a pid of 0 or
 * -1 given to kill(2) would signal whole groups of processes.
 * CREATED, when given, receives the creation time.
 */
static int read_state(const char *id, struct container *c,
                      unsigned long long *starttime, char *created,
                      size_t created_len)
{
    char path[PATH_MAX], *text;
    struct json *state, *item;
    const char *problem;
    int k;

    memset(c, 0, sizeof *c);
    state_path(path, sizeof path, id, "state.json");
    text = read_text_file(path, &problem);
    if (!text && !problem)
        return -1;
    if (!text) {
        format(state_damage, sizeof state_damage, "%s %s", path, problem);
        return -2;
    }
    /* The tree is kept, because the strings of C point into it. */
    state = parse_json(text, path, state_damage, sizeof state_damage);
    free(text);
    if (!state)
        return -2;

    format(c->id, sizeof c->id, "%s", id);
    state_path(c->state_dir, sizeof c->state_dir, id, NULL);
    c->pid = atoi(json_text(json_member(state, "pid")));
    *starttime = strtoull(json_text(json_member(state, "starttime")), NULL, 10);
    if (c->pid <= 0 || *starttime == 0) {
        format(state_damage, sizeof state_damage,
               "%s: \"pid\" or \"starttime\" is missing or not positive", path);
        return -2;
    }
    c->bundle = json_text(json_member(state, "bundle"));
    format(c->loop_device, sizeof c->loop_device, "%s",
           json_text(json_member(state, "loop")));
    c->root_path = json_text(json_member(state, "image"));
    c->root_is_image = c->root_path[0] != '\0';
    if (created)
        format(created, created_len, "%s",
               json_text(json_member(state, "created")));
    item = json_member(state, "cgroups");
    for (item = item ? item->child : NULL;
         item && c->ncgroup_dirs < MAX_CGROUP_DIRS; item = item->next)
        format(c->cgroup_dirs[c->ncgroup_dirs++], PATH_MAX, "%s",
               json_text(item));
    item = json_member(state, "leaves");
    for (item = item ? item->child : NULL; item && c->nleaves < 3;
         item = item->next)
        format(c->leaves[c->nleaves++], PATH_MAX, "%s", json_text(item));
    c->cwd = json_text(json_member(state, "cwd"));
    c->uid = (uid_t)atol(json_text(json_member(state, "uid")));
    c->gid = (gid_t)atol(json_text(json_member(state, "gid")));
    item = json_member(state, "env");
    k = 0;
    for (item = item ? item->child : NULL; item && k < MAX_LIST;
         item = item->next)
        c->env[k++] = json_text(item);
    item = json_member(state, "annotations");
    for (item = item ? item->child : NULL; item && c->nannotations < MAX_LIST;
         item = item->next) {
        c->annotations[c->nannotations][0] = item->key;
        c->annotations[c->nannotations++][1] = json_text(item);
    }
    return 0;
}

/* Removes a state directory: its files, the rootfs folder, itself. */
static void remove_state_dir(const char *dir)
{
    static const char *const entries[] = {
        "state.json",
        "state.json.tmp",
        "exec.fifo",
    };
    char path[PATH_MAX];

    for (size_t k = 0; k < COUNT(entries); k++) {
        format(path, sizeof path, "%s/%s", dir, entries[k]);
        if (trace(unlink(path), "unlink(\"%s\")", path) < 0 && errno != ENOENT)
            print(stderr, "crater: clean up: unlink(\"%s\"): %s\n", path,
                  strerror(errno));
    }
    format(path, sizeof path, "%s/rootfs", dir);
    if (trace(rmdir(path), "rmdir(\"%s\")", path) < 0 && errno != ENOENT)
        print(stderr, "crater: clean up: rmdir(\"%s\"): %s\n", path,
              strerror(errno));
    if (trace(rmdir(dir), "rmdir(\"%s\")", dir) < 0 && errno != ENOENT)
        print(stderr, "crater: clean up: rmdir(\"%s\"): %s\n", dir,
              strerror(errno));
}

/*
 * Section 9: config.json.
 *
 * A JSON parser in the shape of the grammar of RFC 8259: one function
 * per kind of value, each reading from the cursor and returning a tree
 * node. Numbers keep their text, converted where a field is read. An
 * error gives the line and column and what was expected there, as
 * "config.json:3:14: expected ',' or '}'". Nothing is freed: crater
 * exits soon after reading its config.
 */
struct parser {
    const char *cursor;
    const char *line_start;
    int line;
    int depth;
    const char *file;
    char *error;
    size_t error_length;
};

#define JSON_MAX_DEPTH 64 /* deeper input is rejected */

static struct json *parse_value(struct parser *p);

/* Records an error at the cursor; returns NULL for the caller to pass on. */
static struct json *json_error(struct parser *p, const char *expected)
{
    if (!p->error[0])
        format(p->error, p->error_length, "%s:%d:%d: expected %s", p->file,
               p->line, (int)(p->cursor - p->line_start) + 1, expected);
    return NULL;
}

static void skip_space(struct parser *p)
{
    for (; strchr(" \t\r\n", *p->cursor) && *p->cursor; p->cursor++)
        if (*p->cursor == '\n') {
            p->line++;
            p->line_start = p->cursor + 1;
        }
}

static struct json *new_json(enum json_type type)
{
    struct json *value = calloc(1, sizeof *value);

    if (!value)
        die("calloc()");
    value->type = type;
    return value;
}

/* Appends code point CODE to OUT as UTF-8; returns the bytes written. */
static int put_utf8(char *out, unsigned long code)
{
    if (code < 0x80)
        return out[0] = (char)code, 1;
    if (code < 0x800)
        return out[0] = (char)(0xC0 | code >> 6),
               out[1] = (char)(0x80 | (code & 0x3F)), 2;
    if (code < 0x10000)
        return out[0] = (char)(0xE0 | code >> 12),
               out[1] = (char)(0x80 | ((code >> 6) & 0x3F)),
               out[2] = (char)(0x80 | (code & 0x3F)), 3;
    return out[0] = (char)(0xF0 | code >> 18),
           out[1] = (char)(0x80 | ((code >> 12) & 0x3F)),
           out[2] = (char)(0x80 | ((code >> 6) & 0x3F)),
           out[3] = (char)(0x80 | (code & 0x3F)), 4;
}

/* Reads 4 hex digits of a \u escape; returns -1 when they are not. */
static long read_hex4(const char *s)
{
    long code = 0;

    for (int k = 0; k < 4; k++) {
        int digit = isdigit((unsigned char)s[k]) ? s[k] - '0'
                    : isxdigit((unsigned char)s[k])
                        ? tolower((unsigned char)s[k]) - 'a' + 10
                        : -1;
        if (digit < 0)
            return -1;
        code = code * 16 + digit;
    }
    return code;
}

/* Frees VALUE, its siblings and everything below them. */
static void free_json(struct json *value)
{
    while (value) {
        struct json *next = value->next;

        free_json(value->child);
        if (value->type != JSON_BOOL && value->type != JSON_NULL)
            free(value->text);
        free((char *)value->key);
        free(value);
        value = next;
    }
}

/* Records an error inside a string and frees the partial text. */
static char *string_error(struct parser *p, char *text, const char *expected)
{
    free(text);
    json_error(p, expected);
    return NULL;
}

/* Records an error inside an array or object and frees what was read. */
static struct json *container_error(struct parser *p, struct json *value,
                                    const char *key, const char *expected)
{
    free((char *)key);
    free_json(value);
    return expected ? json_error(p, expected) : NULL;
}

/* Parses a string at the cursor, which is on its opening quote. */
static char *parse_string(struct parser *p)
{
    const char *s = ++p->cursor;
    size_t length = 0;
    char *out, *end;

    /* An escape never grows the text, so the raw length is enough. */
    while (*s && *s != '"')
        s += (*s == '\\' && s[1]) ? 2 : 1;
    length = (size_t)(s - p->cursor);
    out = end = malloc(length + 1);
    if (!out)
        die("malloc()");

    while (*p->cursor != '"') {
        unsigned char ch = (unsigned char)*p->cursor;

        if (ch == '\0')
            return string_error(p, out, "'\"' to end the string");
        if (ch < 0x20)
            return string_error(p, out, "no control character in a string");
        if (ch != '\\') {
            *end++ = *p->cursor++;
            continue;
        }
        p->cursor++;
        const char *escape = strchr("\"\\/bfnrt", *p->cursor);
        if (*p->cursor && escape) {
            *end++ = "\"\\/\b\f\n\r\t"[escape - "\"\\/bfnrt"];
            p->cursor++;
            continue;
        }
        if (*p->cursor != 'u')
            return string_error(p, out, "an escape such as \\n or \\u00e9");
        long code = read_hex4(p->cursor + 1);
        if (code < 0)
            return string_error(p, out, "4 hex digits after \\u");
        p->cursor += 5;
        if (code >= 0xD800 && code <= 0xDBFF) {
            long low = p->cursor[0] == '\\' && p->cursor[1] == 'u'
                           ? read_hex4(p->cursor + 2)
                           : -1;
            if (low < 0xDC00 || low > 0xDFFF)
                return string_error(p, out, "a low surrogate \\uDC00-\\uDFFF");
            code = 0x10000 + ((code - 0xD800) << 10) + (low - 0xDC00);
            p->cursor += 6;
        }
        if (code == 0)
            return string_error(p, out, "no \\u0000 in a string");
        end += put_utf8(end, (unsigned long)code);
    }
    p->cursor++;
    *end = '\0';
    return out;
}

static struct json *parse_number(struct parser *p)
{
    const char *start = p->cursor;
    struct json *value;

    if (*p->cursor == '-')
        p->cursor++;
    if (*p->cursor == '0')
        p->cursor++;
    else if (isdigit((unsigned char)*p->cursor))
        while (isdigit((unsigned char)*p->cursor))
            p->cursor++;
    else
        return json_error(p, "a digit");
    if (*p->cursor == '.') {
        if (!isdigit((unsigned char)*++p->cursor))
            return json_error(p, "a digit after '.'");
        while (isdigit((unsigned char)*p->cursor))
            p->cursor++;
    }
    if (*p->cursor == 'e' || *p->cursor == 'E') {
        p->cursor++;
        if (*p->cursor == '+' || *p->cursor == '-')
            p->cursor++;
        if (!isdigit((unsigned char)*p->cursor))
            return json_error(p, "a digit in the exponent");
        while (isdigit((unsigned char)*p->cursor))
            p->cursor++;
    }
    value = new_json(JSON_NUMBER);
    value->text = strndup(start, (size_t)(p->cursor - start));
    return value;
}

/* Parses an array or an object: the cursor is on '[' or '{'. */
static struct json *parse_container(struct parser *p, char open)
{
    char close = open == '[' ? ']' : '}';
    struct json *value = new_json(open == '[' ? JSON_ARRAY : JSON_OBJECT);
    struct json **tail = &value->child;

    if (++p->depth > JSON_MAX_DEPTH)
        return container_error(p, value, NULL,
                               "at most 64 nested arrays and objects");
    p->cursor++;
    skip_space(p);
    if (*p->cursor == close) {
        p->cursor++;
        p->depth--;
        return value;
    }
    for (;;) {
        const char *key = NULL;
        struct json *item;

        if (open == '{') {
            if (*p->cursor != '"')
                return container_error(p, value, NULL,
                                       "'\"' to start a member name");
            if (!(key = parse_string(p)))
                return container_error(p, value, NULL, NULL);
            skip_space(p);
            if (*p->cursor != ':')
                return container_error(p, value, key,
                                       "':' after a member name");
            p->cursor++;
        }
        if (!(item = parse_value(p)))
            return container_error(p, value, key, NULL);
        item->key = key;
        *tail = item;
        tail = &item->next;
        skip_space(p);
        if (*p->cursor == ',') {
            p->cursor++;
            skip_space(p);
            continue;
        }
        if (*p->cursor == close) {
            p->cursor++;
            p->depth--;
            return value;
        }
        return container_error(p, value, NULL,
                               open == '[' ? "',' or ']'" : "',' or '}'");
    }
}

static struct json *parse_value(struct parser *p)
{
    static const struct {
        const char *word;
        enum json_type type;
    } words[] = {
        {"true", JSON_BOOL},
        {"false", JSON_BOOL},
        {"null", JSON_NULL},
    };
    struct json *value;

    skip_space(p);
    if (*p->cursor == '{' || *p->cursor == '[')
        return parse_container(p, *p->cursor);
    if (*p->cursor == '"') {
        value = new_json(JSON_STRING);
        if (!(value->text = parse_string(p)))
            return container_error(p, value, NULL, NULL);
        return value;
    }
    if (*p->cursor == '-' || isdigit((unsigned char)*p->cursor))
        return parse_number(p);
    for (size_t k = 0; k < COUNT(words); k++)
        if (strncmp(p->cursor, words[k].word, strlen(words[k].word)) == 0) {
            value = new_json(words[k].type);
            value->text = (char *)words[k].word;
            p->cursor += strlen(words[k].word);
            return value;
        }
    return json_error(p, *p->cursor ? "a value (object, array, string, "
                                      "number, true, false or null)"
                                    : "a value, not the end of the file");
}

/*
 * Parses TEXT, read from FILE, as one JSON value. Returns NULL and writes
 * "FILE:LINE:COLUMN: expected ..." to ERROR on malformed input.
 */
static struct json *parse_json(const char *text, const char *file, char *error,
                               size_t error_length)
{
    struct parser p = {.cursor = text,
                       .line_start = text,
                       .line = 1,
                       .file = file,
                       .error = error,
                       .error_length = error_length};
    struct json *value;

    error[0] = '\0';
    value = parse_value(&p);
    if (!value)
        return NULL;
    skip_space(&p);
    if (*p.cursor)
        return container_error(&p, value, NULL,
                               "the end of the file after the value");
    return value;
}

static struct json *json_member(struct json *object, const char *name)
{
    struct json *found = NULL;

    if (!object || object->type != JSON_OBJECT)
        return NULL;
    /* A name given twice: the last one counts, as in Go's encoding/json. */
    for (struct json *m = object->child; m; m = m->next)
        if (strcmp(m->key, name) == 0)
            found = m;
    return found;
}

static const char *json_text(struct json *value)
{
    return value && value->text ? value->text : "";
}

/*
 * The readers of config.json fields. Each takes the path of the field
 * for its error message, checks the type and fails with
 * "config.json: process.cwd: expected a string".
 */
static struct json *config_field(struct json *object, const char *path,
                                 enum json_type type, const char *expected)
{
    const char *name = strrchr(path, '.') ? strrchr(path, '.') + 1 : path;
    struct json *value = json_member(object, name);

    if (value && value->type == JSON_NULL)
        return NULL;
    if (value && value->type != type)
        fail("config.json: %s: expected %s", path, expected);
    return value;
}

static const char *config_string(struct json *object, const char *path)
{
    struct json *value = config_field(object, path, JSON_STRING, "a string");

    return value ? value->text : NULL;
}

static int config_bool(struct json *object, const char *path)
{
    struct json *value = config_field(object, path, JSON_BOOL, "true or false");

    return value && strcmp(value->text, "true") == 0;
}

/* Reads a whole number from MIN to MAX; returns DEFAULT when absent. */
static long long config_integer(struct json *object, const char *path,
                                long long min, long long max,
                                long long default_value)
{
    struct json *value =
        config_field(object, path, JSON_NUMBER, "a whole number");
    char *end;
    long long n;

    if (!value)
        return default_value;
    errno = 0;
    n = strtoll(value->text, &end, 10);
    if (errno || *end || n < min || n > max)
        fail("config.json: %s: expected a whole number from %lld to %lld, "
             "not %s",
             path, min, max, value->text);
    return n;
}

/* Copies an array of strings into LIST; returns how many. */
static int config_strings(struct json *object, const char *path,
                          const char **list, int max)
{
    struct json *array =
        config_field(object, path, JSON_ARRAY, "an array of strings");
    int count = 0;

    for (struct json *item = array ? array->child : NULL; item;
         item = item->next) {
        if (item->type != JSON_STRING)
            fail("config.json: %s: expected an array of strings", path);
        if (count >= max)
            fail("config.json: %s: too many entries (at most %d)", path, max);
        list[count++] = item->text;
    }
    return count;
}

static void config_process(struct container *c, struct json *config)
{
    struct json *process, *user;
    int nargs;

    process = config_field(config, "process", JSON_OBJECT, "an object");
    if (!process)
        fail("config.json: process is missing");
    nargs = config_strings(process, "process.args", c->args, MAX_LIST);
    c->args[nargs] = NULL;
    config_strings(process, "process.env", c->env, MAX_LIST);
    c->cwd = config_string(process, "process.cwd");
    if (!c->cwd || c->cwd[0] != '/')
        fail("config.json: process.cwd: expected an absolute path");
    c->terminal = config_bool(process, "process.terminal");

    user = config_field(process, "process.user", JSON_OBJECT, "an object");
    c->uid =
        (uid_t)config_integer(user, "process.user.uid", 0, UINT32_MAX - 1, 0);
    c->gid =
        (gid_t)config_integer(user, "process.user.gid", 0, UINT32_MAX - 1, 0);
    struct json *groups = config_field(user, "process.user.additionalGids",
                                       JSON_ARRAY, "an array of numbers");
    for (struct json *g = groups ? groups->child : NULL; g; g = g->next) {
        char *end;

        if (g->type != JSON_NUMBER || c->ngroups >= MAX_LIST)
            fail("config.json: process.user.additionalGids: expected up to "
                 "%d group IDs",
                 MAX_LIST);
        c->groups[c->ngroups++] = (gid_t)strtoul(g->text, &end, 10);
    }
}

static void config_mounts(struct container *c, struct json *config)
{
    struct json *mounts =
        config_field(config, "mounts", JSON_ARRAY, "an array of objects");

    for (struct json *item = mounts ? mounts->child : NULL; item;
         item = item->next) {
        struct mount_entry *m;
        const char *options[MAX_LIST];
        int noptions;

        if (item->type != JSON_OBJECT)
            fail("config.json: mounts: expected an array of objects");
        if (c->nmounts >= MAX_LIST)
            fail("config.json: mounts: too many (at most %d)", MAX_LIST);
        m = &c->mounts[c->nmounts++];
        m->destination = config_string(item, "mounts.destination");
        m->type = config_string(item, "mounts.type");
        m->source = config_string(item, "mounts.source");
        if (!m->destination || m->destination[0] != '/')
            fail("config.json: mounts.destination: expected an absolute "
                 "path");
        if (strstr(m->destination, ".."))
            fail("config.json: mounts.destination: '%s' contains '..'",
                 m->destination);
        noptions = config_strings(item, "mounts.options", options, MAX_LIST);
        for (int k = 0; k < noptions; k++)
            add_mount_option(m, options[k]);
        if (!m->type)
            m->type = (m->flags & MS_BIND) ? "bind" : "none";
        if (strcmp(m->type, "bind") == 0)
            m->flags |= MS_BIND;
        if (!m->source)
            m->source = m->type;
    }
}

static void config_linux(struct container *c, struct json *config)
{
    struct json *linux_section, *namespaces, *resources, *group;
    int nreadonly;

    linux_section = config_field(config, "linux", JSON_OBJECT, "an object");
    namespaces = config_field(linux_section, "linux.namespaces", JSON_ARRAY,
                              "an array of objects");
    for (struct json *n = namespaces ? namespaces->child : NULL; n;
         n = n->next) {
        const char *type = config_string(n, "linux.namespaces.type");
        const char *path = config_string(n, "linux.namespaces.path");
        size_t k;

        for (k = 0; k < COUNT(namespace_types); k++)
            if (type && strcmp(type, namespace_types[k].name) == 0)
                break;
        if (k == COUNT(namespace_types))
            fail("config.json: linux.namespaces: unsupported type '%s' "
                 "(crater supports pid, network, ipc, uts, mount and "
                 "cgroup)",
                 type ? type : "");
        if (path && *path) {
            if (c->njoins >= (int)COUNT(c->joins))
                fail("config.json: linux.namespaces: too many paths");
            c->joins[c->njoins].type = namespace_types[k].flag;
            c->joins[c->njoins++].path = path;
        } else {
            c->unshare_flags |= namespace_types[k].flag;
        }
    }
    if (!(c->unshare_flags & CLONE_NEWNS))
        fail("config.json: linux.namespaces: crater needs a new mount "
             "namespace: add {\"type\": \"mount\"}");

    resources = config_field(linux_section, "linux.resources", JSON_OBJECT,
                             "an object");
    group = config_field(resources, "linux.resources.pids", JSON_OBJECT,
                         "an object");
    c->pids_limit =
        config_integer(group, "linux.resources.pids.limit", -1, 4194304, -1);
    if (c->pids_limit == 0)
        c->pids_limit = -1;
    group = config_field(resources, "linux.resources.memory", JSON_OBJECT,
                         "an object");
    c->memory_limit = config_integer(group, "linux.resources.memory.limit", -1,
                                     LLONG_MAX, -1);
    if (c->memory_limit == 0)
        c->memory_limit = -1; /* 0 means no limit, as runc reads it */
    group = config_field(resources, "linux.resources.cpu", JSON_OBJECT,
                         "an object");
    c->cpu_quota =
        config_integer(group, "linux.resources.cpu.quota", -1, LLONG_MAX, -1);
    c->cpu_period =
        config_integer(group, "linux.resources.cpu.period", -1, 1000000, -1);
    c->cpu_shares =
        config_integer(group, "linux.resources.cpu.shares", -1, 262144, -1);
    if (c->cpu_quota == 0)
        fail("config.json: linux.resources.cpu.quota: 0 would stop the "
             "container; use -1 for no limit");
    c->cgroups_path = config_string(linux_section, "linux.cgroupsPath");

    c->nmasked =
        config_strings(linux_section, "linux.maskedPaths", c->masked, MAX_LIST);
    nreadonly = config_strings(linux_section, "linux.readonlyPaths",
                               c->readonly_paths, MAX_LIST);
    c->nreadonly = nreadonly;
}

/*
 * Reads BUNDLE/config.json into C. Fields crater does not know are
 * ignored, as the OCI runtime spec allows.
 */
static void load_config(struct container *c, const char *bundle)
{
    static char bundle_path[PATH_MAX], root[PATH_MAX];
    char path[PATH_MAX], error[512];
    struct json *config, *root_section, *annotations;
    const char *version, *root_path;
    const char *problem;
    char *text;

    step = "read config.json";
    if (!realpath(bundle, bundle_path))
        die("realpath(\"%s\") (the bundle)", bundle);
    c->bundle = bundle_path;
    format(path, sizeof path, "%s/config.json", bundle_path);
    text = read_text_file(path, &problem);
    if (!text && problem)
        fail("%s %s", path, problem);
    if (!text)
        die("read(\"%s\")", path);

    config = parse_json(text, "config.json", error, sizeof error);
    if (!config)
        fail("%s", error);
    if (config->type != JSON_OBJECT)
        fail("config.json: expected an object at the top");

    version = config_string(config, "ociVersion");
    if (!version)
        fail("config.json: ociVersion is missing");
    if (strncmp(version, "1.0.", 4) != 0)
        fail("config.json: ociVersion %s is not supported (crater reads "
             "1.0.x)",
             version);

    root_section = config_field(config, "root", JSON_OBJECT, "an object");
    root_path = config_string(root_section, "root.path");
    if (!root_path || !*root_path)
        fail("config.json: root.path is missing");
    if (root_path[0] == '/')
        format(path, sizeof path, "%s", root_path);
    else
        format(path, sizeof path, "%s/%s", bundle_path, root_path);
    if (!realpath(path, root))
        die("realpath(\"%s\") (root.path)", path);
    c->root_path = root;
    c->readonly = config_bool(root_section, "root.readonly");

    config_process(c, config);
    if (c->args[0] == NULL)
        fail("config.json: process.args is missing or empty");
    c->hostname = config_string(config, "hostname");
    if (c->hostname && strlen(c->hostname) > 64)
        fail("config.json: hostname '%s' is longer than 64 characters",
             c->hostname);
    config_mounts(c, config);
    config_linux(c, config);
    if (c->hostname && *c->hostname && !(c->unshare_flags & CLONE_NEWUTS))
        fail("config.json: hostname is set, but without a new uts "
             "namespace it would change the host's: add {\"type\": "
             "\"uts\"} to linux.namespaces, or remove hostname");

    annotations = config_field(config, "annotations", JSON_OBJECT, "an object");
    for (struct json *a = annotations ? annotations->child : NULL;
         a && c->nannotations < MAX_LIST; a = a->next) {
        if (a->type != JSON_STRING)
            fail("config.json: annotations: expected string values");
        c->annotations[c->nannotations][0] = a->key;
        c->annotations[c->nannotations++][1] = a->text;
    }
}

/*
 * exec: a second process in a running container. It joins the init's
 * namespaces through /proc/PID/ns, then its cgroup, then forks, because
 * a new PID namespace applies to children only (as for the init itself).
 * The mount namespace comes last: after setns() into it, "/proc" means
 * the container's /proc, so every file is opened before the first join.
 */
static int cmd_exec(int argc, char **argv)
{
    static const char *extra_env[MAX_LIST];
    static struct container c;
    const char *cwd = NULL, *value;
    unsigned long long starttime;
    int nextra = 0, fds[COUNT(namespace_types)], status, i;
    char path[PATH_MAX];
    pid_t pid;

    error_status = 125;
    for (i = 1; i < argc && argv[i][0] == '-'; i++) {
        if (verbosity_option(argv[i]))
            continue;
        if (strcmp(argv[i], "--") == 0) {
            i++;
            break;
        }
        if ((value = option_value(argc, argv, &i, "--env")) ||
            (value = option_value(argc, argv, &i, "-e"))) {
            if (value[0] == '=' || !strchr(value, '=') || nextra >= MAX_LIST)
                usage_error("invalid value for --env: '%s' (expected "
                            "NAME=VALUE)",
                            value);
            extra_env[nextra++] = value;
        } else if ((value = option_value(argc, argv, &i, "--cwd"))) {
            if (value[0] != '/')
                usage_error("invalid value for --cwd: '%s' (expected an "
                            "absolute path)",
                            value);
            cwd = value;
        } else {
            usage_error("unknown option '%s' for exec%s", argv[i],
                        global_hint(argv[i]));
        }
    }
    if (argc - i < 2)
        usage_error("exec takes a container ID and a command");
    check_id(argv[i]);
    need_state(argv[i], &c, &starttime, NULL, 0);
    if (strcmp(container_status(&c, starttime), "running") != 0)
        fail("container '%s' is not running (it is %s)", c.id,
             container_status(&c, starttime));
    if (argc - i - 1 > MAX_LIST)
        usage_error("too many arguments (at most %d)", MAX_LIST);
    for (int k = 0; k < argc - i - 1; k++)
        c.args[k] = argv[i + 1 + k];
    for (int k = 0; k < nextra; k++)
        set_env(&c, extra_env[k]);
    if (cwd)
        c.cwd = cwd;

    /* Open every namespace first: after the mount one, /proc changes. */
    step = "join namespaces";
    for (size_t k = 0; k < COUNT(namespace_types); k++) {
        format(path, sizeof path, "/proc/%d/ns/%s", (int)c.pid,
               namespace_types[k].proc_name);
        fds[k] = check(open(path, O_RDONLY | O_CLOEXEC), "open(\"%s\")", path);
    }

    /* The cgroup: the same leaves the init joined. */
    join_cgroup(c.leaves, c.nleaves);

    step = "join namespaces";
    for (size_t k = 0; k < COUNT(namespace_types); k++) {
        check(setns(fds[k], namespace_types[k].flag),
              "setns(/proc/%d/ns/%s, "
              "%s)",
              (int)c.pid, namespace_types[k].proc_name,
              namespace_types[k].flag_name);
        close(fds[k]);
    }

    pid = check(fork(), "fork() in the container");
    if (pid == 0) {
        check(prctl(PR_SET_PDEATHSIG, SIGKILL), "prctl(PR_SET_PDEATHSIG)");
        exec_command(&c);
    }
    c.pid = pid;
    c.use_cgroups = 0;
    forward_signals(pid);
    status = wait_container(&c);
    return status;
}

/*
 * Section 10: errors and narration.
 *
 * Progress lines, the narration of -v and every error go to stderr;
 * stdout carries only the output of state and list. An error names the
 * step, the call with its arguments and the errno text:
 *
 *   crater: mount image: mount("/dev/loop3", ...): Invalid argument
 *   crater: hint: ...
 */

/* Hints for the errors that puzzle people, matched on errno and text. */
static const struct hint {
    int error;
    const char *where; /* in the step or the call */
    const char *text;
} hints[] = {
    {ENOENT, "loop-control", "the loop driver is not loaded: modprobe loop"},
    {ENOENT, "find image",
     "build an image with ./mkimage.sh, or name one "
     "with --image FILE"},
    {ENOENT, "check image",
     "build an image with ./mkimage.sh, or name one "
     "with --image FILE"},
    {EACCES, "check image",
     "the image is not readable: check its mode "
     "and owner"},
    {EINVAL, "pivot_root",
     "pivot_root needs the new root to be a mount "
     "point and the old root not to be the initial "
     "ramfs (boot with a real root, or switch_root "
     "to a tmpfs first)"},
    {EINVAL, "mount image",
     "the image may be damaged or truncated: check "
     "it with e2fsck -f IMAGE, or rebuild it with "
     "./mkimage.sh"},
    {EBUSY, "loop", "another process is using that loop device"},
    {EBADMSG, "mount image",
     "the ext4 file system is damaged: check it with e2fsck -f IMAGE, or "
     "rebuild it with ./mkimage.sh"},
    {EPERM, "open image",
     "the image file is immutable or append-only (lsattr shows it): "
     "chattr -i it, or run with --read-only"},
    {EAGAIN, "fork() in the container",
     "the container's cgroup reached its pids limit: raise --pids (or "
     "linux.resources.pids.limit)"},
    {ENOENT, "read config.json",
     "no config.json in that folder: run in a bundle folder or name one "
     "with --bundle DIR"},
    {EROFS, "mount",
     "the root is read-only: add the mount point to the "
     "image"},
    {ENOSPC, "state",
     "the file system of the state directory is full: "
     "free space there or pick another --root"},
    {ENOSPC, "pid file", "the file system of the pid file is full"},
};

static void print_hint(int error, const char *call)
{
    if ((error == EPERM || error == EACCES) && geteuid() != 0) {
        print(stderr, "crater: hint: crater must run as root (try "
                      "sudo)\n");
        return;
    }
    for (size_t k = 0; k < COUNT(hints); k++)
        if (hints[k].error == error &&
            (strstr(step, hints[k].where) || strstr(call, hints[k].where))) {
            print(stderr, "crater: hint: %s\n", hints[k].text);
            return;
        }
}

/* Ends crater (or the child) with error_status; the watcher cleans up. */
static void __attribute__((noreturn)) finish_with_error(void)
{
    fflush(stdout);
    abandon_container();
    exit(error_status);
}

/* Reports the failed call FMT with the current errno, then exits. */
static void die(const char *fmt, ...)
{
    int saved = errno;
    char call[2 * PATH_MAX];
    va_list ap;

    va_start(ap, fmt);
    vformat(call, sizeof call, fmt, ap);
    va_end(ap);
    print(stderr, "crater: %s: %s: %s\n", step, call, strerror(saved));
    print_hint(saved, call);
    finish_with_error();
}

/* Reports an error that no errno describes, then exits. */
static void fail(const char *fmt, ...)
{
    va_list ap;

    print(stderr, "crater: %s: ", step);
    va_start(ap, fmt);
    vprint(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    finish_with_error();
}

/* Reports a mistake on the command line, then exits with status 2. */
static void usage_error(const char *fmt, ...)
{
    va_list ap;

    print(stderr, "crater: ");
    va_start(ap, fmt);
    vprint(stderr, fmt, ap);
    va_end(ap);
    print(stderr, "\nRun 'crater --help' for usage.\n");
    exit(2);
}

/*
 * Narrates a system call under -v and returns its result RC, keeping
 * errno, for calls whose failure the caller handles.
 */
static long trace(long rc, const char *fmt, ...)
{
    int saved = errno;
    va_list ap;

    if (verbosity >= 2) {
        print(stderr, "crater[%d]: ", (int)getpid());
        va_start(ap, fmt);
        vprint(stderr, fmt, ap);
        va_end(ap);
        if (rc < 0)
            print(stderr, " = -1 %s\n", strerror(saved));
        else
            print(stderr, " = %ld\n", rc);
    }
    errno = saved;
    return rc;
}

/* Narrates a system call under -v; exits through die() when RC < 0. */
static long check(long rc, const char *fmt, ...)
{
    int saved = errno;
    char call[2 * PATH_MAX];
    va_list ap;

    va_start(ap, fmt);
    vformat(call, sizeof call, fmt, ap);
    va_end(ap);
    if (rc < 0) {
        errno = saved;
        die("%s", call);
    }
    if (verbosity >= 2)
        print(stderr, "crater[%d]: %s = %ld\n", (int)getpid(), call, rc);
    return rc;
}

/* Prints a progress line, unless -q. */
static void say(const char *fmt, ...)
{
    va_list ap;

    if (verbosity < 1)
        return;
    va_start(ap, fmt);
    vprint(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

/* Prints a line of detail under -v. */
static void narrate(const char *fmt, ...)
{
    va_list ap;

    if (verbosity < 2)
        return;
    print(stderr, "crater[%d]: ", (int)getpid());
    va_start(ap, fmt);
    vprint(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

/*
 * Formatting: format() is crater's snprintf and print() its fprintf.
 * They know only what crater uses: %s, %c, %%, and %d, %u and %x with
 * l, ll or z, a width and the flags '-' (pad on the right) and '0'
 * (for numbers that are not negative). An unknown conversion shows as %?
 * and ends the text, since its argument cannot be skipped.
 * musl's printf also formats floating point: it was 10 KiB of the 130 KiB
 * that crater's binary weighed with it. The format attribute on each
 * declaration lets the compiler check the arguments as it does for printf.
 */
struct text {
    char *buf;
    size_t size;
    size_t length; /* of the whole result, even past SIZE, as snprintf */
};

/* Appends LENGTH bytes of S, padded with PAD to WIDTH, left or right. */
static void append(struct text *t, const char *s, size_t length, int width,
                   int left, char pad)
{
    for (int k = (int)length; !left && k < width; k++)
        append(t, &pad, 1, 0, 0, pad);
    for (size_t k = 0; k < length; k++, t->length++)
        if (t->length + 1 < t->size)
            t->buf[t->length] = s[k];
    for (int k = (int)length; left && k < width; k++)
        append(t, " ", 1, 0, 0, ' ');
}

static int vformat(char *buf, size_t size, const char *fmt, va_list ap)
{
    struct text t = {buf, size, 0};

    for (; *fmt; fmt++) {
        char digits[24], *end = digits + sizeof digits, *p = end;
        int left = 0, width = 0, longs = 0, negative = 0;
        unsigned long long n;
        char pad = ' ';
        const char *s;

        if (*fmt != '%') {
            append(&t, fmt, 1, 0, 0, ' ');
            continue;
        }
        if (!*++fmt)
            break; /* a '%' at the end */
        if (*fmt == '-') {
            left = 1;
            fmt++;
        }
        if (*fmt == '0') {
            pad = '0';
            fmt++;
        }
        while (isdigit((unsigned char)*fmt))
            width = width * 10 + (*fmt++ - '0');
        /* z: a size_t has the size of an unsigned long on Linux. */
        for (; *fmt == 'l' || *fmt == 'z'; fmt++)
            longs++;
        switch (*fmt) {
        case 's':
            s = va_arg(ap, const char *);
            if (!s)
                s = "(null)";
            append(&t, s, strlen(s), width, left, ' ');
            continue;
        case 'c':
            *--p = (char)va_arg(ap, int);
            append(&t, p, 1, width, left, ' ');
            continue;
        case 'd': {
            long long value = longs == 2   ? va_arg(ap, long long)
                              : longs == 1 ? va_arg(ap, long)
                                           : va_arg(ap, int);
            negative = value < 0;
            n = negative ? -(unsigned long long)value
                         : (unsigned long long)value;
            break;
        }
        case 'u':
        case 'x':
            n = longs == 2   ? va_arg(ap, unsigned long long)
                : longs == 1 ? va_arg(ap, unsigned long)
                             : va_arg(ap, unsigned int);
            break;
        case '%':
            append(&t, fmt, 1, 0, 0, ' ');
            continue;
        default:
            /* Unknown: its argument cannot be skipped, so stop, visibly. */
            append(&t, "%?", 2, 0, 0, ' ');
            goto end;
        }
        /* The digits, from the last one back. */
        do
            *--p = "0123456789abcdef"[n % (*fmt == 'x' ? 16 : 10)];
        while ((n /= (*fmt == 'x' ? 16 : 10)) > 0);
        if (negative)
            *--p = '-';
        append(&t, p, (size_t)(end - p), width, left, pad);
    }
end:
    if (size > 0)
        buf[t.length < size ? t.length : size - 1] = '\0';
    return (int)t.length;
}

static int format(char *buf, size_t size, const char *fmt, ...)
{
    va_list ap;
    int length;

    va_start(ap, fmt);
    length = vformat(buf, size, fmt, ap);
    va_end(ap);
    return length;
}

/* Formats into one buffer and writes it with one fputs(). */
static void vprint(FILE *out, const char *fmt, va_list ap)
{
    char text[4 * PATH_MAX];

    vformat(text, sizeof text, fmt, ap);
    fputs(text, out);
}

static void print(FILE *out, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vprint(out, fmt, ap);
    va_end(ap);
}

/*
 * Splits LINE in place at spaces, tabs and newlines into at most MAX
 * FIELDS, as the files in /proc separate theirs. Returns the count.
 */
static int split_fields(char *line, char **fields, int max)
{
    int count = 0;
    char *field;

    while (count < max && (field = strsep(&line, " \t\n")))
        if (*field)
            fields[count++] = field;
    return count;
}

/*
 * Splits LINE of /proc/self/mountinfo (proc(5)) in place and points
 * ROOT (unless NULL), POINT, TYPE and SUPER (the super options) into it:
 *
 *   "36 35 98:0 ROOT POINT OPTIONS [TAG...] - TYPE SOURCE SUPER"
 *
 * Returns 0 for a line of another shape.
 */
static int split_mountinfo(char *line, char **root, char **point, char **type,
                           char **super)
{
    char *field[32];
    int n = split_fields(line, field, 32), dash = 6;

    while (dash < n && strcmp(field[dash], "-") != 0)
        dash++;
    if (dash + 3 >= n)
        return 0;
    if (root)
        *root = field[3];
    *point = field[4];
    *type = field[dash + 1];
    *super = field[dash + 3];
    return 1;
}

/* Writes VALUE to PATH in one write(2), as cgroup files need. */
static int write_file(const char *path, const char *value)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    ssize_t n;
    int saved;

    if (fd < 0)
        return -1;
    n = write(fd, value, strlen(value));
    saved = errno;
    if (close(fd) < 0 && n >= 0)
        return -1;
    errno = saved;
    return n == (ssize_t)strlen(value) ? 0 : -1;
}

/* Reads up to LEN - 1 bytes of PATH into BUF, NUL-terminated. */
static int read_file(const char *path, char *buf, size_t len)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    ssize_t n;

    if (fd < 0)
        return -1;
    n = read(fd, buf, len - 1);
    close(fd);
    if (n < 0)
        return -1;
    buf[n] = '\0';
    return 0;
}

/*
 * Reads the whole regular file PATH into a new NUL-terminated buffer.
 * Returns NULL with errno set when a call fails, or with *PROBLEM naming
 * what is wrong with the file. Otherwise *PROBLEM is NULL. O_NONBLOCK
 * keeps a FIFO from blocking the open.
 */
static char *read_text_file(const char *path, const char **problem)
{
    int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC), saved;
    struct stat st = {0};
    char *text = NULL;
    ssize_t n = -1;

    *problem = NULL;
    if (fd < 0)
        return NULL;
    if (fstat(fd, &st) < 0)
        goto out;
    if (!S_ISREG(st.st_mode)) {
        *problem = "is not a regular file";
        goto out;
    }
    if (st.st_size > (1 << 24)) {
        *problem = "is larger than 16 MiB";
        goto out;
    }
    text = malloc((size_t)st.st_size + 1);
    if (text)
        n = read(fd, text, (size_t)st.st_size);
    if (n >= 0 && n != st.st_size)
        *problem = "changed while it was read";
    if (n == st.st_size) {
        text[n] = '\0';
        if (strlen(text) != (size_t)n)
            *problem = "contains a NUL byte";
    }
out:
    saved = errno;
    close(fd);
    if (n != st.st_size || *problem) {
        free(text);
        text = NULL;
    }
    errno = saved;
    return text;
}

/* Creates PATH and its missing parents, as mkdir -p does. */
static void make_dirs(const char *path, mode_t mode)
{
    char partial[PATH_MAX];

    format(partial, sizeof partial, "%s", path);
    for (char *slash = partial + 1;; slash++) {
        if (*slash != '/' && *slash != '\0')
            continue;
        char saved = *slash;
        *slash = '\0';
        if (mkdir(partial, mode) < 0 && errno != EEXIST)
            die("mkdir(\"%s\")", partial);
        *slash = saved;
        if (!saved)
            break;
    }
}

#ifdef CRATER_FUZZ
/*
 * The fuzz target: the JSON parser that reads config.json and state.json,
 * built in place of main by `make fuzz` (clang, libFuzzer) and by `make
 * crater-fuzz-replay` (any compiler, to replay the corpus).
 */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char *const fields[] = {"ociVersion", "process", "root",
                                         "linux", "mounts"};
    char error[512], *text = malloc(size + 1);
    struct json *value;

    if (!text)
        return 0;
    memcpy(text, data, size);
    text[size] = '\0';
    value = parse_json(text, "fuzz", error, sizeof error);
    for (size_t k = 0; value && k < COUNT(fields); k++)
        json_text(json_member(value, fields[k]));
    free_json(value);
    free(text);
    return 0;
}

#ifndef CRATER_LIBFUZZER
/* Without libFuzzer: feeds each file named on the command line. */
int main(int argc, char **argv)
{
    static uint8_t buffer[1 << 20];

    for (int k = 1; k < argc; k++) {
        FILE *file = fopen(argv[k], "rb");
        size_t n;

        if (!file) {
            perror(argv[k]);
            return 1;
        }
        n = fread(buffer, 1, sizeof buffer, file);
        fclose(file);
        LLVMFuzzerTestOneInput(buffer, n);
    }
    print(stdout, "%d inputs parsed\n", argc - 1);
    return 0;
}
#endif
#endif
