/* log.h -- one-line structured logging shared by both daemons.
 * Lines go to stderr as "ts level module: message" (text) or as one JSON
 * object per line (json); thread-safe. */
#ifndef MILLRACE_LOG_H
#define MILLRACE_LOG_H

#include <stddef.h>
#include <sys/time.h>

enum log_level { LOG_DEBUG = 0, LOG_INFO, LOG_WARN, LOG_ERROR };

enum log_format { LOG_FORMAT_TEXT = 0, LOG_FORMAT_JSON };

/* Set the lowest level printed; names are "debug", "info", "warn", "error".
 * Returns 0, or -1 for an unknown name. Safe while other threads log. */
int log_set_level_name(const char *name);
void log_set_level(enum log_level lvl);
int log_enabled(enum log_level lvl);
const char *log_level_name(void);

/* Set the line format by name, "text" or "json". Returns 0, or -1 for an
 * unknown name. Safe while other threads log. */
int log_set_format_name(const char *name);
const char *log_format_name(void);
void log_set_format(enum log_format fmt);

/* The names of the levels and formats, in the enums' order,
 * NULL-terminated: the choices of the log.level and log.format rows. */
extern const char *const log_level_names[];
extern const char *const log_format_names[];

void log_msg(enum log_level lvl, const char *module, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Formats one whole line, '\n' included, into buf: what log_msg writes.
 * Pure, for tests. A line longer than len is cut (a JSON line stays one
 * valid object). Returns the length written: 0 when len is under 128. */
size_t log_format_line(char *buf, size_t len, enum log_format fmt,
                       const struct timeval *tv, enum log_level lvl,
                       const char *module, const char *msg);

/* Registers a secret (a Kafka password, a key passphrase) that no log line
 * may hold: from now on each occurrence in a message is written as
 * "********". Values shorter than LOG_REDACT_MIN are ignored (masking them
 * would garble ordinary words), as are more than LOG_REDACT_MAX. Returns 0,
 * or -1 when it was not registered. Safe while other threads log. */
#define LOG_REDACT_MIN 4
#define LOG_REDACT_MAX 32
int log_redact_add(const char *secret);

/* Replaces every registered secret in s (NUL-terminated, at most len
 * bytes with the NUL) by "********", in place; pure but for the registry,
 * exposed for tests. */
void log_redact(char *s, size_t len);

/* Writes a one-line reason into a caller's error buffer (librdkafka's
 * errstr convention); a NULL or empty buffer is ignored. */
void errbuf_set(char *errbuf, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#define log_debug(mod, ...) log_msg(LOG_DEBUG, mod, __VA_ARGS__)
#define log_info(mod, ...) log_msg(LOG_INFO, mod, __VA_ARGS__)
#define log_warn(mod, ...) log_msg(LOG_WARN, mod, __VA_ARGS__)
#define log_error(mod, ...) log_msg(LOG_ERROR, mod, __VA_ARGS__)

#endif
