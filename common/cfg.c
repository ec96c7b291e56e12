/* cfg.c -- declarative configuration: defaults, libconfig file, environment,
 * validation of every row with all errors collected, masked printing. */
#include "cfg.h"

#include <ctype.h>
#include <errno.h>
#include <libconfig.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

void cfg_error_add(cfg_errors *e, const char *fmt, ...)
{
    char buf[512];
    char **msgs;
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    msgs = realloc(e->msgs, (e->n + 1) * sizeof(*msgs));
    if (msgs == NULL)
        return;
    e->msgs = msgs;
    e->msgs[e->n] = strdup(buf);
    if (e->msgs[e->n])
        e->n++;
}

void cfg_errors_print(const cfg_errors *e, FILE *out)
{
    for (size_t i = 0; i < e->n; i++)
        fprintf(out, "config error: %s\n", e->msgs[i]);
}

void cfg_errors_free(cfg_errors *e)
{
    for (size_t i = 0; i < e->n; i++)
        free(e->msgs[i]);
    free(e->msgs);
    e->msgs = NULL;
    e->n = 0;
}

void cfg_env_name(const char *row_name, char *out, size_t outlen)
{
    size_t n = (size_t)snprintf(out, outlen, "MILLRACE_");

    for (const char *p = row_name; *p && n + 1 < outlen; p++)
        out[n++] = *p == '.' ? '_' : (char)toupper((unsigned char)*p);
    out[n < outlen ? n : outlen - 1] = '\0';
}

int cfg_parse_size(const char *s, long long *out)
{
    char *end;
    long long v;
    long long mult = 1;

    errno = 0;
    v = strtoll(s, &end, 10);
    if (errno || end == s)
        return -1;
    while (*end == ' ')
        end++;
    switch (tolower((unsigned char)*end)) {
    case '\0':
        break;
    case 'k':
        mult = 1LL << 10;
        end++;
        break;
    case 'm':
        mult = 1LL << 20;
        end++;
        break;
    case 'g':
        mult = 1LL << 30;
        end++;
        break;
    default:
        return -1;
    }
    /* Accept "k", "kb", "kib" (all binary: sizes here are buffer sizes). */
    if (mult > 1 && (strcasecmp(end, "ib") == 0 || strcasecmp(end, "b") == 0))
        end += strlen(end);
    if (*end != '\0' || v < 0 || v > (1LL << 50) / mult)
        return -1;
    *out = v * mult;
    return 0;
}

int cfg_parse_bool(const char *s, int *out)
{
    static const char *const yes[] = {"1", "true", "yes", "on"};
    static const char *const no[] = {"0", "false", "no", "off"};

    for (size_t i = 0; i < 4; i++) {
        if (strcasecmp(s, yes[i]) == 0) {
            *out = 1;
            return 0;
        }
        if (strcasecmp(s, no[i]) == 0) {
            *out = 0;
            return 0;
        }
    }
    return -1;
}

/* The index of v among choices, or -1. */
static int choice_index(const char *const *choices, const char *v)
{
    for (int i = 0; choices && choices[i]; i++) {
        if (strcmp(choices[i], v) == 0)
            return i;
    }
    return -1;
}

const char *cfg_choice_name(const cfg_row *r, int v)
{
    for (int i = 0; r->choices && r->choices[i]; i++) {
        if (i == v)
            return r->choices[i];
    }
    return "?";
}

const char *cfg_choices_text(const char *const *choices, char *buf, size_t len)
{
    size_t o = 0;

    buf[0] = '\0';
    for (int i = 0; choices && choices[i] && o < len; i++)
        o += (size_t)snprintf(buf + o, len - o, "%s%s", i ? "|" : "",
                              choices[i]);
    return buf;
}

const char *cfg_list_next(const char **cursor, char *buf, size_t buflen)
{
    const char *p = *cursor;
    const char *nl;
    size_t l;

    if (p == NULL || *p == '\0')
        return NULL;
    nl = strchr(p, '\n');
    l = nl ? (size_t)(nl - p) : strlen(p);
    if (l >= buflen)
        l = buflen - 1;
    memcpy(buf, p, l);
    buf[l] = '\0';
    *cursor = nl ? nl + 1 : p + strlen(p);
    return buf;
}

/* Set one row from text; the single place where text becomes a typed value,
 * shared by defaults, file strings and the environment. */
static int set_from_text(cfg_table *t, const cfg_row *r, const char *text,
                         const char *where, cfg_errors *errs)
{
    void *f = (char *)t->base + r->offset;
    long long v;
    int b;
    char names[256];

    switch (r->type) {
    case CFG_ENUM:
        b = choice_index(r->choices, text ? text : "");
        if (b < 0) {
            cfg_error_add(errs, "%s (%s): \"%s\" is not one of %s", r->name,
                          where, text ? text : "",
                          cfg_choices_text(r->choices, names, sizeof(names)));
            return -1;
        }
        *(int *)f = b;
        return 0;
    case CFG_STR:
    case CFG_LIST:
        free(*(char **)f);
        *(char **)f = strdup(text ? text : "");
        return 0;
    case CFG_INT:
    case CFG_SIZE:
        if (text == NULL || text[0] == '\0') {
            cfg_error_add(errs, "%s (%s): empty value", r->name, where);
            return -1;
        }
        if (r->type == CFG_SIZE) {
            if (cfg_parse_size(text, &v) < 0) {
                cfg_error_add(errs,
                              "%s (%s): \"%s\" is not a size (bytes, or "
                              "with k/M/G)",
                              r->name, where, text);
                return -1;
            }
        } else {
            char *end;
            errno = 0;
            v = strtoll(text, &end, 10);
            if (errno || end == text || *end != '\0') {
                cfg_error_add(errs, "%s (%s): \"%s\" is not an integer",
                              r->name, where, text);
                return -1;
            }
        }
        *(long long *)f = v;
        return 0;
    case CFG_BOOL:
    case CFG_AUTO_BOOL:
        if (r->type == CFG_AUTO_BOOL && text && strcmp(text, "auto") == 0) {
            *(int *)f = -1;
            return 0;
        }
        if (text == NULL || cfg_parse_bool(text, &b) < 0) {
            cfg_error_add(errs, "%s (%s): \"%s\" is not a boolean%s", r->name,
                          where, text ? text : "",
                          r->type == CFG_AUTO_BOOL ? " or auto" : "");
            return -1;
        }
        *(int *)f = b;
        return 0;
    }
    return -1;
}

/* A list read from a secret file: items separated by lines or commas
 * become the '\n'-joined form; CRs and empty items are dropped. Returns a
 * heap string or NULL. */
static char *list_from_text(const char *v)
{
    char *out = malloc(strlen(v) + 1);
    size_t o = 0;

    if (out == NULL)
        return NULL;
    for (; *v; v++) {
        char c = *v == ',' ? '\n' : *v;
        if (c == '\r' || (c == '\n' && (o == 0 || out[o - 1] == '\n')))
            continue;
        out[o++] = c;
    }
    if (o && out[o - 1] == '\n')
        o--;
    out[o] = '\0';
    return out;
}

/* Reads the value of a secret row from a file (a Docker or Kubernetes
 * secret): at most CFG_SECRET_FILE_MAX bytes, no NUL byte, trailing line
 * ends stripped. Errors name the file, never its contents. Returns a heap
 * string (the caller wipes and frees it) or NULL after adding an error. */
static char *read_secret_file(const cfg_row *r, const char *path,
                              const char *where, cfg_errors *errs)
{
    char *buf = NULL;
    size_t n = 0;
    FILE *f;

    if (path == NULL || path[0] == '\0') {
        cfg_error_add(errs, "%s (%s): empty file name", r->name, where);
        return NULL;
    }
    f = fopen(path, "rb");
    if (f == NULL) {
        cfg_error_add(errs, "%s (%s): cannot read \"%s\": %s", r->name, where,
                      path, strerror(errno));
        return NULL;
    }
    buf = malloc(CFG_SECRET_FILE_MAX + 2);
    if (buf != NULL)
        n = fread(buf, 1, CFG_SECRET_FILE_MAX + 1, f);
    if (buf == NULL || ferror(f)) {
        cfg_error_add(errs, "%s (%s): cannot read \"%s\"", r->name, where,
                      path);
        goto fail;
    }
    if (n > CFG_SECRET_FILE_MAX) {
        cfg_error_add(errs, "%s (%s): \"%s\" is larger than %d bytes", r->name,
                      where, path, CFG_SECRET_FILE_MAX);
        goto fail;
    }
    if (memchr(buf, '\0', n) != NULL) {
        cfg_error_add(errs, "%s (%s): \"%s\" holds a NUL byte", r->name, where,
                      path);
        goto fail;
    }
    while (n && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
        n--;
    buf[n] = '\0';
    fclose(f);
    return buf;
fail:
    if (buf)
        explicit_bzero(buf, CFG_SECRET_FILE_MAX + 2);
    free(buf);
    fclose(f);
    return NULL;
}

/* Sets a secret row from the file named by path. */
static int set_from_secret_file(cfg_table *t, const cfg_row *r,
                                const char *path, const char *where,
                                cfg_errors *errs)
{
    char *v = read_secret_file(r, path, where, errs);
    char *list = NULL;
    int rc = -1;

    if (v == NULL)
        return -1;
    if (r->type == CFG_LIST) {
        list = list_from_text(v);
        if (list)
            rc = set_from_text(t, r, list, where, errs);
    } else {
        rc = set_from_text(t, r, v, where, errs);
    }
    explicit_bzero(v, strlen(v));
    free(v);
    if (list)
        explicit_bzero(list, strlen(list));
    free(list);
    return rc;
}

static int set_from_setting(cfg_table *t, const cfg_row *r,
                            const config_setting_t *s, const char *where,
                            cfg_errors *errs)
{
    char num[32];
    int type = config_setting_type(s);

    if (r->type == CFG_LIST) {
        size_t cap = 1;
        char *joined;
        int n;

        if (type != CONFIG_TYPE_LIST && type != CONFIG_TYPE_ARRAY) {
            cfg_error_add(errs, "%s (%s): expected a list of strings", r->name,
                          where);
            return -1;
        }
        n = config_setting_length(s);
        for (int i = 0; i < n; i++) {
            const char *item =
                config_setting_get_string(config_setting_get_elem(s, i));
            if (item == NULL) {
                cfg_error_add(errs, "%s (%s): item %d is not a string", r->name,
                              where, i);
                return -1;
            }
            cap += strlen(item) + 1;
        }
        joined = calloc(1, cap);
        if (joined == NULL)
            return -1;
        for (int i = 0; i < n; i++) {
            if (i)
                strcat(joined, "\n");
            strcat(joined,
                   config_setting_get_string(config_setting_get_elem(s, i)));
        }
        free(*(char **)((char *)t->base + r->offset));
        *(char **)((char *)t->base + r->offset) = joined;
        return 0;
    }
    switch (type) {
    case CONFIG_TYPE_STRING:
        return set_from_text(t, r, config_setting_get_string(s), where, errs);
    case CONFIG_TYPE_INT:
    case CONFIG_TYPE_INT64:
        snprintf(num, sizeof(num), "%lld", config_setting_get_int64(s));
        break;
    case CONFIG_TYPE_BOOL:
        snprintf(num, sizeof(num), "%s",
                 config_setting_get_bool(s) ? "true" : "false");
        break;
    default:
        cfg_error_add(errs, "%s (%s): unsupported value type", r->name, where);
        return -1;
    }
    if ((r->type == CFG_STR || r->type == CFG_ENUM) &&
        type != CONFIG_TYPE_STRING) {
        cfg_error_add(errs, "%s (%s): expected a string", r->name, where);
        return -1;
    }
    if (type == CONFIG_TYPE_BOOL && r->type != CFG_BOOL &&
        r->type != CFG_AUTO_BOOL) {
        cfg_error_add(errs, "%s (%s): expected a number", r->name, where);
        return -1;
    }
    return set_from_text(t, r, num, where, errs);
}

static const cfg_row *find_row(const cfg_table *t, const char *name)
{
    for (size_t i = 0; i < t->n; i++)
        if (strcmp(t->rows[i].name, name) == 0)
            return &t->rows[i];
    return NULL;
}

/* The secret row whose file variant is name ("s3.secret_key_file"). */
static const cfg_row *find_file_row(const cfg_table *t, const char *name)
{
    size_t n = strlen(name);
    const cfg_row *r;
    char stem[256];

    if (n <= 5 || n - 5 >= sizeof(stem) ||
        strcmp(name + n - 5, CFG_FILE_SUFFIX) != 0)
        return NULL;
    memcpy(stem, name, n - 5);
    stem[n - 5] = '\0';
    r = find_row(t, stem);
    return r && r->secret ? r : NULL;
}

/* Every leaf in the file must be a known row: a typo is an error. */
static void check_unknown(const cfg_table *t, config_setting_t *g,
                          const char *prefix, const char *path,
                          cfg_errors *errs)
{
    int n = config_setting_length(g);

    for (int i = 0; i < n; i++) {
        config_setting_t *s = config_setting_get_elem(g, i);
        const char *name = config_setting_name(s);
        char full[256];

        if (name == NULL)
            continue;
        snprintf(full, sizeof(full), "%s%s%s", prefix, prefix[0] ? "." : "",
                 name);
        if (config_setting_is_group(s)) {
            check_unknown(t, s, full, path, errs);
            continue;
        }
        if (find_row(t, full) == NULL && find_file_row(t, full) == NULL)
            cfg_error_add(errs, "%s:%d: unknown setting \"%s\"", path,
                          config_setting_source_line(s), full);
    }
}

/* A secret row's "<name>_file" setting in the configuration file: 1 when
 * it is there (whether or not its file could be read), else 0. */
static int load_file_variant(cfg_table *t, const cfg_row *r, config_t *cf,
                             const config_setting_t *plain, const char *path,
                             cfg_errors *errs)
{
    char name[256];
    char where[300];
    config_setting_t *s;

    snprintf(name, sizeof(name), "%s%s", r->name, CFG_FILE_SUFFIX);
    s = config_lookup(cf, name);
    if (s == NULL)
        return 0;
    snprintf(where, sizeof(where), "%s:%d", path,
             config_setting_source_line(s));
    if (plain != NULL)
        cfg_error_add(errs, "%s (%s): set %s or %s, not both", r->name, where,
                      r->name, name);
    else if (config_setting_type(s) != CONFIG_TYPE_STRING)
        cfg_error_add(errs, "%s (%s): expected a file name", name, where);
    else
        set_from_secret_file(t, r, config_setting_get_string(s), where, errs);
    return 1;
}

static void load_file(cfg_table *t, const char *path, cfg_errors *errs)
{
    config_t cf;

    config_init(&cf);
    if (config_read_file(&cf, path) != CONFIG_TRUE) {
        if (config_error_type(&cf) == CONFIG_ERR_FILE_IO)
            cfg_error_add(errs, "%s: cannot read file", path);
        else
            cfg_error_add(errs, "%s:%d: %s", path, config_error_line(&cf),
                          config_error_text(&cf));
        goto done;
    }
    check_unknown(t, config_root_setting(&cf), "", path, errs);
    for (size_t i = 0; i < t->n; i++) {
        const cfg_row *r = &t->rows[i];
        config_setting_t *s = config_lookup(&cf, r->name);
        char where[300];

        if (r->secret && load_file_variant(t, r, &cf, s, path, errs)) {
            t->src[i] = CFG_SRC_FILE;
            continue;
        }
        if (s == NULL)
            continue;
        snprintf(where, sizeof(where), "%s:%d", path,
                 config_setting_source_line(s));
        if (set_from_setting(t, r, s, where, errs) == 0)
            t->src[i] = CFG_SRC_FILE;
    }
done:
    config_destroy(&cf);
}

static const char *plain_getenv(const char *name)
{
    return getenv(name);
}

/* One variable of a row: its value, or for a secret row the contents of
 * the file named by the same name plus "_FILE". */
static void load_env_var(cfg_table *t, size_t i, const char *name,
                         const char *(*get)(const char *), cfg_errors *errs)
{
    const cfg_row *r = &t->rows[i];
    const char *v = get(name);
    const char *fv = NULL;
    char fname[80];
    char where[96];
    char *list = NULL;
    int rc;

    snprintf(fname, sizeof(fname), "%s_FILE", name);
    if (r->secret)
        fv = get(fname);
    if (v == NULL && fv == NULL)
        return;
    if (v != NULL && fv != NULL) {
        cfg_error_add(errs, "%s: env %s and %s are both set; set one", r->name,
                      name, fname);
        return;
    }
    snprintf(where, sizeof(where), "env %s", fv ? fname : name);
    if (fv) {
        rc = set_from_secret_file(t, r, fv, where, errs);
    } else if (r->type == CFG_LIST) {
        list = strdup(v);
        if (list == NULL)
            return;
        for (char *c = list; *c; c++)
            if (*c == ',')
                *c = '\n';
        rc = set_from_text(t, r, list, where, errs);
        free(list);
    } else {
        rc = set_from_text(t, r, v, where, errs);
    }
    if (rc == 0) {
        t->src[i] = CFG_SRC_ENV;
        snprintf(t->src_env[i], sizeof(t->src_env[i]), "%s", fv ? fname : name);
    }
}

/* The extra variable (MAX_WORKERS) is read first so that the namespaced
 * MILLRACE_ variable, the more specific one, wins when both are set. */
static void load_env(cfg_table *t, const char *(*get)(const char *),
                     cfg_errors *errs)
{
    for (size_t i = 0; i < t->n; i++) {
        char derived[64];

        cfg_env_name(t->rows[i].name, derived, sizeof(derived));
        if (t->rows[i].env)
            load_env_var(t, i, t->rows[i].env, get, errs);
        load_env_var(t, i, derived, get, errs);
    }
}

static void check_bounds(cfg_table *t, cfg_errors *errs)
{
    for (size_t i = 0; i < t->n; i++) {
        const cfg_row *r = &t->rows[i];
        long long v;

        if (r->type != CFG_INT && r->type != CFG_SIZE)
            continue;
        if (r->min == 0 && r->max == 0)
            continue;
        v = *(long long *)((char *)t->base + r->offset);
        if (v < r->min || v > r->max)
            cfg_error_add(errs, "%s = %lld is out of range [%lld, %lld]",
                          r->name, v, r->min, r->max);
    }
}

int cfg_load(cfg_table *t, const char *path,
             const char *(*getenv_fn)(const char *), cfg_errors *errs)
{
    size_t before = errs->n;

    if (t->n > CFG_MAX_ROWS) {
        cfg_error_add(errs, "internal: table has %zu rows, max %d", t->n,
                      CFG_MAX_ROWS);
        return 1;
    }
    for (size_t i = 0; i < t->n; i++) {
        const cfg_row *r = &t->rows[i];
        t->src[i] = CFG_SRC_DEFAULT;
        t->src_env[i][0] = '\0';
        if (r->def || r->type == CFG_STR || r->type == CFG_LIST)
            set_from_text(t, r, r->def, "default", errs);
    }
    if (path && path[0])
        load_file(t, path, errs);
    load_env(t, getenv_fn ? getenv_fn : plain_getenv, errs);
    check_bounds(t, errs);
    return (int)(errs->n - before);
}

int cfg_same_value(const cfg_table *a, const cfg_table *b, size_t i)
{
    const cfg_row *r = &a->rows[i];
    const void *fa = (const char *)a->base + r->offset;
    const void *fb = (const char *)b->base + r->offset;

    switch (r->type) {
    case CFG_STR:
    case CFG_LIST: {
        const char *sa = *(char *const *)fa;
        const char *sb = *(char *const *)fb;
        return strcmp(sa ? sa : "", sb ? sb : "") == 0;
    }
    case CFG_INT:
    case CFG_SIZE:
        return *(const long long *)fa == *(const long long *)fb;
    case CFG_ENUM:
    case CFG_BOOL:
    case CFG_AUTO_BOOL:
        return *(const int *)fa == *(const int *)fb;
    }
    return 0;
}

void cfg_free(cfg_table *t)
{
    for (size_t i = 0; i < t->n; i++) {
        const cfg_row *r = &t->rows[i];
        if (r->type == CFG_STR || r->type == CFG_LIST) {
            char **f = (char **)((char *)t->base + r->offset);
            free(*f);
            *f = NULL;
        }
    }
}
