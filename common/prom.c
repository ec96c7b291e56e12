/* prom.c -- the Prometheus text exposition format, written once for both
 * daemons' /metrics, and the process_* collector read from /proc. */
#include "prom.h"

#include <dirent.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

void prom_init(prom_out *o, char *buf, size_t len)
{
    o->buf = buf;
    o->len = len;
    o->need = 0;
    if (len)
        buf[0] = '\0';
}

void prom_printf(prom_out *o, const char *fmt, ...)
{
    va_list ap;
    size_t room = o->need < o->len ? o->len - o->need : 0;
    int n;

    va_start(ap, fmt);
    n = vsnprintf(room ? o->buf + o->need : NULL, room, fmt, ap);
    va_end(ap);
    if (n > 0)
        o->need += (size_t)n;
}

void prom_family(prom_out *o, const char *name, const char *type,
                 const char *help)
{
    prom_printf(o, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

void prom_counter(prom_out *o, const char *name, const char *help,
                  unsigned long long v)
{
    prom_family(o, name, "counter", help);
    prom_printf(o, "%s %llu\n", name, v);
}

void prom_gauge(prom_out *o, const char *name, const char *help, long long v)
{
    prom_family(o, name, "gauge", help);
    prom_printf(o, "%s %lld\n", name, v);
}

void prom_histogram(prom_out *o, const char *name, const char *help,
                    const double *le, const unsigned long long *cum, size_t n,
                    unsigned long long count, double sum)
{
    prom_family(o, name, "histogram", help);
    for (size_t i = 0; i < n; i++)
        prom_printf(o, "%s_bucket{le=\"%g\"} %llu\n", name, le[i], cum[i]);
    prom_printf(o, "%s_bucket{le=\"+Inf\"} %llu\n", name, count);
    prom_printf(o, "%s_sum %.6f\n%s_count %llu\n", name, sum, name, count);
}

void prom_build_info(prom_out *o, const char *prefix, const char *version)
{
    char name[128];

    snprintf(name, sizeof(name), "%s_build_info", prefix);
    prom_family(o, name, "gauge",
                "Always 1; the version label says which millrace runs.");
    prom_printf(o, "%s{version=\"%s\"} 1\n", name, version);
}

int prom_parse_stat(const char *stat, long ticks_per_s, long page_size,
                    long long boot_time, prom_process *p)
{
    /* Fields after the command, from field 3 (state) on: utime is field
     * 14, stime 15, starttime 22, vsize 23, rss 24 (proc(5)). */
    enum {
        UTIME = 14 - 3,
        STIME = 15 - 3,
        START = 22 - 3,
        VSIZE = 23 - 3,
        RSS = 24 - 3
    };
    unsigned long long f[RSS + 1];
    const char *s = strrchr(stat, ')');
    int i;

    if (s == NULL || ticks_per_s <= 0 || page_size <= 0)
        return -1;
    s++;
    for (i = 0; i <= RSS; i++) {
        char *end;
        while (*s == ' ')
            s++;
        if (i == 0) { /* the state, a letter */
            if (*s == '\0')
                return -1;
            f[i] = 0;
            while (*s && *s != ' ')
                s++;
            continue;
        }
        f[i] = strtoull(s, &end, 10);
        if (end == s)
            return -1;
        s = end;
    }
    p->cpu_seconds = (double)(f[UTIME] + f[STIME]) / (double)ticks_per_s;
    p->start_time_seconds =
        (double)boot_time + (double)f[START] / (double)ticks_per_s;
    p->virtual_bytes = (long long)f[VSIZE];
    p->resident_bytes = (long long)f[RSS] * page_size;
    return 0;
}

/* btime of /proc/stat: the boot time, seconds since the epoch. */
static long long boot_time(void)
{
    static long long cached = -1;
    char line[256];
    FILE *f;

    if (cached >= 0)
        return cached;
    f = fopen("/proc/stat", "r");
    if (f == NULL)
        return -1;
    while (fgets(line, sizeof(line), f))
        if (strncmp(line, "btime ", 6) == 0)
            cached = atoll(line + 6);
    fclose(f);
    return cached;
}

static long long count_fds(void)
{
    DIR *d = opendir("/proc/self/fd");
    struct dirent *e;
    long long n = 0;

    if (d == NULL)
        return -1;
    while ((e = readdir(d)) != NULL)
        n += e->d_name[0] != '.';
    closedir(d);
    return n - 1; /* the directory's own */
}

int prom_process_read(prom_process *p)
{
    char stat[1024];
    struct rlimit rl;
    long long bt = boot_time();
    size_t n;
    FILE *f;

    memset(p, 0, sizeof(*p));
    f = fopen("/proc/self/stat", "r");
    if (f == NULL)
        return -1;
    n = fread(stat, 1, sizeof(stat) - 1, f);
    fclose(f);
    stat[n] = '\0';
    if (bt < 0 || prom_parse_stat(stat, sysconf(_SC_CLK_TCK),
                                  sysconf(_SC_PAGESIZE), bt, p) < 0)
        return -1;
    p->open_fds = count_fds();
    p->max_fds = -1;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY)
        p->max_fds = (long long)rl.rlim_cur;
    return 0;
}

void prom_process_write(prom_out *o, const prom_process *p)
{
    prom_family(o, "process_cpu_seconds_total", "counter",
                "Total user and system CPU time spent in seconds.");
    prom_printf(o, "process_cpu_seconds_total %.2f\n", p->cpu_seconds);
    prom_gauge(o, "process_resident_memory_bytes",
               "Resident memory size in bytes.", p->resident_bytes);
    prom_gauge(o, "process_virtual_memory_bytes",
               "Virtual memory size in bytes.", p->virtual_bytes);
    if (p->open_fds >= 0)
        prom_gauge(o, "process_open_fds", "Number of open file descriptors.",
                   p->open_fds);
    if (p->max_fds >= 0)
        prom_gauge(o, "process_max_fds",
                   "Maximum number of open file descriptors.", p->max_fds);
    prom_family(o, "process_start_time_seconds", "gauge",
                "Start time of the process since unix epoch in seconds.");
    prom_printf(o, "process_start_time_seconds %.2f\n", p->start_time_seconds);
}
