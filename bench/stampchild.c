/*
 * stampchild: the workload histbench supervises (adapted from the shared harness's benchchild).
 *
 *   stampchild STAMPFILE ID MODE [MS]
 *
 * MODE exit  : append "S <id> <pid> <mono_ns>" (taken at the first line of main), sleep MS ms
 *              (default 0), append "E <id> <pid> <mono_ns>" right before _exit(1).
 * MODE pause : append the S line, then pause() forever (SIGTERM/SIGKILL end it).
 * STAMPFILE "-" writes no stamps (the idle fleet of the sampler scenario).
 *
 * CLOCK_MONOTONIC nanoseconds, the clock histbench reads too, so it can compare stamps with its own
 * events (the instant it sends SIGKILL, the instant it launches histd). Each line is one write(2) on
 * an O_APPEND fd, so lines from hundreds of concurrent children never interleave.
 * Built by histbench on first use: gcc -O2 -static -o stampchild stampchild.c
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static long long now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static void stamp(int fd, char kind, const char *id, long long t) {
    char buf[128];
    int n;
    if (fd < 0) return;
    n = snprintf(buf, sizeof buf, "%c %s %ld %lld\n", kind, id, (long)getpid(), t);
    if (n > 0) { ssize_t w = write(fd, buf, (size_t)n); (void)w; }
}

int main(int argc, char **argv) {
    long long t0 = now_ns(); /* first thing: the instant this instance is alive */
    if (argc < 4) return 111;
    const char *file = argv[1], *id = argv[2], *mode = argv[3];
    long ms = argc >= 5 ? atol(argv[4]) : 0;
    int fd = -1;
    if (strcmp(file, "-") != 0)
        fd = open(file, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
    stamp(fd, 'S', id, t0);
    if (strcmp(mode, "pause") == 0) {
        if (fd >= 0) close(fd);
        for (;;) pause();
    }
    if (ms > 0) {
        struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
        while (nanosleep(&ts, &ts) != 0) {}
    }
    stamp(fd, 'E', id, now_ns());
    _exit(1);
}
