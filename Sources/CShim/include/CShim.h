// C helpers for syscalls and macros that Swift cannot reach directly on Linux:
// variadic prctl/syscall, the W* status macros, pidfd, epoll/signalfd/timerfd/eventfd
// wrappers, and a spawn that can join cgroups between fork and exec.
#ifndef HISTD_CSHIM_H
#define HISTD_CSHIM_H

#include <stdint.h>
#include <sys/types.h>
#include <signal.h>

#ifdef __cplusplus
extern "C" {
#endif

/// prctl(PR_SET_CHILD_SUBREAPER, 1). Returns 0 or -1 with errno.
int histd_set_child_subreaper(void);
/// prctl(PR_GET_CHILD_SUBREAPER): 1 if the calling process is a child subreaper, 0 if not, -1 on error.
int histd_get_child_subreaper(void);
/// prctl(PR_SET_PDEATHSIG, sig). Returns 0 or -1 with errno.
int histd_set_pdeathsig(int sig);

/// pidfd_open(2). Returns an fd or -1 with errno.
int histd_pidfd_open(pid_t pid);
/// pidfd_send_signal(2) with no siginfo. Returns 0 or -1 with errno.
int histd_pidfd_send_signal(int pidfd, int sig);

/// The W* macros from <sys/wait.h>, as functions.
int histd_wifexited(int status);
int histd_wexitstatus(int status);
int histd_wifsignaled(int status);
int histd_wtermsig(int status);
int histd_wcoredump(int status);

/// Blocks `count` signals in the calling thread (pthread_sigmask SIG_BLOCK). Returns 0 or errno.
int histd_block_signals(const int *signals, int count);
/// Creates a non-blocking, close-on-exec signalfd for `count` signals. Returns fd or -1.
int histd_signalfd(const int *signals, int count);
/// Reads one signalfd_siginfo; returns the signal number, 0 if none pending, -1 on error.
int histd_signalfd_read(int fd);
/// Like `histd_signalfd_read`, and also stores the sender's pid and uid (ssi_pid, ssi_uid; 0 for the kernel).
int histd_signalfd_read_sender(int fd, int *pid, unsigned *uid);

/// One resource limit for the child: soft and hard set to `value` (UINT64_MAX = RLIM_INFINITY, unlimited).
typedef struct histd_rlimit {
    int resource;                ///< from histd_rlimit_resource
    uint64_t value;
} histd_rlimit;


/// The RLIMIT_* number for "nofile", "core", "nproc", "memlock", "as", or -1 for another name.
int histd_rlimit_resource(const char *name);

/// Options for histd_spawn. All fds are in the parent; -1 means "inherit /dev/null".
typedef struct histd_spawn_opts {
    const char *path;            ///< executable (argv[0] resolved by caller, or searched in PATH when no '/')
    char *const *argv;           ///< NULL-terminated
    char *const *envp;           ///< NULL-terminated
    const char *cwd;             ///< NULL = inherit
    int stdin_fd;                ///< -1 = /dev/null
    int stdout_fd;               ///< -1 = /dev/null
    int stderr_fd;               ///< -1 = /dev/null
    int new_session;             ///< 1 = setsid() (own session and process group)
    const char *const *cgroup_procs; ///< NULL-terminated list of cgroup.procs files to join before exec, or NULL
    int pdeathsig;               ///< 0 = none; else prctl(PR_SET_PDEATHSIG) in the child
    // Identity and limits, applied in this order after stdio and before chdir and exec (so the
    // working directory is entered as the new user). Everything is resolved by the parent: the
    // vfork child may only make async-signal-safe calls (no NSS, no initgroups).
    const histd_rlimit *rlimits; ///< `rlimit_count` limits to set (before dropping root, so a hard limit may rise)
    int rlimit_count;
    int set_umask;               ///< 1 = umask(umask_value); 0 = inherit histd's
    int umask_value;
    int set_groups;              ///< 1 = setgroups(group_count, groups) (0 entries drops them all)
    const gid_t *groups;
    int group_count;
    int set_gid;                 ///< 1 = setresgid(gid, gid, gid)
    gid_t gid;
    int set_uid;                 ///< 1 = setresuid(uid, uid, uid)
    uid_t uid;
    int no_new_privs;            ///< 1 = prctl(PR_SET_NO_NEW_PRIVS, 1)
} histd_spawn_opts;

/// Starts a child with vfork+execve. Between the two the child: resets every signal's disposition
/// to default and its mask to empty (threads of Swift's pools block most signals, and a child would
/// inherit that), calls setsid, joins the cgroups (so memory is charged from the first page), sets
/// up stdio, sets rlimits, umask, groups, gid, uid, no_new_privs, the parent-death signal (a
/// credential change clears it), chdir, and execs. Returns the pid (> 0), or -1 with *child_errno set to the errno of
/// the step that failed and *failed_step to a static string naming it ("execve", "chdir", ...).
pid_t histd_spawn(const histd_spawn_opts *opts, int *child_errno, const char **failed_step);

/// Reserves histd_spawn's three low fd slots now (it reserves them on first use otherwise): call it early,
/// while few fds are open, so that each spawned child copies only the fds below them. 0, or -1 with errno.
int histd_spawn_reserve_slots(void);

/// 1 + the highest fd a spawned child starts from (its private table holds only fds below it), or -1
/// before the slots are reserved. For tests.
int histd_spawn_slots_top(void);

/// Start time of a process in clock ticks since boot (field 22 of /proc/PID/stat), or 0.
/// Convenience for callers that only need identity; HistProc parses the full file.
uint64_t histd_proc_start_ticks(pid_t pid);

/// sysconf(_SC_CLK_TCK) and sysconf(_SC_PAGESIZE).
long histd_clock_ticks_per_second(void);
long histd_page_size(void);


/// epoll, timerfd and eventfd (Glibc's Swift module does not export them). All fds are close-on-exec.
/// epoll_create1(EPOLL_CLOEXEC). Returns fd or -1.
int histd_epoll_create(void);
/// Adds `fd` for EPOLLIN (level-triggered) with `data` as its tag. Returns 0 or -1.
int histd_epoll_add(int epfd, int fd, uint64_t data);
/// Removes `fd`. Returns 0 or -1.
int histd_epoll_del(int epfd, int fd);
/// epoll_wait: fills up to `max` tags and event masks. Returns the count, or -1 with errno (EINTR possible).
int histd_epoll_wait(int epfd, uint64_t *tags, uint32_t *events, int max, int timeout_ms);
/// Changes `fd`'s epoll interest to `events` (EPOLLIN = 1, EPOLLOUT = 4). Returns 0 or -1.
int histd_epoll_modify(int epfd, int fd, uint64_t data, uint32_t events);
/// SO_PEERCRED of a connected unix socket: the peer's pid, uid and gid. Returns 0 or -1 with errno.
int histd_peer_cred(int fd, int32_t *pid, uint32_t *uid, uint32_t *gid);
/// timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC). Returns fd or -1.
int histd_timerfd_create(void);
/// Arms the timer at absolute CLOCK_MONOTONIC `deadline_ns` (0 disarms). Returns 0 or -1.
int histd_timerfd_set_absolute(int fd, uint64_t deadline_ns);
/// eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC). Returns fd or -1.
int histd_eventfd_create(void);

/// Installs a handler for `count` signals that writes each caught signal's number (one byte) to a
/// non-blocking close-on-exec pipe, and returns the pipe's read end (or -1). For signals that reach
/// a thread which does not block them (threads started before the mask was set); the handler only
/// calls write(2), which is async-signal-safe (signal-safety(7)). Call once per process.
/// The pipe carries one 12-byte record per signal: three ints, signo, sender pid, sender uid.
int histd_signal_pipe_install(const int *signals, int count);

/// glibc's malloc_trim(pad): returns the free pages of every malloc arena to the kernel (1 if any were).
/// Not in Swift's Glibc module (<malloc.h>). histd calls it after start-up and every 10 minutes (StartupCodeRelease).
int histd_malloc_trim(size_t pad);

#ifdef __cplusplus
}
#endif
#endif
