/*
 * launch_floor: the fastest this box launches N supervised children, with no supervisor around them.
 *
 *   launch_floor N CHILD STAMPFILE [SPAWNERS]
 *
 * posix_spawn (vfork + exec) N copies of `CHILD STAMPFILE i pause` (shared/bench's benchchild) from
 * SPAWNERS processes (default 1; each takes an equal share, the first is this process), then reads
 * STAMPFILE until every child has written its "S" line and prints the ms from the first spawn to the
 * first and to the last child's own stamp: the same clock and the same end point as shared/bench's
 * `spawn` metric. It kills its whole process group at the end, so run it under `setsid -w`.
 *
 * Why: issue 18's "launch -> 500 running <= 250 ms" is a wall time dominated by the children's own
 * exec and start-up on two cores; this is the floor any supervisor on the same box can reach.
 * Build: gcc -O2 -o launch_floor bench/launch_floor.c   (BENCHMARKS.md has the figures)
 */
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

static long long now_ns(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1000000000LL + t.tv_nsec;
}

static void spawn_range(const char *child, const char *stamps, int lo, int hi) {
    char id[16];
    for (int i = lo; i < hi; i++) {
        pid_t pid;
        snprintf(id, sizeof id, "%d", i);
        char *av[] = {(char *)child, (char *)stamps, id, "pause", 0};
        if (posix_spawn(&pid, child, 0, 0, av, environ) != 0) { perror("posix_spawn"); exit(1); }
    }
}

int main(int argc, char **argv) {
    if (argc < 4) { fprintf(stderr, "usage: launch_floor N CHILD STAMPFILE [SPAWNERS]\n"); return 64; }
    int n = atoi(argv[1]), spawners = argc > 4 ? atoi(argv[4]) : 1;
    const char *child = argv[2], *stamps = argv[3];
    if (n < 1 || spawners < 1) return 64;
    unlink(stamps);
    long long t0 = now_ns();
    for (int w = 1; w < spawners; w++) {
        if (fork() == 0) { spawn_range(child, stamps, w * n / spawners, (w + 1) * n / spawners); pause(); _exit(0); }
    }
    spawn_range(child, stamps, 0, n / spawners);
    long long first = 0, last = 0;
    for (int seen = 0; seen < n;) {
        usleep(2000);
        FILE *f = fopen(stamps, "r");
        if (!f) continue;
        char kind, id[16];
        long pid;
        long long ns;
        seen = 0; first = 0; last = 0;
        while (fscanf(f, " %c %15s %ld %lld", &kind, id, &pid, &ns) == 4) {
            if (kind != 'S') continue;
            seen++;
            if (!first || ns < first) first = ns;
            if (ns > last) last = ns;
        }
        fclose(f);
    }
    printf("n=%d spawners=%d first %.1f ms last %.1f ms\n", n, spawners, (first - t0) / 1e6, (last - t0) / 1e6);
    fflush(stdout);
    kill(0, SIGKILL);  /* every child and spawner: this process group only (setsid -w) */
    return 0;
}
