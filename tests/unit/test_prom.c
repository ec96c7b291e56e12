/* test_prom.c -- the shared Prometheus text writer: families with HELP and
 * TYPE, histograms, build_info, the snprintf-like length, and the process
 * collector's /proc parsing. */
#include "prom.h"
#include "test.h"

#include <stdlib.h>
#include <time.h>

static void prom_counter_and_gauge_have_help_and_type(void)
{
    char buf[512];
    prom_out o;

    prom_init(&o, buf, sizeof(buf));
    prom_counter(&o, "a_total", "Things.", 7);
    prom_gauge(&o, "b", "Level.", -3);
    ASSERT_STR_EQ(buf, "# HELP a_total Things.\n# TYPE a_total counter\n"
                       "a_total 7\n"
                       "# HELP b Level.\n# TYPE b gauge\nb -3\n");
    ASSERT_EQ(o.need, strlen(buf));
}

static void prom_histogram_lines(void)
{
    static const double le[] = {0.1, 1, 2.5};
    static const unsigned long long cum[] = {1, 3, 3};
    char buf[1024];
    prom_out o;

    prom_init(&o, buf, sizeof(buf));
    prom_histogram(&o, "h_seconds", "Time.", le, cum, 3, 4, 6.5);
    ASSERT_STR_EQ(buf, "# HELP h_seconds Time.\n# TYPE h_seconds histogram\n"
                       "h_seconds_bucket{le=\"0.1\"} 1\n"
                       "h_seconds_bucket{le=\"1\"} 3\n"
                       "h_seconds_bucket{le=\"2.5\"} 3\n"
                       "h_seconds_bucket{le=\"+Inf\"} 4\n"
                       "h_seconds_sum 6.500000\nh_seconds_count 4\n");
}

static void prom_build_info_has_the_version(void)
{
    char buf[512];
    prom_out o;

    prom_init(&o, buf, sizeof(buf));
    prom_build_info(&o, "millrace_uploader", "1.2.3");
    ASSERT(strstr(buf, "# TYPE millrace_uploader_build_info gauge\n") != NULL);
    ASSERT(
        strstr(buf, "\nmillrace_uploader_build_info{version=\"1.2.3\"} 1\n") !=
        NULL);
}

/* Like snprintf: a short buffer holds a cut, NUL-terminated prefix and
 * need is the whole length. */
static void prom_out_reports_the_whole_length(void)
{
    char full[512];
    char small[20];
    prom_out o;
    size_t whole;

    prom_init(&o, full, sizeof(full));
    prom_counter(&o, "c_total", "Count.", 12345);
    whole = o.need;
    prom_init(&o, small, sizeof(small));
    prom_counter(&o, "c_total", "Count.", 12345);
    ASSERT_EQ(o.need, whole);
    ASSERT_EQ(strlen(small), sizeof(small) - 1);
    ASSERT(strncmp(full, small, sizeof(small) - 1) == 0);
    prom_init(&o, NULL, 0);
    prom_counter(&o, "c_total", "Count.", 12345);
    ASSERT_EQ(o.need, whole);
}

/* A command name with spaces and parentheses; 100 ticks a second, 4 KiB
 * pages: utime 250 + stime 50 ticks, started 1234 ticks after boot, 1000
 * resident pages. */
static void prom_parse_stat_fields(void)
{
    static const char stat[] =
        "4242 (up (a) b) S 1 4242 4242 0 -1 4194560 1205 0 0 0 250 50 0 0 "
        "20 0 12 0 1234 987654321 1000 18446744073709551615 1 1 0 0 0 0 0 "
        "4096 0 0 0 0 17 1 0 0 0 0 0\n";
    prom_process p;

    memset(&p, 0, sizeof(p));
    ASSERT_EQ(prom_parse_stat(stat, 100, 4096, 1700000000, &p), 0);
    ASSERT(p.cpu_seconds > 2.999 && p.cpu_seconds < 3.001);
    ASSERT(p.start_time_seconds > 1700000012.33 &&
           p.start_time_seconds < 1700000012.35);
    ASSERT_EQ(p.virtual_bytes, 987654321);
    ASSERT_EQ(p.resident_bytes, 1000 * 4096);
}

static void prom_parse_stat_rejects_garbage(void)
{
    static const char *const bad[] = {"", "4242 up S 1", "4242 (x) S 1 2 3",
                                      "4242 (x)"};
    prom_process p;

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        if (prom_parse_stat(bad[i], 100, 4096, 0, &p) != -1)
            TEST_FAIL_("accepted \"%s\"", bad[i]);
    ASSERT_EQ(prom_parse_stat("1 (x) S 1 1 1 0 -1 0 0 0 0 0 1 1 0 0 20 0 1 0 "
                              "5 100 10",
                              0, 4096, 0, &p),
              -1);
}

/* This process, read from /proc: plausible figures and every family. */
static void prom_process_of_this_process(void)
{
    prom_process p;
    char buf[2048];
    prom_out o;
    double now = (double)time(NULL);
    static const char *const names[] = {"process_cpu_seconds_total",
                                        "process_resident_memory_bytes",
                                        "process_virtual_memory_bytes",
                                        "process_open_fds",
                                        "process_max_fds",
                                        "process_start_time_seconds"};

    ASSERT_EQ(prom_process_read(&p), 0);
    ASSERT(p.cpu_seconds >= 0);
    ASSERT(p.resident_bytes > 0);
    ASSERT(p.virtual_bytes >= p.resident_bytes);
    ASSERT(p.open_fds >= 3);
    ASSERT(p.max_fds >= p.open_fds);
    if (p.start_time_seconds > now + 1 || p.start_time_seconds < now - 3600)
        TEST_FAIL_("start time %.0f, now %.0f", p.start_time_seconds, now);
    prom_init(&o, buf, sizeof(buf));
    prom_process_write(&o, &p);
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        char help[128];
        snprintf(help, sizeof(help), "# HELP %s ", names[i]);
        if (strstr(buf, help) == NULL)
            TEST_FAIL_("no %s in:\n%s", names[i], buf);
    }
}

TEST_MAIN(T(prom_counter_and_gauge_have_help_and_type), T(prom_histogram_lines),
          T(prom_build_info_has_the_version),
          T(prom_out_reports_the_whole_length), T(prom_parse_stat_fields),
          T(prom_parse_stat_rejects_garbage), T(prom_process_of_this_process))
