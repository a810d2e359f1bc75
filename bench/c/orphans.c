/* Orphan storm for the reaping benchmark. Creates N orphans in the current PID
 * namespace (each a grandchild whose parent exits at once, so it is reparented
 * to PID 1 and exits), then waits until PID 1 has reaped them all: until
 * /proc/1/task/1/children has no more entries than before the storm.
 * Prints: {"orphans":N,"fork_ms":F,"total_ms":T,"drain_ms":D,"init_cpu_ms":C}
 * fork_ms: time to create them; drain_ms: from the last creation to all reaped;
 * init_cpu_ms: CPU time PID 1 spent meanwhile (what reaping cost it). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static double now_ms(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec * 1e3 + t.tv_nsec / 1e6;
}

/* CPU time PID 1 has used so far (utime + stime of /proc/1/stat), in ms. */
static double init_cpu_ms(void) {
  FILE *f = fopen("/proc/1/stat", "r");
  if (!f) { perror("/proc/1/stat"); exit(2); }
  char buf[1024];
  size_t len = fread(buf, 1, sizeof buf - 1, f);
  fclose(f);
  buf[len] = 0;
  char *p = strrchr(buf, ')'); /* comm may contain spaces */
  unsigned long utime = 0, stime = 0;
  if (!p || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &utime, &stime) != 2) {
    fprintf(stderr, "orphans: cannot parse /proc/1/stat\n");
    exit(2);
  }
  return (utime + stime) * 1000.0 / sysconf(_SC_CLK_TCK);
}

static int children_of_init(void) {
  FILE *f = fopen("/proc/1/task/1/children", "r");
  if (!f) { perror("/proc/1/task/1/children"); exit(2); }
  int n = 0, pid;
  while (fscanf(f, "%d", &pid) == 1) n++;
  fclose(f);
  return n;
}

int main(int argc, char **argv) {
  int n = argc > 1 ? atoi(argv[1]) : 10000;
  double timeout_ms = argc > 2 ? atof(argv[2]) : 60000;
  int baseline = children_of_init();
  double cpu0 = init_cpu_ms();
  double t0 = now_ms();
  for (int i = 0; i < n; i++) {
    pid_t p = fork();
    if (p < 0) { perror("fork"); return 2; }
    if (p == 0) {
      if (fork() == 0) _exit(0); /* the orphan */
      _exit(0);
    }
    waitpid(p, NULL, 0);
  }
  double t1 = now_ms();
  while (children_of_init() > baseline) {
    if (now_ms() - t0 > timeout_ms) { fprintf(stderr, "orphans: not reaped within %.0f ms\n", timeout_ms); return 3; }
    usleep(200);
  }
  double t2 = now_ms();
  double cpu1 = init_cpu_ms();
  printf("{\"orphans\":%d,\"fork_ms\":%.2f,\"total_ms\":%.2f,\"drain_ms\":%.2f,\"init_cpu_ms\":%.1f}\n", n, t1 - t0, t2 - t0, t2 - t1,
         cpu1 - cpu0);
  return 0;
}
