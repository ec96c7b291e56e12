/* fuzz_cfg.c -- configuration parsing: cfg_load of a libconfig file and an
 * environment through a daemon's real table (the uploader's; the
 * ingest-api's when the first byte is odd), and cfg_parse_size and
 * cfg_parse_bool on every environment value.
 * Input: one byte, the file's text, then optionally "\n%%\n" and
 * environment lines NAME=VALUE. A variable whose name ends in _FILE names
 * a file holding its value, so the fuzzer writes that file too.
 * Properties: no crash, leak or UB; cfg_load returns the number of errors
 * it added; with no error every value obeys its row (bounds, choices,
 * booleans); --check-config's printing never shows a secret; the
 * daemon's own validator runs on what loaded. */
#include "fuzz.h"

#include "../../ingest-api/config.h"
#include "../../uploader/config.h"

#include <sys/mman.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_ENV 16

typedef struct fake_env {
    char *name[MAX_ENV];
    char *value[MAX_ENV];
    int fd[MAX_ENV];
    char path[MAX_ENV][32];
    size_t n;
} fake_env;

static fake_env env;

static const char *fake_getenv(const char *name)
{
    for (size_t i = 0; i < env.n; i++)
        if (strcmp(env.name[i], name) == 0)
            return env.fd[i] >= 0 ? env.path[i] : env.value[i];
    return NULL;
}

/* An anonymous file holding n bytes, named by /proc/self/fd/N. */
static int memfile(const void *p, size_t n, char *path, size_t pathlen)
{
    int fd = memfd_create("fuzz_cfg", 0);

    FUZZ_CHECK(fd >= 0, "memfd_create");
    FUZZ_CHECK(n == 0 || write(fd, p, n) == (ssize_t)n, "write");
    snprintf(path, pathlen, "/proc/self/fd/%d", fd);
    return fd;
}

static void env_parse(fuzz_in *in)
{
    memset(&env, 0, sizeof(env));
    while (in->n && env.n < MAX_ENV) {
        size_t len;
        char *line = fuzz_field(in, '\n', &len);
        char *eq = strchr(line, '=');
        size_t i = env.n;

        if (eq == NULL) {
            free(line);
            continue;
        }
        *eq = '\0';
        env.name[i] = line;
        env.value[i] = eq + 1;
        env.fd[i] = -1;
        if (eq - line > 5 && strcmp(eq - 5, "_FILE") == 0)
            env.fd[i] = memfile(eq + 1, strlen(eq + 1), env.path[i],
                                sizeof(env.path[i]));
        env.n++;
    }
}

static void env_free(void)
{
    for (size_t i = 0; i < env.n; i++) {
        if (env.fd[i] >= 0)
            close(env.fd[i]);
        free(env.name[i]);
    }
    env.n = 0;
}

static int choice_count(const char *const *choices)
{
    int n = 0;

    while (choices && choices[n])
        n++;
    return n;
}

/* Every row of a table loaded without errors holds a valid value. */
static void check_rows(const cfg_table *t)
{
    for (size_t i = 0; i < t->n; i++) {
        const cfg_row *r = &t->rows[i];
        const void *f = (const char *)t->base + r->offset;
        long long v;

        switch (r->type) {
        case CFG_STR:
        case CFG_LIST:
            FUZZ_CHECK(*(char *const *)f != NULL, "%s is NULL", r->name);
            break;
        case CFG_ENUM:
            FUZZ_CHECK(*(const int *)f >= 0 &&
                           *(const int *)f < choice_count(r->choices),
                       "%s = %d: no such choice", r->name, *(const int *)f);
            break;
        case CFG_INT:
        case CFG_SIZE:
            v = *(const long long *)f;
            FUZZ_CHECK(
                (r->min == 0 && r->max == 0) || (v >= r->min && v <= r->max),
                "%s = %lld out of [%lld, %lld]", r->name, v, r->min, r->max);
            break;
        case CFG_BOOL:
            FUZZ_CHECK(*(const int *)f == 0 || *(const int *)f == 1, "%s = %d",
                       r->name, *(const int *)f);
            break;
        case CFG_AUTO_BOOL:
            FUZZ_CHECK(*(const int *)f >= -1 && *(const int *)f <= 1, "%s = %d",
                       r->name, *(const int *)f);
            break;
        }
    }
}

/* Secret rows print as "********" or "" and nothing else. */
static void check_print(const cfg_table *t)
{
    char *out = NULL;
    size_t outlen = 0;
    FILE *f = open_memstream(&out, &outlen);
    const char *line;

    FUZZ_CHECK(f != NULL, "open_memstream");
    cfg_print(t, f);
    fclose(f);
    for (size_t i = 0; i < t->n; i++) {
        const cfg_row *r = &t->rows[i];
        char want[128];

        if (!r->secret)
            continue;
        snprintf(want, sizeof(want), "\n%s = ", r->name);
        line = strstr(out, want);
        if (line == NULL && strncmp(out, want + 1, strlen(want + 1)) == 0)
            line = out - 1;
        FUZZ_CHECK(line != NULL, "%s not printed", r->name);
        line += strlen(want);
        FUZZ_CHECK(strncmp(line, "\"********\"  # ", 14) == 0 ||
                       strncmp(line, "\"\"  # ", 6) == 0,
                   "secret %s printed as %.40s", r->name, line);
    }
    free(out);
}

static size_t count_in(const uint8_t *data, size_t size, const char *s)
{
    size_t n = 0, l = strlen(s);
    const uint8_t *p = data;
    const uint8_t *hit;

    while ((hit = memmem(p, size - (size_t)(p - data), s, l)) != NULL) {
        n++;
        p = hit + 1;
    }
    return n;
}

/* No error message quotes a secret's value (a token list: any item), when
 * the value is long enough to be told apart and the input holds it once. */
static void check_errors_hide_secrets(const cfg_table *t, const cfg_errors *e,
                                      const uint8_t *data, size_t size)
{
    for (size_t i = 0; i < t->n; i++) {
        const cfg_row *r = &t->rows[i];
        const char *cur;
        char item[512];

        /* Only string rows are secret; an enum row's field is an int. */
        if (!r->secret || (r->type != CFG_STR && r->type != CFG_LIST))
            continue;
        cur = *(char *const *)((const char *)t->base + r->offset);
        if (cur == NULL)
            continue;
        while (cfg_list_next(&cur, item, sizeof(item))) {
            if (strlen(item) < 12 || count_in(data, size, item) != 1)
                continue;
            for (size_t k = 0; k < e->n; k++)
                FUZZ_CHECK(strstr(e->msgs[k], item) == NULL,
                           "error shows secret %s: %s", r->name, e->msgs[k]);
        }
    }
}

static void check_parsers(const char *s)
{
    long long v;
    int b;
    char back[32];

    if (cfg_parse_size(s, &v) == 0) {
        FUZZ_CHECK(v >= 0 && v <= (1LL << 50), "size \"%s\" = %lld", s, v);
        snprintf(back, sizeof(back), "%lld", v);
        FUZZ_CHECK(cfg_parse_size(back, &v) == 0, "%s does not parse", back);
        FUZZ_CHECK(strcmp(back, "0") == 0 || v > 0, "size %s", back);
    }
    b = 7;
    if (cfg_parse_bool(s, &b) == 0)
        FUZZ_CHECK(b == 0 || b == 1, "bool \"%s\" = %d", s, b);
    else
        FUZZ_CHECK(b == 7, "bool \"%s\" written on failure", s);
}

static void validate_uploader(const void *base, cfg_errors *e)
{
    uploader_config_validate(base, e);
}

static void validate_ingest(const void *base, cfg_errors *e)
{
    ingest_config_validate(base, e);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static uploader_config uc;
    static ingest_config ic;
    fuzz_in in = {data, size};
    int ingest = fuzz_u8(&in) & 1;
    const uint8_t *sep = memmem(in.p, in.n, "\n%%\n", 4);
    size_t flen = sep ? (size_t)(sep - in.p) : in.n;
    char path[32];
    int fd = memfile(in.p, flen, path, sizeof(path));
    cfg_errors errs = {0};
    cfg_table t;
    int n;

    /* libconfig 1.5 exits the process when an @include names a directory
     * (hyperrealm/libconfig#292): not something a harness can survive. */
    if (memmem(in.p, flen, "@include", 8) != NULL) {
        close(fd);
        return 0;
    }
    in.p += sep ? flen + 4 : flen;
    in.n -= sep ? flen + 4 : flen;
    env_parse(&in);
    memset(&uc, 0, sizeof(uc));
    memset(&ic, 0, sizeof(ic));
    if (ingest)
        ingest_config_table(&t, &ic);
    else
        uploader_config_table(&t, &uc);
    n = cfg_load(&t, path, fake_getenv, &errs);
    FUZZ_CHECK(n >= 0 && (size_t)n == errs.n, "returned %d, %zu errors", n,
               errs.n);
    if (n == 0) {
        check_rows(&t);
        (ingest ? validate_ingest : validate_uploader)(t.base, &errs);
    }
    check_print(&t);
    check_errors_hide_secrets(&t, &errs, data, size);
    for (size_t i = 0; i < env.n; i++)
        check_parsers(env.value[i]);
    cfg_free(&t);
    cfg_errors_free(&errs);
    env_free();
    close(fd);
    return 0;
}
