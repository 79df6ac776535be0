#define _GNU_SOURCE
#include "CShim.h"

#include <errno.h>
#include <malloc.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <sys/signalfd.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef SYS_pidfd_open
#define SYS_pidfd_open 434
#endif
#ifndef SYS_pidfd_send_signal
#define SYS_pidfd_send_signal 424
#endif

int histd_set_child_subreaper(void) { return prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0); }
int histd_get_child_subreaper(void) {
    int value = 0;
    if (prctl(PR_GET_CHILD_SUBREAPER, &value, 0, 0, 0) != 0) return -1;
    return value ? 1 : 0;
}
int histd_set_pdeathsig(int sig) { return prctl(PR_SET_PDEATHSIG, sig, 0, 0, 0); }

int histd_pidfd_open(pid_t pid) { return (int)syscall(SYS_pidfd_open, pid, 0); }
int histd_pidfd_send_signal(int pidfd, int sig) {
    return (int)syscall(SYS_pidfd_send_signal, pidfd, sig, NULL, 0);
}

int histd_wifexited(int status) { return WIFEXITED(status); }
int histd_wexitstatus(int status) { return WEXITSTATUS(status); }
int histd_wifsignaled(int status) { return WIFSIGNALED(status); }
int histd_wtermsig(int status) { return WTERMSIG(status); }
int histd_wcoredump(int status) {
#ifdef WCOREDUMP
    return WCOREDUMP(status);
#else
    return 0;
#endif
}

static void fill_set(sigset_t *set, const int *signals, int count) {
    sigemptyset(set);
    for (int i = 0; i < count; i++) sigaddset(set, signals[i]);
}

int histd_block_signals(const int *signals, int count) {
    sigset_t set;
    fill_set(&set, signals, count);
    return pthread_sigmask(SIG_BLOCK, &set, NULL);
}

int histd_signalfd(const int *signals, int count) {
    sigset_t set;
    fill_set(&set, signals, count);
    return signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
}

int histd_signalfd_read_sender(int fd, int *pid, unsigned *uid) {
    struct signalfd_siginfo info;
    ssize_t n = read(fd, &info, sizeof info);
    if (n == (ssize_t)sizeof info) {
        *pid = (int)info.ssi_pid;
        *uid = info.ssi_uid;
        return (int)info.ssi_signo;
    }
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return 0;
    return -1;
}

int histd_signalfd_read(int fd) {
    struct signalfd_siginfo info;
    ssize_t n = read(fd, &info, sizeof info);
    if (n == (ssize_t)sizeof info) return (int)info.ssi_signo;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return 0;
    return -1;
}

/* The child of vfork shares our memory until execve, so it only makes raw syscalls and writes its
   failure into these out-parameters (the parent is suspended until exec or _exit). */
static void child_fail(int *child_errno, const char **failed_step, const char *step) {
    *child_errno = errno;
    *failed_step = step;
    _exit(127);
}

static int write_all(int fd, const char *buf, size_t len) {
    while (len > 0) {
        ssize_t n = write(fd, buf, len);
        if (n < 0) { if (errno == EINTR) continue; return -1; }
        buf += n; len -= (size_t)n;
    }
    return 0;
}

static int move_fd(int from, int to) {
    if (from == to) {
        int flags = fcntl(from, F_GETFD);
        return flags < 0 ? -1 : fcntl(from, F_SETFD, flags & ~FD_CLOEXEC);
    }
    return dup2(from, to) < 0 ? -1 : 0;
}

int histd_rlimit_resource(const char *name) {
    if (strcmp(name, "nofile") == 0) return RLIMIT_NOFILE;
    if (strcmp(name, "core") == 0) return RLIMIT_CORE;
    if (strcmp(name, "nproc") == 0) return RLIMIT_NPROC;
    if (strcmp(name, "memlock") == 0) return RLIMIT_MEMLOCK;
    if (strcmp(name, "as") == 0) return RLIMIT_AS;
    return -1;
}

static const char *rlimit_step(int resource) {
    switch (resource) {
    case RLIMIT_NOFILE: return "setrlimit(RLIMIT_NOFILE)";
    case RLIMIT_CORE: return "setrlimit(RLIMIT_CORE)";
    case RLIMIT_NPROC: return "setrlimit(RLIMIT_NPROC)";
    case RLIMIT_MEMLOCK: return "setrlimit(RLIMIT_MEMLOCK)";
    case RLIMIT_AS: return "setrlimit(RLIMIT_AS)";
    default: return "setrlimit";
    }
}

/* Credentials in the vfork child go through raw syscalls: glibc's setuid/setgid/setgroups wrappers
   broadcast the change to every thread of the process (its SIGSETXID machinery), and in a vfork
   child "the process's threads" are the parent's, whose memory we share. glibc's own posix_spawn
   uses raw syscalls here for the same reason. */
static int apply_identity(const histd_spawn_opts *o, const char **step) {
    for (int i = 0; i < o->rlimit_count; i++) {
        struct { uint64_t cur, max; } lim = { o->rlimits[i].value, o->rlimits[i].value };
        if (syscall(SYS_prlimit64, 0, o->rlimits[i].resource, &lim, NULL) != 0) {
            *step = rlimit_step(o->rlimits[i].resource);
            return -1;
        }
    }
    if (o->set_umask) umask((mode_t)o->umask_value);
    if (o->set_groups && syscall(SYS_setgroups, (size_t)o->group_count, o->groups) != 0) { *step = "setgroups"; return -1; }
    if (o->set_gid && syscall(SYS_setresgid, o->gid, o->gid, o->gid) != 0) { *step = "setgid"; return -1; }
    if (o->set_uid && syscall(SYS_setresuid, o->uid, o->uid, o->uid) != 0) { *step = "setuid"; return -1; }
    if (o->no_new_privs && prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) { *step = "prctl(PR_SET_NO_NEW_PRIVS)"; return -1; }
    return 0;
}

/* Everything the child does between the clone and execve. `in`, `out`, `err` are the fds that become
   0, 1, 2 (-1: /dev/null). Never returns. */
static void run_child(const histd_spawn_opts *o, int in, int out, int err, int *child_errno, const char **failed_step) {
    for (int sig = 1; sig < NSIG; sig++) {
        if (sig == SIGKILL || sig == SIGSTOP) continue;
        struct sigaction sa;
        memset(&sa, 0, sizeof sa);
        sa.sa_handler = SIG_DFL;
        sigaction(sig, &sa, NULL);  // errors for invalid RT numbers are harmless
    }
    if (o->new_session && setsid() < 0) child_fail(child_errno, failed_step, "setsid");
    if (o->cgroup_procs) {
        for (const char *const *p = o->cgroup_procs; *p; p++) {
            int fd = open(*p, O_WRONLY | O_CLOEXEC);
            if (fd < 0) child_fail(child_errno, failed_step, "open(cgroup.procs)");
            if (write_all(fd, "0", 1) != 0) child_fail(child_errno, failed_step, "write(cgroup.procs)");
            close(fd);
        }
    }
    int devnull = -1;
    if (in < 0 || out < 0 || err < 0) {
        devnull = open("/dev/null", O_RDWR | O_CLOEXEC);
        if (devnull < 0) child_fail(child_errno, failed_step, "open(/dev/null)");
    }
    // Move fds above 2 first, so that dup2 into 0..2 never clobbers a source we still need.
    if (in < 0) in = devnull;
    if (out < 0) out = devnull;
    if (err < 0) err = devnull;
    if (in <= 2 && in != 0) { in = fcntl(in, F_DUPFD_CLOEXEC, 3); }
    if (out <= 2 && out != 1) { out = fcntl(out, F_DUPFD_CLOEXEC, 3); }
    if (err <= 2 && err != 2) { err = fcntl(err, F_DUPFD_CLOEXEC, 3); }
    if (in < 0 || out < 0 || err < 0) child_fail(child_errno, failed_step, "fcntl(F_DUPFD)");
    if (move_fd(in, 0) || move_fd(out, 1) || move_fd(err, 2)) child_fail(child_errno, failed_step, "dup2");
    const char *step = NULL;
    if (apply_identity(o, &step) != 0) child_fail(child_errno, failed_step, step);
    // After the credential change, which clears the parent-death signal.
    if (o->pdeathsig > 0 && prctl(PR_SET_PDEATHSIG, o->pdeathsig, 0, 0, 0) != 0)
        child_fail(child_errno, failed_step, "prctl(PR_SET_PDEATHSIG)");
    if (o->cwd && chdir(o->cwd) != 0) child_fail(child_errno, failed_step, "chdir");
    sigset_t empty;
    sigemptyset(&empty);
    sigprocmask(SIG_SETMASK, &empty, NULL);
    if (strchr(o->path, '/')) execve(o->path, o->argv, o->envp);
    else execvpe(o->path, o->argv, o->envp);
    child_fail(child_errno, failed_step, "execve");
}

/* Why the spawn does not simply vfork: vfork copies the parent's whole fd table into the child
   (dup_fd takes a reference on every open file), and execve then closes every O_CLOEXEC one again.
   With 500 programs histd holds about 4,000 fds (two log files, two pipe ends and a pidfd per program,
   plus the sampler's /proc cache), so each spawn cost time in proportion to that in the parent and
   delayed the child's exec (measured: about 0.3 us per fd, 1.5 ms per spawn at 4,000 fds under load
   against 0.5 ms at 10).
   Instead the child is cloned with CLONE_FILES (it shares the table: nothing copied) and its first act
   is close_range(slots_top, ~0U, CLOSE_RANGE_UNSHARE): the kernel gives it a private table holding
   only the fds below slots_top (Linux >= 5.9; it copies just those), so the child never touches or
   closes anything of histd's. The fds the child needs become 0..2 from three slots reserved low in the
   fd space: the parent dup3()s the caller's fds into them before the clone and parks /dev/null on them
   after it (so histd keeps no reference to a child's pipe). One spawn at a time uses the slots. */
static pthread_mutex_t spawn_lock = PTHREAD_MUTEX_INITIALIZER;
static int spawn_slot[3] = {-1, -1, -1};
static int spawn_parked = -1;      // /dev/null: dup3()ed over a used slot after each spawn
static unsigned spawn_slots_top;   // 1 + the highest fd the child keeps
// The child's stack (CLONE_VM: it runs in our memory while we wait, like vfork). Guarded by spawn_lock;
// untouched pages cost nothing.
static char spawn_stack[256 * 1024] __attribute__((aligned(64)));

static int spawn_plain_only = -1;   // 1: always the plain vfork (under valgrind)

static int reserve_slots_locked(void) {
    if (spawn_parked >= 0) return 0;
    if (spawn_plain_only < 0) {
        // valgrind stops the whole process at a clone() that is neither fork, vfork nor a thread (it
        // does not return an error), so under valgrind (its preload library is in LD_PRELOAD) the
        // spawn stays the plain vfork.
        const char *preload = getenv("LD_PRELOAD");
        spawn_plain_only = preload && strstr(preload, "vgpreload") ? 1 : 0;
    }
    if (spawn_plain_only) { errno = ENOTSUP; return -1; }
    int parked = open("/dev/null", O_RDWR | O_CLOEXEC);
    if (parked < 0) return -1;
    int s[3];
    for (int i = 0; i < 3; i++) {
        // Never 0..2: a histd started with a closed stdio fd must not get a child's pipe as its own.
        s[i] = fcntl(parked, F_DUPFD_CLOEXEC, 3);
        if (s[i] < 0) {
            for (int j = 0; j < i; j++) close(s[j]);
            close(parked);
            return -1;
        }
    }
    unsigned top = (unsigned)parked + 1;
    for (int i = 0; i < 3; i++) { spawn_slot[i] = s[i]; if ((unsigned)s[i] + 1 > top) top = (unsigned)s[i] + 1; }
    spawn_slots_top = top;
    spawn_parked = parked;
    return 0;
}

int histd_spawn_reserve_slots(void) {
    pthread_mutex_lock(&spawn_lock);
    int rc = reserve_slots_locked();
    pthread_mutex_unlock(&spawn_lock);
    return rc;
}

int histd_spawn_slots_top(void) { return spawn_parked >= 0 ? (int)spawn_slots_top : -1; }

#ifndef SYS_close_range
#define SYS_close_range 436
#endif
#ifndef CLOSE_RANGE_UNSHARE
#define CLOSE_RANGE_UNSHARE (1U << 1)
#endif

struct clone_child {
    const histd_spawn_opts *o;
    int in, out, err;
    int *child_errno;
    const char **failed_step;
};

static int clone_child_main(void *p) {
    struct clone_child *c = p;
    // A private fd table of the fds below the slots' top; on a kernel without close_range, a full copy.
    if (syscall(SYS_close_range, spawn_slots_top, ~0U, CLOSE_RANGE_UNSHARE) != 0 && unshare(CLONE_FILES) != 0)
        child_fail(c->child_errno, c->failed_step, "unshare(CLONE_FILES)");
    run_child(c->o, c->in, c->out, c->err, c->child_errno, c->failed_step);
    return 127;
}

pid_t histd_spawn(const histd_spawn_opts *o, int *child_errno, const char **failed_step) {
    *child_errno = 0;
    *failed_step = NULL;
    pthread_mutex_lock(&spawn_lock);
    int slotted = reserve_slots_locked() == 0;
    struct clone_child c = { o, -1, -1, -1, child_errno, failed_step };
    const int source[3] = { o->stdin_fd, o->stdout_fd, o->stderr_fd };
    int *target[3] = { &c.in, &c.out, &c.err };
    for (int i = 0; slotted && i < 3; i++) {
        if (source[i] < 0) continue;
        if (dup3(source[i], spawn_slot[i], O_CLOEXEC) < 0) {
            *child_errno = errno;
            *failed_step = "dup3";
            for (int j = 0; j < i; j++) if (source[j] >= 0) dup3(spawn_parked, spawn_slot[j], O_CLOEXEC);
            pthread_mutex_unlock(&spawn_lock);
            return -1;
        }
        *target[i] = spawn_slot[i];
    }
    // Block everything in the parent around the clone so no handler can run in the child while it
    // shares our memory; the child resets dispositions and unblocks before exec.
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    pid_t pid = -1;
    if (slotted) {
        pid = clone(clone_child_main, spawn_stack + sizeof spawn_stack, CLONE_VM | CLONE_VFORK | CLONE_FILES | SIGCHLD, &c);
        // EINVAL: a kernel or sandbox that refuses this flag combination: spawn the plain way below.
        if (pid < 0 && errno == EINVAL) slotted = 0;
    }
    if (!slotted) {
        // No slots (out of fds): the plain vfork, which copies the whole table.
        pid = vfork();
        if (pid == 0) run_child(o, o->stdin_fd, o->stdout_fd, o->stderr_fd, child_errno, failed_step);
    }
    int saved = errno;
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (spawn_parked >= 0)
        for (int i = 0; i < 3; i++) if (*target[i] >= 0) dup3(spawn_parked, spawn_slot[i], O_CLOEXEC);
    pthread_mutex_unlock(&spawn_lock);
    if (pid < 0) {
        *child_errno = saved;
        *failed_step = slotted ? "clone" : "vfork";
        return -1;
    }
    if (*failed_step != NULL) {
        // The child failed before exec and has _exit(127)ed; reap it here so it never reaches
        // the supervisor's reaper as an unknown exit.
        int status;
        while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {}
        return -1;
    }
    return pid;
}

uint64_t histd_proc_start_ticks(pid_t pid) {
    char path[64], buf[1024];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return 0;
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n <= 0) return 0;
    buf[n] = 0;
    char *p = strrchr(buf, ')');
    if (!p) return 0;
    p++;  // now at " S ppid ..." : field 3 onward; start time is field 22
    int field = 2;
    while (*p && field < 22) { if (*p == ' ') field++; p++; }
    // p is at the beginning of field 22 (1-based)
    return strtoull(p, NULL, 10);
}

long histd_clock_ticks_per_second(void) { return sysconf(_SC_CLK_TCK); }
long histd_page_size(void) { return sysconf(_SC_PAGESIZE); }

int histd_epoll_create(void) { return epoll_create1(EPOLL_CLOEXEC); }

int histd_epoll_add(int epfd, int fd, uint64_t data) {
    struct epoll_event ev;
    memset(&ev, 0, sizeof ev);
    ev.events = EPOLLIN;
    ev.data.u64 = data;
    return epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev);
}

int histd_epoll_modify(int epfd, int fd, uint64_t data, uint32_t events) {
    struct epoll_event ev;
    memset(&ev, 0, sizeof ev);
    ev.events = events;
    ev.data.u64 = data;
    return epoll_ctl(epfd, EPOLL_CTL_MOD, fd, &ev);
}

int histd_peer_cred(int fd, int32_t *pid, uint32_t *uid, uint32_t *gid) {
    struct ucred cred;
    socklen_t len = sizeof cred;
    if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0) return -1;
    *pid = cred.pid;
    *uid = cred.uid;
    *gid = cred.gid;
    return 0;
}

int histd_epoll_del(int epfd, int fd) { return epoll_ctl(epfd, EPOLL_CTL_DEL, fd, NULL); }

int histd_epoll_wait(int epfd, uint64_t *tags, uint32_t *events, int max, int timeout_ms) {
    struct epoll_event evs[128];
    if (max > 128) max = 128;
    int n = epoll_wait(epfd, evs, max, timeout_ms);
    for (int i = 0; i < n; i++) {
        tags[i] = evs[i].data.u64;
        events[i] = evs[i].events;
    }
    return n;
}

int histd_timerfd_create(void) { return timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC); }

int histd_timerfd_set_absolute(int fd, uint64_t deadline_ns) {
    struct itimerspec spec;
    memset(&spec, 0, sizeof spec);
    spec.it_value.tv_sec = (time_t)(deadline_ns / 1000000000ULL);
    spec.it_value.tv_nsec = (long)(deadline_ns % 1000000000ULL);
    return timerfd_settime(fd, TFD_TIMER_ABSTIME, &spec, NULL);
}

int histd_eventfd_create(void) { return eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC); }

static volatile int histd_signal_pipe_write_fd = -1;

/* One record per signal: signo, sender pid, sender uid (3 ints, 12 bytes). A pipe write of at most
   PIPE_BUF bytes is atomic, so records never interleave; write(2) is async-signal-safe (signal-safety(7)). */
static void histd_signal_pipe_handler(int sig, siginfo_t *info, void *context) {
    (void)context;
    int saved = errno;
    int record[3] = { sig, info ? (int)info->si_pid : 0, info ? (int)info->si_uid : 0 };
    if (histd_signal_pipe_write_fd >= 0) (void)write(histd_signal_pipe_write_fd, record, sizeof record);
    errno = saved;
}

int histd_signal_pipe_install(const int *signals, int count) {
    int fds[2];
    if (pipe2(fds, O_CLOEXEC | O_NONBLOCK) != 0) return -1;
    histd_signal_pipe_write_fd = fds[1];
    for (int i = 0; i < count; i++) {
        struct sigaction sa;
        memset(&sa, 0, sizeof sa);
        sa.sa_sigaction = histd_signal_pipe_handler;
        sa.sa_flags = SA_RESTART | SA_SIGINFO;
        sigemptyset(&sa.sa_mask);
        if (sigaction(signals[i], &sa, NULL) != 0) return -1;
    }
    return fds[0];
}

int histd_malloc_trim(size_t pad) { return malloc_trim(pad); }
