/* cfg.h -- declarative configuration: one table of rows per daemon, loaded
 * as defaults, then a libconfig file, then environment, then validated. */
#ifndef MILLRACE_CFG_H
#define MILLRACE_CFG_H

#include <stddef.h>
#include <stdio.h>

typedef enum cfg_type {
    CFG_STR,       /* char *, heap-owned by the settings struct */
    CFG_INT,       /* long long, with bounds */
    CFG_SIZE,      /* long long bytes; accepts suffixes k, M, G (binary) */
    CFG_BOOL,      /* int 0/1; accepts true/false/yes/no/on/off/1/0 */
    CFG_ENUM,      /* int: the index of the value among the row's choices,
                      turned from text once, at load (librdkafka's .s2i) */
    CFG_LIST,      /* char *, items joined by '\n'; file: list of strings,
                      environment: comma-separated */
    CFG_AUTO_BOOL, /* int -1 (auto), 0 or 1; accepts "auto" or a boolean */
} cfg_type;

typedef struct cfg_row {
    const char *name; /* "section.key", the path in the file */
    cfg_type type;
    size_t offset;      /* of the field in the settings struct */
    const char *def;    /* default, as text (NULL = empty/unset) */
    long long min, max; /* bounds for CFG_INT and CFG_SIZE */
    /* CFG_ENUM: the names, NULL-terminated, in the order of the daemon's
     * enum ({"gzip", "zstd", "none", NULL}); shown as "gzip|zstd|none" */
    const char *const *choices;
    const char *env;  /* an extra variable name (MAX_WORKERS), or NULL */
    int secret;       /* masked in --check-config and logs */
    const char *desc; /* one line for docs and --help-config */
} cfg_row;

/* Where a value came from, for --check-config. */
typedef enum cfg_source {
    CFG_SRC_DEFAULT = 0,
    CFG_SRC_FILE,
    CFG_SRC_ENV
} cfg_source;

#define CFG_MAX_ROWS 128
#define CFG_FILE_SUFFIX "_file"   /* "s3.secret_key_file" */
#define CFG_SECRET_FILE_MAX 65536 /* bytes read from a secret file */

typedef struct cfg_table {
    const cfg_row *rows;
    size_t n;
    void *base;                     /* the settings struct */
    cfg_source src[CFG_MAX_ROWS];   /* filled by cfg_load */
    char src_env[CFG_MAX_ROWS][80]; /* the variable that set it */
} cfg_table;

/* Errors are collected, not returned one at a time: every problem in the
 * file and the environment is listed before the daemon gives up. */
typedef struct cfg_errors {
    char **msgs;
    size_t n;
} cfg_errors;

void cfg_error_add(cfg_errors *e, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
void cfg_errors_print(const cfg_errors *e, FILE *out);
void cfg_errors_free(cfg_errors *e);

/* The variable derived from a row's name: "uploader.max_age_ms" ->
 * "MILLRACE_UPLOADER_MAX_AGE_MS". */
void cfg_env_name(const char *row_name, char *out, size_t outlen);

/* Load defaults, then the file at path (NULL = none), then the environment
 * (getenv_fn lets tests inject one; NULL = getenv). Problems go to errs;
 * returns the number of errors added. Keys in the file that no row names
 * are errors too (a typo must not silently fall back to a default).
 *
 * Secret rows can also be read from a file (Docker and Kubernetes
 * secrets): the setting "<name>_file" in the file, and every variable of
 * the row plus "_FILE" (AWS_SECRET_ACCESS_KEY_FILE), name a file whose
 * contents, trailing line ends stripped, are the value (a list: one item
 * per line or comma). Setting both forms at one level is an error. */
int cfg_load(cfg_table *t, const char *path,
             const char *(*getenv_fn)(const char *), cfg_errors *errs);

/* Every variable in envp (NULL-terminated "NAME=value" strings, as
 * environ) that starts with MILLRACE_ but names no row of t (nor a secret
 * row's _FILE form, nor one of extra: NULL-terminated, may be NULL) adds a
 * message to warns, with the closest known name when one is near. Returns
 * the number added. A misspelt variable would otherwise be ignored. */
int cfg_unknown_env(const cfg_table *t, char *const *envp,
                    const char *const *extra, cfg_errors *warns);

/* Whether row i has the same value in a and b (two loads of one table). */
int cfg_same_value(const cfg_table *a, const cfg_table *b, size_t i);

/* The length of the name of a list item "name=value" whose name says it
 * holds a credential (a pass-through librdkafka property: sasl.password,
 * ssl.key.password, sasl.oauthbearer.client.secret, ssl.key.pem), so that
 * its value is masked; else 0. */
size_t cfg_sensitive_item(const char *item);

/* Print "name = value  # source" for every row, secrets masked. */
void cfg_print(const cfg_table *t, FILE *out);
/* s[0..n) as the body of a quoted string: quotes, backslashes and control
 * bytes escaped, so that it cannot break the line it is printed on. */
void cfg_print_escaped(FILE *out, const char *s, size_t n);

/* A Markdown table of every row: name, type, default, environment, text. */
void cfg_print_doc(const cfg_table *t, FILE *out);

/* Free every heap string the table's rows own in base. */
void cfg_free(cfg_table *t);

/* Typed access for daemons' cross-field validators. */
#define CFG_FIELD(t, row, type) ((type *)((char *)(t)->base + (row)->offset))

/* Parse helpers, exposed for tests. Return 0 or -1. */
int cfg_parse_size(const char *s, long long *out);
int cfg_parse_bool(const char *s, int *out);

/* The name of a CFG_ENUM row's value v, or "?" when v is no choice. */
const char *cfg_choice_name(const cfg_row *r, int v);

/* A CFG_ENUM row's choices as "gzip|zstd|none", into buf. */
const char *cfg_choices_text(const char *const *choices, char *buf, size_t len);

/* Iterate a CFG_LIST value: returns the next item (written to buf) or NULL. */
const char *cfg_list_next(const char **cursor, char *buf, size_t buflen);

#endif
