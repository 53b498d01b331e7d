/* SPDX-License-Identifier: MIT */
/* bench.h -- what every bench program shares: a monotonic clock, the
   machine line each report starts with, and /proc/self/status figures.
   Header-only (static functions), included by the bench programs. */
#ifndef LPDM_BENCH_H
#define LPDM_BENCH_H
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "lpdm/lpdm.h"

/* Seconds on the monotonic clock. */
static inline double bench_now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec + 1e-9 * t.tv_nsec;
}

/* "machine: <cpu model>, <n> cores; OPENBLAS_NUM_THREADS=...; lpdm <version>" */
static inline void bench_machine(void) {
  char line[256], model[256] = "unknown";
  FILE *f = fopen("/proc/cpuinfo", "r");
  if (f) {
    while (fgets(line, sizeof line, f))
      if (!strncmp(line, "model name", 10)) {
        char *c = strchr(line, ':');
        if (c) {
          snprintf(model, sizeof model, "%s", c + 2);
          model[strcspn(model, "\n")] = 0;
        }
        break;
      }
    fclose(f);
  }
  const char *th = getenv("OPENBLAS_NUM_THREADS");
  printf("machine: %s, %ld cores; OPENBLAS_NUM_THREADS=%s; lpdm %s\n", model, sysconf(_SC_NPROCESSORS_ONLN),
         th ? th : "(unset)", LPDM_VERSION);
}

/* kB of a "Name:   123 kB" line of /proc/self/status (VmHWM, VmRSS, ...), or -1. */
static inline long bench_status_kb(const char *name) {
  char line[256];
  long v = -1;
  size_t n = strlen(name);
  FILE *f = fopen("/proc/self/status", "r");
  if (!f) return -1;
  while (fgets(line, sizeof line, f))
    if (!strncmp(line, name, n) && line[n] == ':') {
      v = strtol(line + n + 1, NULL, 10);
      break;
    }
  fclose(f);
  return v;
}
#endif
