/*
 * runner: the measuring half of bench/bench.sh.
 *
 *   runner time COMMAND [ARG...]
 *       Runs COMMAND once and prints "WALL_US MAXRSS_KB CPU_US STATUS".
 *   runner many N COMMAND [ARG...]
 *       Forks N copies of COMMAND, with "{}" in an argument replaced by
 *       the copy's number (1..N), lets them all execute at the same moment
 *       and prints "TOTAL_US FAILURES MEDIAN_US MAX_US".
 *   runner peak COMMAND [ARG...]
 *       Runs COMMAND under ptrace and prints "PID ROLE NAME PEAK_KB
 *       ANON_KB FILE_KB" for each of its processes. PEAK_KB is the peak
 *       resident set size (VmHWM) that the process reached before it
 *       executed another program or exited. ANON_KB and FILE_KB are its
 *       anonymous and file-backed resident memory (RssAnon, RssFile) when
 *       that peak was read.
 *       ROLE is parent (COMMAND itself), child, or child-before-exec for
 *       a child that went on to execute another program.
 *
 * WALL_US is CLOCK_MONOTONIC from fork to reaping, in microseconds.
 * MAXRSS_KB and CPU_US come from wait4(2)'s rusage, which covers the
 * child and every descendant that was waited for. MAXRSS_KB is the
 * largest resident set of any one of those processes (the number GNU
 * time prints as %M), and CPU_US is their user plus system time. STATUS
 * is the exit status, or 128+N for a process killed by signal N.
 *
 * The command's standard output goes to standard error, so that only the
 * result line is printed on standard output. A command that runs longer
 * than TIMEOUT_SECONDS is killed with SIGKILL and counts as failed.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define TIMEOUT_SECONDS 120
#define MAX_COPIES 1000
#define MAX_TRACED 256

static pid_t started[MAX_COPIES];
static int nstarted;

static void kill_started(int signal_number)
{
    (void)signal_number;
    for (int k = 0; k < nstarted; k++)
        if (started[k] > 0)
            kill(started[k], SIGKILL);
}

static long long now_us(void)
{
    struct timespec t;

    clock_gettime(CLOCK_MONOTONIC, &t);
    return (long long)t.tv_sec * 1000000 + t.tv_nsec / 1000;
}

static int exit_code(int status)
{
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

static void __attribute__((noreturn)) execute(char **argv)
{
    dup2(2, 1);
    execvp(argv[0], argv);
    fprintf(stderr, "runner: execvp(\"%s\"): %s\n", argv[0],
            strerror(errno));
    _exit(127);
}

static void arm_timeout(void)
{
    signal(SIGALRM, kill_started);
    alarm(TIMEOUT_SECONDS);
}

static int run_time(char **argv)
{
    struct rusage usage;
    long long start = now_us(), cpu;
    int status;
    pid_t pid;

    pid = fork();
    if (pid < 0) {
        perror("runner: fork");
        return 1;
    }
    if (pid == 0)
        execute(argv);
    started[nstarted++] = pid;
    arm_timeout();
    while (wait4(pid, &status, 0, &usage) < 0)
        if (errno != EINTR) {
            perror("runner: wait4");
            return 1;
        }
    cpu = (long long)(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) *
              1000000 +
          usage.ru_utime.tv_usec + usage.ru_stime.tv_usec;
    printf("%lld %ld %lld %d\n", now_us() - start, usage.ru_maxrss, cpu,
           exit_code(status));
    return 0;
}

/* Returns a copy of ARGV with every "{}" replaced by NUMBER. */
static char **number_arguments(char **argv, int number)
{
    int argc = 0;
    char **copy;

    while (argv[argc])
        argc++;
    copy = calloc(argc + 1, sizeof *copy);
    for (int k = 0; k < argc; k++) {
        const char *mark = strstr(argv[k], "{}");

        if (!mark) {
            copy[k] = argv[k];
            continue;
        }
        if (asprintf(&copy[k], "%.*s%d%s", (int)(mark - argv[k]), argv[k],
                     number, mark + 2) < 0) {
            perror("runner: asprintf");
            _exit(127);
        }
    }
    return copy;
}

static int compare_long_long(const void *a, const void *b)
{
    long long x = *(const long long *)a, y = *(const long long *)b;

    return (x > y) - (x < y);
}

static int run_many(int copies, char **argv)
{
    static long long latency[MAX_COPIES];
    int gate[2], failures = 0;
    long long start, end = 0;

    if (copies < 1 || copies > MAX_COPIES) {
        fprintf(stderr, "runner: invalid number of copies %d (expected 1 "
                        "to %d)\n", copies, MAX_COPIES);
        return 2;
    }
    if (pipe(gate) < 0) {
        perror("runner: pipe");
        return 1;
    }

    /* Each copy blocks on the gate until the parent closes its end. */
    for (int k = 0; k < copies; k++) {
        pid_t pid = fork();
        char byte;

        if (pid < 0) {
            perror("runner: fork");
            kill_started(SIGKILL);
            return 1;
        }
        if (pid == 0) {
            close(gate[1]);
            if (read(gate[0], &byte, 1) != 0)
                _exit(127);
            close(gate[0]);
            execute(number_arguments(argv, k + 1));
        }
        started[nstarted++] = pid;
    }
    close(gate[0]);
    arm_timeout();
    start = now_us();
    close(gate[1]);

    for (int done = 0; done < copies;) {
        int status;
        pid_t pid = waitpid(-1, &status, 0);

        if (pid < 0) {
            if (errno == EINTR)
                continue;
            perror("runner: waitpid");
            return 1;
        }
        end = now_us();
        latency[done++] = end - start;
        if (exit_code(status) != 0)
            failures++;
    }
    qsort(latency, copies, sizeof latency[0], compare_long_long);
    printf("%lld %d %lld %lld\n", end - start, failures,
           latency[copies / 2], latency[copies - 1]);
    return 0;
}

/*
 * Peak mode. A seccomp filter makes every execve and execveat stop the
 * caller for the tracer (SECCOMP_RET_TRACE), which then reads the
 * caller's VmHWM while its old program is still mapped. The filter is
 * inherited by every descendant, and PTRACE_O_TRACEFORK and friends
 * attach each new process, so none of them executes without a tracer
 * (which would make execve fail with ENOSYS).
 */
struct traced {
    pid_t pid;
    int new_process;                    /* its first SIGSTOP is pending */
    int executed;                       /* now runs another program */
    long peak_kb;
    long anon_kb, file_kb;              /* RssAnon, RssFile at the peak */
    char name[32];
};

static struct traced traced[MAX_TRACED];
static int ntraced;

static struct traced *find_traced(pid_t pid)
{
    for (int k = 0; k < ntraced; k++)
        if (traced[k].pid == pid)
            return &traced[k];
    if (ntraced == MAX_TRACED)
        return NULL;
    traced[ntraced].pid = pid;
    traced[ntraced].new_process = 1;
    return &traced[ntraced++];
}

/*
 * Raises T's peak to its VmHWM in /proc/PID/status, keeps the RssAnon and
 * RssFile read with it, and notes the process's name.
 */
static void sample_peak(struct traced *t)
{
    char path[64], line[256];
    long peak = -1, anon = 0, file = 0;
    FILE *status;

    snprintf(path, sizeof path, "/proc/%d/status", (int)t->pid);
    status = fopen(path, "re");
    if (!status)
        return;
    while (fgets(line, sizeof line, status)) {
        if (strncmp(line, "Name:", 5) == 0)
            sscanf(line + 5, " %31s", t->name);
        sscanf(line, "VmHWM: %ld", &peak);
        sscanf(line, "RssAnon: %ld", &anon);
        sscanf(line, "RssFile: %ld", &file);
    }
    fclose(status);
    if (peak > t->peak_kb) {
        t->peak_kb = peak;
        t->anon_kb = anon;
        t->file_kb = file;
    }
}

static void __attribute__((noreturn)) start_traced(char **argv)
{
    struct sock_filter program[] = {
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_execve, 2, 0),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_execveat, 1, 0),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_TRACE),
    };
    struct sock_fprog filter = {.len = sizeof program / sizeof program[0],
                                .filter = program};

    if (ptrace(PTRACE_TRACEME, 0, NULL, NULL) < 0 || raise(SIGSTOP) < 0 ||
        prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &filter) < 0) {
        perror("runner: start traced process");
        _exit(127);
    }
    execute(argv);
}

static int run_peak(char **argv)
{
    int status, root_executed = 0;
    pid_t root, pid;

    root = fork();
    if (root < 0) {
        perror("runner: fork");
        return 1;
    }
    if (root == 0)
        start_traced(argv);
    started[nstarted++] = root;
    arm_timeout();
    if (waitpid(root, &status, 0) < 0 || !WIFSTOPPED(status)) {
        fprintf(stderr, "runner: the traced process did not stop\n");
        return 1;
    }
    if (ptrace(PTRACE_SETOPTIONS, root, NULL,
               PTRACE_O_TRACEFORK | PTRACE_O_TRACEVFORK |
                   PTRACE_O_TRACECLONE | PTRACE_O_TRACEEXEC |
                   PTRACE_O_TRACEEXIT | PTRACE_O_TRACESECCOMP |
                   PTRACE_O_EXITKILL) < 0) {
        perror("runner: PTRACE_SETOPTIONS");
        return 1;
    }
    find_traced(root)->new_process = 0;
    ptrace(PTRACE_CONT, root, NULL, NULL);

    while ((pid = waitpid(-1, &status, __WALL)) != -1 || errno == EINTR) {
        struct traced *t;
        int event, deliver = 0;

        if (pid < 0 || !WIFSTOPPED(status))
            continue;                   /* interrupted, or exited */
        t = find_traced(pid);
        event = status >> 16;
        switch (event) {
        case PTRACE_EVENT_SECCOMP:      /* entering execve */
            if (t && (pid != root || root_executed))
                sample_peak(t);
            break;
        case PTRACE_EVENT_EXEC:
            if (pid == root && !root_executed)
                root_executed = 1;
            else if (t)
                t->executed = 1;
            break;
        case PTRACE_EVENT_EXIT:
            if (t && !t->executed)
                sample_peak(t);
            break;
        case PTRACE_EVENT_FORK:
        case PTRACE_EVENT_VFORK:
        case PTRACE_EVENT_CLONE:
            break;                      /* the child reports on its own */
        default:
            /* A new process starts with SIGSTOP; other signals go on. */
            if (t && t->new_process && WSTOPSIG(status) == SIGSTOP)
                t->new_process = 0;
            else
                deliver = WSTOPSIG(status);
        }
        ptrace(PTRACE_CONT, pid, NULL, (void *)(long)deliver);
    }

    for (int k = 0; k < ntraced; k++) {
        const struct traced *t = &traced[k];
        const char *role = t->pid == root ? "parent"
                           : t->executed  ? "child-before-exec"
                                          : "child";

        printf("%d %s %s %ld %ld %ld\n", (int)t->pid, role,
               t->name[0] ? t->name : "?", t->peak_kb, t->anon_kb,
               t->file_kb);
    }
    return 0;
}

int main(int argc, char **argv)
{
    if (argc >= 3 && strcmp(argv[1], "time") == 0)
        return run_time(argv + 2);
    if (argc >= 4 && strcmp(argv[1], "many") == 0)
        return run_many(atoi(argv[2]), argv + 3);
    if (argc >= 3 && strcmp(argv[1], "peak") == 0)
        return run_peak(argv + 2);
    fprintf(stderr, "usage: runner time COMMAND [ARG...]\n"
                    "       runner many N COMMAND [ARG...]\n"
                    "       runner peak COMMAND [ARG...]\n");
    return 2;
}
