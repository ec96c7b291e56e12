/* prom.h -- the Prometheus text exposition format, written once for both
 * daemons' /metrics: families with HELP and TYPE, counters, gauges,
 * histograms, a *_build_info gauge and the standard process_* metrics
 * (from /proc, as the official client libraries export them). Pure but
 * for prom_process_read: no sockets. */
#ifndef MILLRACE_PROM_H
#define MILLRACE_PROM_H

#include <stddef.h>

/* Output into a caller's buffer, as snprintf: what does not fit is cut,
 * and need counts every byte, so a caller renders again into need + 1
 * bytes when need >= len. buf is always NUL-terminated (len > 0). */
typedef struct prom_out {
    char *buf;
    size_t len;
    size_t need;
} prom_out;

void prom_init(prom_out *o, char *buf, size_t len);

void prom_printf(prom_out *o, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* "# HELP name help" and "# TYPE name type"; the samples follow. */
void prom_family(prom_out *o, const char *name, const char *type,
                 const char *help);

/* A family of one sample without labels. */
void prom_counter(prom_out *o, const char *name, const char *help,
                  unsigned long long v);
void prom_gauge(prom_out *o, const char *name, const char *help, long long v);

/* A histogram without labels: le[i] are the upper bounds (seconds) of n
 * buckets, cum[i] the cumulative counts below each, then +Inf = count. */
void prom_histogram(prom_out *o, const char *name, const char *help,
                    const double *le, const unsigned long long *cum, size_t n,
                    unsigned long long count, double sum);

/* "{prefix}_build_info{version="..."} 1", the usual way to export a
 * version. */
void prom_build_info(prom_out *o, const char *prefix, const char *version);

/* What the process_* metrics report. */
typedef struct prom_process {
    double cpu_seconds;        /* user + system */
    long long resident_bytes;  /* resident set */
    long long virtual_bytes;   /* address space */
    long long open_fds;        /* -1: unknown */
    long long max_fds;         /* soft limit; -1: unknown or unlimited */
    double start_time_seconds; /* since the epoch */
} prom_process;

/* Parses the text of /proc/self/stat (the command's name may hold spaces
 * and parentheses) with the clock tick rate, the page size and the boot
 * time (btime of /proc/stat). Returns 0, or -1 when it cannot. */
int prom_parse_stat(const char *stat, long ticks_per_s, long page_size,
                    long long boot_time, prom_process *p);

/* Reads this process's figures from /proc. Returns 0, or -1 when /proc
 * cannot be read (the families are then left out). */
int prom_process_read(prom_process *p);

/* The process_* families of p: process_cpu_seconds_total,
 * process_resident_memory_bytes, process_virtual_memory_bytes,
 * process_open_fds, process_max_fds, process_start_time_seconds. */
void prom_process_write(prom_out *o, const prom_process *p);

#endif
