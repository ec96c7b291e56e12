/* test_log.c -- the two line formats: text as before, and JSON objects
 * that always parse (escapes, bytes that are not UTF-8, long lines cut). */
#include "log.h"
#include "test.h"

#include <jansson.h>
#include <stdlib.h>

/* 2026-12-07T10:19:14.123Z */
static const struct timeval when = {1796638754, 123456};

/* Parses line as one JSON object; fails the test unless it is one. */
#define PARSE(obj, line)                                                       \
    do {                                                                       \
        json_error_t je_;                                                      \
        (obj) = json_loads((line), JSON_REJECT_DUPLICATES, &je_);              \
        if ((obj) == NULL || !json_is_object(obj))                             \
            TEST_FAIL_("not a JSON object (%s): %s", je_.text, (line));        \
    } while (0)

static const char *field(json_t *o, const char *k)
{
    return json_string_value(json_object_get(o, k));
}

static void log_text_line_as_before(void)
{
    char buf[256];
    size_t n = log_format_line(buf, sizeof(buf), LOG_FORMAT_TEXT, &when,
                               LOG_WARN, "consumer", "partition 3 paused");

    ASSERT_STR_EQ(buf, "2026-12-07T10:19:14.123Z warn  consumer: partition 3 "
                       "paused\n");
    ASSERT_EQ(n, strlen(buf));
}

static void log_json_line_has_the_four_fields(void)
{
    char buf[256];
    json_t *o;
    size_t n = log_format_line(buf, sizeof(buf), LOG_FORMAT_JSON, &when,
                               LOG_INFO, "main", "listening on 8080");

    ASSERT_EQ(n, strlen(buf));
    ASSERT(buf[n - 1] == '\n');
    ASSERT(strchr(buf, '\n') == buf + n - 1);
    PARSE(o, buf);
    ASSERT_EQ(json_object_size(o), 4);
    ASSERT_STR_EQ(field(o, "time"), "2026-12-07T10:19:14.123Z");
    ASSERT_STR_EQ(field(o, "level"), "info");
    ASSERT_STR_EQ(field(o, "component"), "main");
    ASSERT_STR_EQ(field(o, "message"), "listening on 8080");
    json_decref(o);
}

/* Each message, written as JSON, reads back as want. */
static void log_json_escapes_what_json_must(void)
{
    static const struct {
        const char *msg;
        const char *want;
    } cases[] = {
        {"say \"hi\"", "say \"hi\""},
        {"back\\slash", "back\\slash"},
        {"two\nlines\r\ttab", "two\nlines\r\ttab"},
        {"bell\a esc\x1b del\x7f", "bell\a esc\x1b del\x7f"},
        {"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80",
         "caf\xc3\xa9 \xe2\x82\xac "
         "\xf0\x9f\x98\x80"},
        {"bad \xff byte", "bad \xef\xbf\xbd byte"},
        {"cut \xe2\x82", "cut \xef\xbf\xbd\xef\xbf\xbd"},
        {"overlong \xc0\xaf", "overlong \xef\xbf\xbd\xef\xbf\xbd"},
        {"surrogate \xed\xa0\x80", "surrogate \xef\xbf\xbd\xef\xbf\xbd"
                                   "\xef\xbf\xbd"},
    };

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char buf[512];
        json_t *o;

        log_format_line(buf, sizeof(buf), LOG_FORMAT_JSON, &when, LOG_ERROR,
                        "s3", cases[i].msg);
        PARSE(o, buf);
        if (strcmp(field(o, "message"), cases[i].want) != 0) {
            json_decref(o);
            TEST_FAIL_("case %zu: message %s", i, buf);
        }
        json_decref(o);
    }
}

/* A message longer than the line is cut whole escapes at a time: the line
 * still parses, ends in a newline and fits. */
static void log_json_long_line_is_cut_and_still_parses(void)
{
    char msg[3000];
    char buf[300];
    json_t *o;
    size_t n;

    for (size_t i = 0; i < sizeof(msg) - 1; i++)
        msg[i] = "a\"\n\xc3\xa9"[i % 5];
    msg[sizeof(msg) - 1] = '\0';
    for (size_t len = 128; len <= sizeof(buf); len += 7) {
        n = log_format_line(buf, len, LOG_FORMAT_JSON, &when, LOG_DEBUG,
                            "consumer", msg);
        if (n >= len)
            TEST_FAIL_("len %zu: wrote %zu", len, n);
        ASSERT(buf[n - 1] == '\n');
        PARSE(o, buf);
        ASSERT_STR_EQ(field(o, "level"), "debug");
        json_decref(o);
    }
}

static void log_too_small_a_buffer_gets_nothing(void)
{
    char buf[127];

    ASSERT_EQ(log_format_line(buf, sizeof(buf), LOG_FORMAT_JSON, &when,
                              LOG_INFO, "main", "x"),
              0);
}

static void log_format_and_level_names(void)
{
    ASSERT_EQ(log_set_format_name("yaml"), -1);
    ASSERT_EQ(log_set_format_name("json"), 0);
    ASSERT_STR_EQ(log_format_name(), "json");
    ASSERT_EQ(log_set_format_name("text"), 0);
    ASSERT_STR_EQ(log_format_name(), "text");
    ASSERT_EQ(log_set_level_name("loud"), -1);
    ASSERT_EQ(log_set_level_name("warn"), 0);
    ASSERT_STR_EQ(log_level_name(), "warn");
    ASSERT_EQ(log_enabled(LOG_INFO), 0);
    ASSERT_EQ(log_enabled(LOG_ERROR), 1);
    ASSERT_EQ(log_set_level_name("info"), 0);
}

TEST_MAIN(T(log_text_line_as_before), T(log_json_line_has_the_four_fields),
          T(log_json_escapes_what_json_must),
          T(log_json_long_line_is_cut_and_still_parses),
          T(log_too_small_a_buffer_gets_nothing), T(log_format_and_level_names))
