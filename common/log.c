/* log.c -- one-line structured logging shared by both daemons.
 * Each line is formatted whole and written with one write() so threads
 * never interleave within a line. */
#include "log.h"

#include <stdarg.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <pthread.h>
#include <unistd.h>

#define LOG_LINE_MAX 2048
/* Room for the time, the level, a module name and the JSON around them. */
#define LOG_LINE_MIN 128

static volatile int min_level = LOG_INFO;
static volatile int line_format = LOG_FORMAT_TEXT;
const char *const log_level_names[] = {"debug", "info", "warn", "error", NULL};
const char *const log_format_names[] = {"text", "json", NULL};

void log_set_level(enum log_level lvl)
{
    min_level = lvl;
}

int log_set_level_name(const char *name)
{
    for (int i = 0; i < 4; i++) {
        if (strcmp(name, log_level_names[i]) == 0) {
            min_level = i;
            return 0;
        }
    }
    return -1;
}

const char *log_level_name(void)
{
    int l = min_level;

    return l >= 0 && l < 4 ? log_level_names[l] : "none";
}

int log_enabled(enum log_level lvl)
{
    return (int)lvl >= min_level;
}

int log_set_format_name(const char *name)
{
    for (int i = 0; i < 2; i++) {
        if (strcmp(name, log_format_names[i]) == 0) {
            line_format = i;
            return 0;
        }
    }
    return -1;
}

void log_set_format(enum log_format fmt)
{
    line_format = fmt;
}

const char *log_format_name(void)
{
    return log_format_names[line_format == LOG_FORMAT_JSON];
}

/* The length of the valid UTF-8 sequence at s (at most n bytes), or 0. */
static size_t utf8_len(const unsigned char *s, size_t n)
{
    size_t len;
    unsigned cp;

    if (s[0] < 0x80)
        return 1;
    if (s[0] >= 0xc2 && s[0] <= 0xdf) {
        len = 2;
        cp = s[0] & 0x1f;
    } else if (s[0] >= 0xe0 && s[0] <= 0xef) {
        len = 3;
        cp = s[0] & 0x0f;
    } else if (s[0] >= 0xf0 && s[0] <= 0xf4) {
        len = 4;
        cp = s[0] & 0x07;
    } else {
        return 0;
    }
    if (len > n)
        return 0;
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xc0) != 0x80)
            return 0;
        cp = (cp << 6) | (s[i] & 0x3f);
    }
    /* overlong forms, surrogates, past U+10FFFF */
    if ((len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) ||
        (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff)
        return 0;
    return len;
}

/* Appends s as the inside of a JSON string at buf[n], never past end (the
 * caller keeps room for what follows). Control characters are escaped and
 * bytes that are not UTF-8 become U+FFFD, so the line always parses. A
 * unit that does not fit whole is left out with the rest. */
static size_t json_escape(char *buf, size_t n, size_t end, const char *s)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t left = strlen(s);

    while (left) {
        char esc[8];
        const char *unit = esc;
        size_t ul;
        size_t in = 1;

        if (*p == '"' || *p == '\\') {
            esc[0] = '\\';
            esc[1] = (char)*p;
            ul = 2;
        } else if (*p < 0x20 || *p == 0x7f) {
            static const char short_esc[] = "btn\0fr";
            if (*p >= 8 && *p <= 13 && *p != 11) {
                esc[0] = '\\';
                esc[1] = short_esc[*p - 8];
                ul = 2;
            } else {
                ul = (size_t)snprintf(esc, sizeof(esc), "\\u%04x", *p);
            }
        } else {
            in = utf8_len(p, left);
            if (in == 0) {
                unit = "\xef\xbf\xbd";
                ul = 3;
                in = 1;
            } else {
                unit = (const char *)p;
                ul = in;
            }
        }
        if (n + ul > end)
            break;
        memcpy(buf + n, unit, ul);
        n += ul;
        p += in;
        left -= in;
    }
    return n;
}

size_t log_format_line(char *buf, size_t len, enum log_format fmt,
                       const struct timeval *tv, enum log_level lvl,
                       const char *module, const char *msg)
{
    char ts[40];
    struct tm tm;
    size_t n;
    size_t end;
    int r;

    if (len < LOG_LINE_MIN)
        return 0;
    gmtime_r(&tv->tv_sec, &tm);
    n = strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(ts + n, sizeof(ts) - n, ".%03dZ", (int)(tv->tv_usec / 1000));
    if (fmt == LOG_FORMAT_JSON) {
        r = snprintf(buf, len,
                     "{\"time\":\"%s\",\"level\":\"%s\",\"component\":\"", ts,
                     log_level_names[lvl]);
        n = r > 0 ? (size_t)r : 0;
        end = len - 4; /* room for "}\n and the NUL */
        n = json_escape(buf, n, end - 13, module);
        memcpy(buf + n, "\",\"message\":\"", 13);
        n += 13;
        n = json_escape(buf, n, end, msg);
        memcpy(buf + n, "\"}\n", 3);
        n += 3;
        buf[n] = '\0';
        return n;
    }
    r = snprintf(buf, len - 1, "%s %-5s %s: %s", ts, log_level_names[lvl],
                 module, msg);
    n = r < 0 ? 0 : (size_t)r < len - 1 ? (size_t)r : len - 2;
    buf[n++] = '\n';
    buf[n] = '\0';
    return n;
}

/* Registered secrets: appended under a lock, read without one (a slot is
 * published by the count after it is written, and never changes). */
static char *redacted[LOG_REDACT_MAX];
static atomic_size_t n_redacted;
static pthread_mutex_t redact_mu = PTHREAD_MUTEX_INITIALIZER;

int log_redact_add(const char *secret)
{
    size_t n;
    int rc = -1;

    if (secret == NULL || strlen(secret) < LOG_REDACT_MIN)
        return -1;
    pthread_mutex_lock(&redact_mu);
    n = atomic_load(&n_redacted);
    for (size_t i = 0; i < n; i++)
        if (strcmp(redacted[i], secret) == 0) {
            rc = 0;
            goto done;
        }
    if (n < LOG_REDACT_MAX) {
        redacted[n] = strdup(secret);
        if (redacted[n]) {
            atomic_store(&n_redacted, n + 1);
            rc = 0;
        }
    }
done:
    pthread_mutex_unlock(&redact_mu);
    return rc;
}

#define REDACTED "********"

void log_redact(char *s, size_t len)
{
    size_t n = atomic_load(&n_redacted);

    for (size_t i = 0; i < n; i++) {
        size_t sl = strlen(redacted[i]);
        char *p = s;
        while ((p = strstr(p, redacted[i])) != NULL) {
            size_t rest = strlen(p + sl) + 1;
            size_t at = (size_t)(p - s);
            size_t rl = sizeof(REDACTED) - 1;
            if (at + rl + rest > len) /* no room: cut the line here */
                rest = at + rl < len ? len - at - rl : 0;
            if (at + rl >= len) {
                p[0] = '\0';
                break;
            }
            memmove(p + rl, p + sl, rest);
            memcpy(p, REDACTED, rl);
            s[len - 1] = '\0';
            p += rl;
        }
    }
}

void log_msg(enum log_level lvl, const char *module, const char *fmt, ...)
{
    char msg[LOG_LINE_MAX];
    char line[LOG_LINE_MAX * 2];
    struct timeval tv;
    size_t n;
    va_list ap;

    if (!log_enabled(lvl))
        return;
    gettimeofday(&tv, NULL);
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    log_redact(msg, sizeof(msg));
    n = log_format_line(line, sizeof(line), (enum log_format)line_format, &tv,
                        lvl, module, msg);
    if (write(STDERR_FILENO, line, n) < 0)
        return;
}

void errbuf_set(char *errbuf, size_t errlen, const char *fmt, ...)
{
    va_list ap;

    if (errbuf == NULL || errlen == 0)
        return;
    va_start(ap, fmt);
    vsnprintf(errbuf, errlen, fmt, ap);
    va_end(ap);
}
