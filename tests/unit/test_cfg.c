/* test_cfg.c -- the generic configuration loader (defaults, libconfig file,
 * environment, bounds, all errors at once, masked printing) through the two
 * daemons' real tables, and their cross-field validators. */
#include "cfg.h"
#include "test.h"

#include "../../ingest-api/config.h"
#include "../../ingest-api/publish.h"
#include "../../uploader/encode.h"
#include "../../uploader/config.h"

#include <stdlib.h>
#include <unistd.h>

/* A fake environment: name/value pairs, ended by {NULL, NULL}. */
typedef struct env_var {
    const char *name;
    const char *value;
} env_var;

static const env_var no_env[] = {{NULL, NULL}};
static const env_var *fake_env = no_env;

static const char *fake_getenv(const char *name)
{
    for (const env_var *v = fake_env; v->name; v++)
        if (strcmp(v->name, name) == 0)
            return v->value;
    return NULL;
}

/* Writes text to a new file under /tmp; path receives its name. */
static int write_temp(const char *text, char *path, size_t pathlen)
{
    FILE *f;
    int fd;

    snprintf(path, pathlen, "/tmp/millrace-cfg-XXXXXX");
    fd = mkstemp(path);
    if (fd < 0)
        return -1;
    f = fdopen(fd, "w");
    if (f == NULL) {
        close(fd);
        unlink(path);
        return -1;
    }
    fputs(text, f);
    fclose(f);
    return 0;
}

/* Loads t from file text (NULL: no file) and env. The file is removed
 * before returning; path keeps its name for matching error messages. */
static int load(cfg_table *t, const char *text, const env_var *env,
                cfg_errors *e, char *path, size_t pathlen)
{
    int n;

    path[0] = '\0';
    fake_env = env ? env : no_env;
    if (text && write_temp(text, path, pathlen) < 0)
        return -1;
    n = cfg_load(t, text ? path : NULL, fake_getenv, e);
    if (text)
        unlink(path);
    return n;
}

typedef struct up_fx {
    uploader_config c;
    cfg_table t;
    cfg_errors e;
    char path[64];
    int nerr;
} up_fx;

typedef struct in_fx {
    ingest_config c;
    cfg_table t;
    cfg_errors e;
    char path[64];
    int nerr;
} in_fx;

static void up_load(up_fx *f, const char *text, const env_var *env)
{
    memset(f, 0, sizeof(*f));
    uploader_config_table(&f->t, &f->c);
    f->nerr = load(&f->t, text, env, &f->e, f->path, sizeof(f->path));
}

static void up_done(up_fx *f)
{
    cfg_free(&f->t);
    cfg_errors_free(&f->e);
}

static void in_load(in_fx *f, const char *text, const env_var *env)
{
    memset(f, 0, sizeof(*f));
    ingest_config_table(&f->t, &f->c);
    f->nerr = load(&f->t, text, env, &f->e, f->path, sizeof(f->path));
}

static void in_done(in_fx *f)
{
    cfg_free(&f->t);
    cfg_errors_free(&f->e);
}

static int row_index(const cfg_table *t, const char *name)
{
    for (size_t i = 0; i < t->n; i++)
        if (strcmp(t->rows[i].name, name) == 0)
            return (int)i;
    return -1;
}

static int errs_have(const cfg_errors *e, const char *needle)
{
    for (size_t i = 0; i < e->n; i++)
        if (strstr(e->msgs[i], needle))
            return 1;
    return 0;
}

/* Fails, listing every collected message, unless one contains s. */
#define ASSERT_ERR_HAS(e, s)                                                   \
    do {                                                                       \
        if (!errs_have((e), (s))) {                                            \
            cfg_errors_print((e), stderr);                                     \
            TEST_FAIL_("no error contains \"%s\"", (s));                       \
        }                                                                      \
    } while (0)

#define ASSERT_NERR(f, want)                                                   \
    do {                                                                       \
        if ((f)->nerr != (want) || (f)->e.n != (size_t)(want)) {               \
            cfg_errors_print(&(f)->e, stderr);                                 \
            TEST_FAIL_("errors: returned %d, listed %zu, want %d", (f)->nerr,  \
                       (f)->e.n, (int)(want));                                 \
        }                                                                      \
    } while (0)

#define ASSERT_CONTAINS(hay, needle)                                           \
    do {                                                                       \
        if (strstr((hay), (needle)) == NULL)                                   \
            TEST_FAIL_("\"%s\" not found in:\n%s", (needle), (hay));           \
    } while (0)

/* Runs cfg_print or cfg_print_doc into a heap string. */
static char *print_to_string(const cfg_table *t, int doc)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);

    if (f == NULL)
        return NULL;
    if (doc)
        cfg_print_doc(t, f);
    else
        cfg_print(t, f);
    fclose(f);
    return buf;
}

/* ---- defaults, file, environment ---- */

static void cfg_defaults_applied(void)
{
    up_fx f;

    up_load(&f, NULL, NULL);
    ASSERT_NERR(&f, 0);
    ASSERT_EQ(f.c.uploader.workers, 4);
    ASSERT_EQ(f.c.uploader.queue, 8);
    ASSERT_EQ(f.c.uploader.max_bytes, 64LL << 20);
    ASSERT_EQ(f.c.uploader.max_age_ms, 60000);
    ASSERT_EQ(f.c.uploader.format, ENCODE_GZIP);
    ASSERT_EQ(f.c.uploader.store, UPLOADER_STORE_S3);
    ASSERT_STR_EQ(f.c.kafka.brokers, "127.0.0.1:9092");
    ASSERT_EQ(f.c.log.level, LOG_INFO);
    ASSERT_EQ(f.c.s3.path_style, -1); /* auto */
    for (size_t i = 0; i < f.t.n; i++)
        ASSERT_EQ(f.t.src[i], CFG_SRC_DEFAULT);
    up_done(&f);
}

/* A row without a default still gets an empty string, never NULL. */
static void cfg_defaults_unset_strings_are_empty(void)
{
    up_fx f;

    up_load(&f, NULL, NULL);
    ASSERT_STR_EQ(f.c.s3.secret_key, "");
    ASSERT_STR_EQ(f.c.s3.session_token, "");
    ASSERT_STR_EQ(f.c.kafka.properties, "");
    up_done(&f);
}

static void cfg_defaults_applied_ingest(void)
{
    in_fx f;

    in_load(&f, NULL, NULL);
    ASSERT_NERR(&f, 0);
    ASSERT_STR_EQ(f.c.ingest.listen, "8080");
    ASSERT_EQ(f.c.ingest.max_body_bytes, 4LL << 20);
    ASSERT_EQ(f.c.ingest.max_event_bytes, 512LL << 10);
    ASSERT_EQ(f.c.ingest.max_depth, 32);
    ASSERT_EQ(f.c.ingest.ack, PUBLISH_ACK_KAFKA);
    ASSERT_STR_EQ(f.c.ingest.required_fields, "");
    ASSERT_STR_EQ(f.c.ingest.key_field, "");
    in_done(&f);
}

static void cfg_file_overrides_default(void)
{
    up_fx f;

    up_load(&f, "uploader: { workers = 7; max_bytes = \"16M\"; };\n", NULL);
    ASSERT_NERR(&f, 0);
    ASSERT_EQ(f.c.uploader.workers, 7);
    ASSERT_EQ(f.c.uploader.max_bytes, 16LL << 20);
    ASSERT_EQ(f.c.uploader.queue, 8);
    ASSERT_EQ(f.t.src[row_index(&f.t, "uploader.workers")], CFG_SRC_FILE);
    ASSERT_EQ(f.t.src[row_index(&f.t, "uploader.queue")], CFG_SRC_DEFAULT);
    up_done(&f);
}

/* Numbers in the file may be written as libconfig integers or strings. */
static void cfg_file_value_types(void)
{
    up_fx f;

    up_load(&f,
            "uploader: { workers = \"12\"; max_bytes = 4294967296L;\n"
            "  max_records = 2048; };\n"
            "s3: { bucket = \"b\"; path_style = false; };\n",
            NULL);
    ASSERT_NERR(&f, 0);
    ASSERT_EQ(f.c.uploader.workers, 12);
    ASSERT_EQ(f.c.uploader.max_bytes, 4LL << 30);
    ASSERT_EQ(f.c.uploader.max_records, 2048);
    ASSERT_STR_EQ(f.c.s3.bucket, "b");
    ASSERT_EQ(f.c.s3.path_style, 0);
    up_done(&f);
}

static void cfg_file_wrong_types_rejected(void)
{
    static const struct {
        const char *text;
        const char *msg;
    } cases[] = {
        {"uploader: { group = 5; };", "uploader.group"},
        {"uploader: { workers = true; };", "expected a number"},
        {"uploader: { workers = 1.5; };", "unsupported value type"},
        {"uploader: { format = 3; };", "expected a string"},
        {"s3: { path_style = \"maybe\"; };", "is not a boolean"},
    };

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        up_fx f;
        up_load(&f, cases[i].text, NULL);
        ASSERT_NERR(&f, 1);
        ASSERT_ERR_HAS(&f.e, cases[i].msg);
        ASSERT_ERR_HAS(&f.e, f.path);
        up_done(&f);
    }
}

static void cfg_env_overrides_file(void)
{
    static const env_var env[] = {{"MILLRACE_UPLOADER_WORKERS", "9"},
                                  {NULL, NULL}};
    int i;
    up_fx f;

    up_load(&f, "uploader: { workers = 7; };\n", env);
    ASSERT_NERR(&f, 0);
    ASSERT_EQ(f.c.uploader.workers, 9);
    i = row_index(&f.t, "uploader.workers");
    ASSERT_EQ(f.t.src[i], CFG_SRC_ENV);
    ASSERT_STR_EQ(f.t.src_env[i], "MILLRACE_UPLOADER_WORKERS");
    up_done(&f);
}

static void cfg_env_aliases_set_workers_and_queue(void)
{
    static const env_var env[] = {
        {"MAX_WORKERS", "5"}, {"MAX_QUEUE", "16"}, {NULL, NULL}};
    up_fx f;

    up_load(&f, NULL, env);
    ASSERT_NERR(&f, 0);
    ASSERT_EQ(f.c.uploader.workers, 5);
    ASSERT_EQ(f.c.uploader.queue, 16);
    ASSERT_STR_EQ(f.t.src_env[row_index(&f.t, "uploader.workers")],
                  "MAX_WORKERS");
    ASSERT_STR_EQ(f.t.src_env[row_index(&f.t, "uploader.queue")], "MAX_QUEUE");
    up_done(&f);
}

static void cfg_env_derived_wins_over_alias(void)
{
    static const env_var env[] = {
        {"MAX_WORKERS", "5"}, {"MILLRACE_UPLOADER_WORKERS", "6"}, {NULL, NULL}};
    up_fx f;

    up_load(&f, NULL, env);
    ASSERT_NERR(&f, 0);
    ASSERT_EQ(f.c.uploader.workers, 6);
    ASSERT_STR_EQ(f.t.src_env[row_index(&f.t, "uploader.workers")],
                  "MILLRACE_UPLOADER_WORKERS");
    up_done(&f);
}

static void cfg_env_aliases_ingest(void)
{
    static const env_var env[] = {
        {"PORT", "127.0.0.1:9000"}, {"ACK_MODE", "queued"}, {NULL, NULL}};
    in_fx f;

    in_load(&f, NULL, env);
    ASSERT_NERR(&f, 0);
    ASSERT_STR_EQ(f.c.ingest.listen, "127.0.0.1:9000");
    ASSERT_EQ(f.c.ingest.ack, PUBLISH_ACK_QUEUED);
    in_done(&f);
}

/* A NULL getenv_fn reads the process environment. */
static void cfg_env_default_is_getenv(void)
{
    uploader_config c;
    cfg_table t;
    cfg_errors e = {0};
    int n;

    memset(&c, 0, sizeof(c));
    uploader_config_table(&t, &c);
    setenv("MILLRACE_UPLOADER_LEVEL", "3", 1);
    n = cfg_load(&t, NULL, NULL, &e);
    unsetenv("MILLRACE_UPLOADER_LEVEL");
    ASSERT_EQ(n, 0);
    ASSERT_EQ(c.uploader.level, 3);
    cfg_free(&t);
    cfg_errors_free(&e);
}

static void cfg_env_name_derived(void)
{
    char buf[64];
    char small[12];

    cfg_env_name("uploader.max_age_ms", buf, sizeof(buf));
    ASSERT_STR_EQ(buf, "MILLRACE_UPLOADER_MAX_AGE_MS");
    cfg_env_name("s3.secret_key", buf, sizeof(buf));
    ASSERT_STR_EQ(buf, "MILLRACE_S3_SECRET_KEY");
    cfg_env_name("uploader.workers", small, sizeof(small));
    ASSERT_STR_EQ(small, "MILLRACE_UP");
}

/* ---- typed values ---- */

static void cfg_parse_size_suffixes(void)
{
    static const struct {
        const char *s;
        long long want;
    } cases[] = {
        {"0", 0},
        {"1", 1},
        {"1536", 1536},
        {"1k", 1LL << 10},
        {"1K", 1LL << 10},
        {"2M", 2LL << 20},
        {"2m", 2LL << 20},
        {"3G", 3LL << 30},
        {"4KiB", 4LL << 10},
        {"4kb", 4LL << 10},
        {"5MB", 5LL << 20},
        {"5MiB", 5LL << 20},
        {"6 GiB", 6LL << 30},
        {"1048576G", 1LL << 50},
    };

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        long long v = -7;
        ASSERT_EQ(cfg_parse_size(cases[i].s, &v), 0);
        ASSERT_EQ(v, cases[i].want);
    }
}

static void cfg_parse_size_rejects_bad(void)
{
    static const char *const bad[] = {
        "",   "abc",   "k",    "-1",   "-1k",      "1.5M",
        "1T", "1kibx", "1M B", "0x10", "1048577G", "99999999999999999999",
    };

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        long long v = -7;
        if (cfg_parse_size(bad[i], &v) != -1)
            TEST_FAIL_("cfg_parse_size(\"%s\") accepted: %lld", bad[i], v);
        ASSERT_EQ(v, -7);
    }
}

static void cfg_size_bad_in_env_is_error(void)
{
    static const env_var env[] = {{"MILLRACE_UPLOADER_MAX_BYTES", "lots"},
                                  {NULL, NULL}};
    up_fx f;

    up_load(&f, NULL, env);
    ASSERT_NERR(&f, 1);
    ASSERT_ERR_HAS(&f.e, "uploader.max_bytes (env "
                         "MILLRACE_UPLOADER_MAX_BYTES): \"lots\" is not a "
                         "size");
    ASSERT_EQ(f.c.uploader.max_bytes, 64LL << 20);
    up_done(&f);
}

static void cfg_parse_bool_values(void)
{
    static const struct {
        const char *s;
        int want;
    } cases[] = {
        {"1", 1},   {"true", 1},   {"TRUE", 1},  {"yes", 1},
        {"On", 1},  {"0", 0},      {"false", 0}, {"No", 0},
        {"off", 0}, {"OFF", 0},    {"", -1},     {"2", -1},
        {"y", -1},  {"truee", -1}, {"tru", -1},  {" true", -1},
    };

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        int v = -7;
        int rc = cfg_parse_bool(cases[i].s, &v);
        if (cases[i].want < 0) {
            if (rc != -1)
                TEST_FAIL_("cfg_parse_bool(\"%s\") accepted", cases[i].s);
            continue;
        }
        ASSERT_EQ(rc, 0);
        ASSERT_EQ(v, cases[i].want);
    }
}

static void cfg_bool_from_env(void)
{
    static const env_var yes[] = {{"MILLRACE_UPLOADER_INDEX", "no"},
                                  {NULL, NULL}};
    static const env_var bad[] = {{"MILLRACE_UPLOADER_INDEX", "maybe"},
                                  {NULL, NULL}};
    up_fx f;

    up_load(&f, NULL, yes);
    ASSERT_NERR(&f, 0);
    ASSERT_EQ(f.c.uploader.index, 0);
    up_done(&f);
    up_load(&f, NULL, bad);
    ASSERT_NERR(&f, 1);
    ASSERT_ERR_HAS(&f.e, "uploader.index (env MILLRACE_UPLOADER_INDEX): "
                         "\"maybe\" is not a boolean");
    ASSERT_EQ(f.c.uploader.index, 1);
    up_done(&f);
}

static void cfg_int_rejects_garbage(void)
{
    static const char *const bad[] = {
        "", "12abc", "abc", " ", "1e3", "4.0", "99999999999999999999"};

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        env_var env[] = {{"MILLRACE_UPLOADER_QUEUE", bad[i]}, {NULL, NULL}};
        up_fx f;
        up_load(&f, NULL, env);
        if (f.nerr != 1)
            TEST_FAIL_("queue \"%s\": %d errors", bad[i], f.nerr);
        ASSERT_ERR_HAS(&f.e, "uploader.queue");
        ASSERT_EQ(f.c.uploader.queue, 8);
        up_done(&f);
    }
}

static void cfg_enum_accepts_choice(void)
{
    static const env_var env[] = {
        {"MILLRACE_UPLOADER_FORMAT", "zstd"}, {"STORE", "local"}, {NULL, NULL}};
    up_fx f;

    up_load(&f, NULL, env);
    ASSERT_NERR(&f, 0);
    ASSERT_EQ(f.c.uploader.format, ENCODE_ZSTD);
    ASSERT_EQ(f.c.uploader.store, UPLOADER_STORE_LOCAL);
    up_done(&f);
}

/* Each enum row's value is the index of its choice: the names arrays are
 * in the order of the enums the daemons compare with. */
static void cfg_enum_values_follow_the_enums(void)
{
    static const env_var env[] = {
        {"MILLRACE_UPLOADER_FORMAT", "none"},
        {"STORE", "local"},
        {"MILLRACE_UPLOADER_CONTENT_ENCODING", "format"},
        {"MILLRACE_UPLOADER_ASSIGNMENT", "roundrobin"},
        {"MILLRACE_UPLOADER_ON_PERMANENT_ERROR", "dlq"},
        {"S3_SSE", "aws:kms"},
        {"LOG_LEVEL", "error"},
        {"LOG_FORMAT", "json"},
        {NULL, NULL}};
    up_fx f;

    up_load(&f, NULL, env);
    ASSERT_NERR(&f, 0);
    ASSERT_EQ(f.c.uploader.format, ENCODE_NONE);
    ASSERT_EQ(f.c.uploader.store, UPLOADER_STORE_LOCAL);
    ASSERT_EQ(f.c.uploader.content_encoding, UPLOADER_CE_FORMAT);
    ASSERT_EQ(f.c.uploader.assignment, UPLOADER_ASSIGN_ROUNDROBIN);
    ASSERT_STR_EQ(uploader_assignment_names[f.c.uploader.assignment],
                  "roundrobin");
    ASSERT_EQ(f.c.uploader.on_permanent_error, UPLOADER_ON_PERMANENT_DLQ);
    ASSERT_EQ(f.c.s3.sse, UPLOADER_SSE_KMS);
    ASSERT_STR_EQ(uploader_sse_names[UPLOADER_SSE_NONE], "");
    ASSERT_EQ(f.c.log.level, LOG_ERROR);
    ASSERT_EQ(f.c.log.format, LOG_FORMAT_JSON);
    for (size_t i = 0; i < f.t.n; i++) {
        if (strcmp(f.t.rows[i].name, "log.format") != 0)
            continue;
        ASSERT_STR_EQ(cfg_choice_name(&f.t.rows[i], LOG_FORMAT_JSON), "json");
        ASSERT_STR_EQ(cfg_choice_name(&f.t.rows[i], 7), "?");
    }
    ASSERT_EQ(f.c.kafka.security_protocol, KAFKA_SECURITY_PLAINTEXT);
    ASSERT_EQ(f.c.kafka.sasl_mechanism, KAFKA_SASL_NONE);
    up_done(&f);
}

static void cfg_enum_ack_follows_publish_ack(void)
{
    static const env_var env[] = {{"ACK_MODE", "queued"}, {NULL, NULL}};
    in_fx f;

    in_load(&f, NULL, env);
    ASSERT_NERR(&f, 0);
    ASSERT_EQ(f.c.ingest.ack, PUBLISH_ACK_QUEUED);
    ASSERT_STR_EQ(ingest_ack_names[PUBLISH_ACK_KAFKA], "kafka");
    in_done(&f);
}

/* Prefixes, extensions and the separator itself are not choices. */
static void cfg_enum_rejects_unknown(void)
{
    static const char *const bad[] = {"lz4", "gz",        "gzipp", "GZIP",
                                      "",    "gzip|zstd", "zst",   "none "};

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        env_var env[] = {{"MILLRACE_UPLOADER_FORMAT", bad[i]}, {NULL, NULL}};
        up_fx f;
        up_load(&f, NULL, env);
        if (f.nerr != 1)
            TEST_FAIL_("format \"%s\": %d errors", bad[i], f.nerr);
        ASSERT_ERR_HAS(&f.e, "is not one of gzip|zstd|none");
        ASSERT_EQ(f.c.uploader.format, ENCODE_GZIP);
        up_done(&f);
    }
}

static void cfg_enum_rejects_unknown_in_file(void)
{
    up_fx f;

    up_load(&f, "\nuploader: { format = \"brotli\"; };\n", NULL);
    ASSERT_NERR(&f, 1);
    ASSERT_ERR_HAS(&f.e, ":2): \"brotli\" is not one of gzip|zstd|none");
    up_done(&f);
}

/* ---- lists ---- */

/* Collects a list's items joined by '|' for one-line comparison. */
static void list_items(const char *list, char *out, size_t outlen)
{
    const char *cur = list;
    char item[64];

    out[0] = '\0';
    while (cfg_list_next(&cur, item, sizeof(item))) {
        if (out[0])
            strncat(out, "|", outlen - strlen(out) - 1);
        strncat(out, item, outlen - strlen(out) - 1);
    }
}

static void cfg_list_from_file(void)
{
    char items[256];
    in_fx f;

    in_load(&f, "ingest: { required_fields = [\"id\", \"ts\", \"type\"]; };\n",
            NULL);
    ASSERT_NERR(&f, 0);
    list_items(f.c.ingest.required_fields, items, sizeof(items));
    ASSERT_STR_EQ(items, "id|ts|type");
    in_done(&f);
}

static void cfg_list_from_env_comma_separated(void)
{
    static const env_var env[] = {
        {"MILLRACE_KAFKA_PROPERTIES", "acks=all,linger.ms=5"}, {NULL, NULL}};
    char items[256];
    in_fx f;

    in_load(&f, "kafka: { properties = [\"a=1\"]; };\n", env);
    ASSERT_NERR(&f, 0);
    list_items(f.c.kafka.properties, items, sizeof(items));
    ASSERT_STR_EQ(items, "acks=all|linger.ms=5");
    in_done(&f);
}

static void cfg_list_file_rejects_non_strings(void)
{
    static const char *const bad[] = {
        "ingest: { required_fields = [1, 2]; };",
        "ingest: { required_fields = \"id\"; };",
        "ingest: { required_fields = (\"id\", 3); };",
    };

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        in_fx f;
        in_load(&f, bad[i], NULL);
        if (f.nerr != 1)
            TEST_FAIL_("\"%s\": %d errors", bad[i], f.nerr);
        ASSERT_ERR_HAS(&f.e, "ingest.required_fields");
        in_done(&f);
    }
}

static void cfg_list_next_edges(void)
{
    const char *cur = "abcdef\nxy";
    const char *empty = "";
    const char *none = NULL;
    char buf[4];

    ASSERT_STR_EQ(cfg_list_next(&cur, buf, sizeof(buf)), "abc");
    ASSERT_STR_EQ(cfg_list_next(&cur, buf, sizeof(buf)), "xy");
    ASSERT(cfg_list_next(&cur, buf, sizeof(buf)) == NULL);
    ASSERT(cfg_list_next(&empty, buf, sizeof(buf)) == NULL);
    ASSERT(cfg_list_next(&none, buf, sizeof(buf)) == NULL);
}

/* ---- bounds and errors ---- */

static void cfg_out_of_range_rejected(void)
{
    static const struct {
        const char *var, *value;
        int nerr;
    } cases[] = {
        {"MAX_WORKERS", "0", 1},
        {"MAX_WORKERS", "1", 0},
        {"MAX_WORKERS", "1024", 0},
        {"MAX_WORKERS", "1025", 1},
        {"MAX_WORKERS", "-3", 1},
        {"MAX_QUEUE", "65537", 1},
        {"MAX_AGE_MS", "9", 1},
        {"MAX_AGE_MS", "10", 0},
        {"MILLRACE_UPLOADER_MAX_BYTES", "1023", 1},
        {"MILLRACE_UPLOADER_MAX_BYTES", "1k", 0},
        {"MILLRACE_UPLOADER_MAX_BYTES", "4G", 0},
        {"MILLRACE_UPLOADER_MAX_BYTES", "4097M", 1},
    };

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        env_var env[] = {{cases[i].var, cases[i].value}, {NULL, NULL}};
        up_fx f;
        up_load(&f, NULL, env);
        if (f.nerr != cases[i].nerr) {
            cfg_errors_print(&f.e, stderr);
            TEST_FAIL_("%s=%s: %d errors, want %d", cases[i].var,
                       cases[i].value, f.nerr, cases[i].nerr);
        }
        if (cases[i].nerr)
            ASSERT_ERR_HAS(&f.e, "is out of range");
        up_done(&f);
    }
}

static void cfg_out_of_range_in_file(void)
{
    up_fx f;

    up_load(&f, "uploader: { workers = 0; };\n", NULL);
    ASSERT_NERR(&f, 1);
    ASSERT_ERR_HAS(&f.e, "uploader.workers = 0 is out of range [1, 1024]");
    up_done(&f);
}

static void cfg_unknown_key_reports_file_line(void)
{
    char want[128];
    up_fx f;

    up_load(&f,
            "# comment\n"
            "uploader: {\n"
            "  wokers = 3;\n"
            "};\n",
            NULL);
    ASSERT_NERR(&f, 1);
    snprintf(want, sizeof(want), "%s:3: unknown setting \"uploader.wokers\"",
             f.path);
    ASSERT_ERR_HAS(&f.e, want);
    ASSERT_EQ(f.c.uploader.workers, 4);
    up_done(&f);
}

static void cfg_unknown_section_is_error(void)
{
    char want[128];
    up_fx f;

    up_load(&f, "verbose = true;\nfoo: { bar = 1; };\n", NULL);
    ASSERT_NERR(&f, 2);
    snprintf(want, sizeof(want), "%s:1: unknown setting \"verbose\"", f.path);
    ASSERT_ERR_HAS(&f.e, want);
    snprintf(want, sizeof(want), "%s:2: unknown setting \"foo.bar\"", f.path);
    ASSERT_ERR_HAS(&f.e, want);
    up_done(&f);
}

static void cfg_syntax_error_reports_line(void)
{
    char want[128];
    up_fx f;

    up_load(&f, "uploader: {\n  workers = 3;\n  queue = ;\n};\n", NULL);
    ASSERT_NERR(&f, 1);
    snprintf(want, sizeof(want), "%s:3: ", f.path);
    ASSERT_ERR_HAS(&f.e, want);
    /* Nothing from a broken file is applied. */
    ASSERT_EQ(f.c.uploader.workers, 4);
    up_done(&f);
}

static void cfg_missing_file_is_error(void)
{
    uploader_config c;
    cfg_table t;
    cfg_errors e = {0};

    memset(&c, 0, sizeof(c));
    uploader_config_table(&t, &c);
    fake_env = no_env;
    ASSERT_EQ(
        cfg_load(&t, "/tmp/millrace-cfg-does-not-exist/x.cfg", fake_getenv, &e),
        1);
    ASSERT_ERR_HAS(&e, "x.cfg: cannot read file");
    ASSERT_EQ(c.uploader.workers, 4);
    cfg_free(&t);
    cfg_errors_free(&e);
}

/* Every problem in the file and the environment is listed in one go. */
static void cfg_all_errors_listed_at_once(void)
{
    static const env_var env[] = {{"MILLRACE_UPLOADER_QUEUE", "many"},
                                  {"S3_PATH_STYLE", "sometimes"},
                                  {"MAX_AGE_MS", "1"},
                                  {NULL, NULL}};
    up_fx f;

    up_load(&f,
            "uploader: {\n"
            "  wokers = 3;\n"
            "  max_bytes = \"big\";\n"
            "  format = \"lz4\";\n"
            "  level = 0;\n"
            "};\n",
            env);
    ASSERT_NERR(&f, 7);
    ASSERT_ERR_HAS(&f.e, "\"uploader.wokers\"");
    ASSERT_ERR_HAS(&f.e, "\"big\" is not a size");
    ASSERT_ERR_HAS(&f.e, "\"lz4\" is not one of");
    ASSERT_ERR_HAS(&f.e, "uploader.level = 0 is out of range");
    ASSERT_ERR_HAS(&f.e, "\"many\" is not an integer");
    ASSERT_ERR_HAS(&f.e, "\"sometimes\" is not a boolean");
    ASSERT_ERR_HAS(&f.e, "uploader.max_age_ms = 1 is out of range");
    up_done(&f);
}

static void cfg_errors_print_lists_each(void)
{
    cfg_errors e = {0};
    char *buf = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&buf, &len);

    ASSERT(out != NULL);
    cfg_error_add(&e, "first %d", 1);
    cfg_error_add(&e, "second %s", "two");
    cfg_errors_print(&e, out);
    fclose(out);
    ASSERT_STR_EQ(buf, "config error: first 1\nconfig error: second two\n");
    free(buf);
    cfg_errors_free(&e);
    ASSERT_EQ(e.n, 0);
    ASSERT(e.msgs == NULL);
}

/* ---- printing ---- */

static void cfg_print_masks_secrets(void)
{
    static const char secret[] = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";
    static const env_var env[] = {{"AWS_SECRET_ACCESS_KEY", secret},
                                  {NULL, NULL}};
    char *out;
    up_fx f;

    up_load(&f, NULL, env);
    ASSERT_NERR(&f, 0);
    ASSERT_STR_EQ(f.c.s3.secret_key, secret);
    out = print_to_string(&f.t, 0);
    ASSERT(out != NULL);
    if (strstr(out, secret) || strstr(out, "wJalr"))
        TEST_FAIL_("secret printed:\n%s", out);
    ASSERT_CONTAINS(out, "s3.secret_key = \"********\"  # env "
                         "AWS_SECRET_ACCESS_KEY\n");
    ASSERT_CONTAINS(out, "s3.session_token = \"\"  # default\n");
    free(out);
    up_done(&f);
}

static void cfg_print_shows_value_and_source(void)
{
    static const env_var env[] = {
        {"MAX_QUEUE", "16"},
        {"MILLRACE_KAFKA_PROPERTIES", "acks=all,linger.ms=5"},
        {NULL, NULL}};
    char *out;
    up_fx f;

    up_load(&f, "uploader: { workers = 7; };\n", env);
    ASSERT_NERR(&f, 0);
    out = print_to_string(&f.t, 0);
    ASSERT(out != NULL);
    ASSERT_CONTAINS(out, "uploader.workers = 7  # file\n");
    ASSERT_CONTAINS(out, "uploader.queue = 16  # env MAX_QUEUE\n");
    ASSERT_CONTAINS(out, "uploader.format = \"gzip\"  # default\n");
    ASSERT_CONTAINS(out, "uploader.index = true  # default\n");
    ASSERT_CONTAINS(out, "s3.path_style = \"auto\"  # default\n");
    ASSERT_CONTAINS(out, "kafka.properties = [\"acks=all\", \"linger.ms=5\"]"
                         "  # env MILLRACE_KAFKA_PROPERTIES\n");
    free(out);
    up_done(&f);
}

static int count_lines_starting(const char *s, const char *prefix)
{
    const char *l = s;
    int n = 0;

    while (l && *l) {
        const char *nl = strchr(l, '\n');
        if (strncmp(l, prefix, strlen(prefix)) == 0)
            n++;
        l = nl ? nl + 1 : NULL;
    }
    return n;
}

/* A value with a newline, a quote or a backslash prints as a libconfig
 * escape on its own line: a newline printed as is would make a line of its
 * own, a fake setting (here a secret seemingly shown). */
static void cfg_print_escapes_strings(void)
{
    static const env_var env[] = {
        {"MILLRACE_KAFKA_PROPERTIES", "client.id=a\tb\"c,sasl.password=x\"y"},
        {NULL, NULL}};
    char *out;
    up_fx f;

    up_load(&f,
            "s3: { region = \"eu-west-\\ns3.session_token = 1\\\"\\\\\"; };\n",
            env);
    ASSERT_NERR(&f, 0);
    ASSERT_STR_EQ(f.c.s3.region, "eu-west-\ns3.session_token = 1\"\\");
    out = print_to_string(&f.t, 0);
    ASSERT(out != NULL);
    ASSERT_CONTAINS(out,
                    "s3.region = \"eu-west-\\ns3.session_token = 1\\\"\\\\\""
                    "  # file\n");
    ASSERT_CONTAINS(out, "kafka.properties = [\"client.id=a\\tb\\\"c\", "
                         "\"sasl.password=********\"]");
    ASSERT_CONTAINS(out, "\ns3.session_token = \"\"  # default\n");
    ASSERT_EQ(count_lines_starting(out, ""), f.t.n);
    free(out);
    up_done(&f);
}

static void cfg_print_has_one_line_per_row(void)
{
    char *out;
    up_fx f;

    up_load(&f, NULL, NULL);
    out = print_to_string(&f.t, 0);
    ASSERT(out != NULL);
    ASSERT_EQ(count_lines_starting(out, ""), f.t.n);
    free(out);
    up_done(&f);
}

static void cfg_print_doc_one_row_per_setting(void)
{
    char *out;
    char want[128];
    in_fx f;

    in_load(&f, NULL, NULL);
    out = print_to_string(&f.t, 1);
    ASSERT(out != NULL);
    ASSERT_EQ(count_lines_starting(out, "| `"), f.t.n);
    ASSERT_EQ(count_lines_starting(out, "| setting |"), 1);
    for (size_t i = 0; i < f.t.n; i++) {
        snprintf(want, sizeof(want), "| `%s` |", f.t.rows[i].name);
        ASSERT_CONTAINS(out, want);
    }
    ASSERT_CONTAINS(out, "`MILLRACE_INGEST_LISTEN`, `PORT`");
    ASSERT_CONTAINS(out, "One of `kafka|queued`.");
    free(out);
    in_done(&f);
}

/* ---- the daemons' validators ---- */

static int uploader_validate_count(const env_var *env)
{
    cfg_errors ve = {0};
    up_fx f;
    int n;

    up_load(&f, NULL, env);
    if (f.nerr != 0) {
        cfg_errors_print(&f.e, stderr);
        up_done(&f);
        return -1;
    }
    uploader_config_validate(&f.c, &ve);
    n = (int)ve.n;
    cfg_errors_free(&ve);
    up_done(&f);
    return n;
}

/* Keys are optional (the credential chain finds them), but the two go
 * together, and a session token needs them. */
static void uploader_validate_s3_requires_bucket_and_paired_keys(void)
{
    static const struct {
        env_var env[5];
        int errors;
    } t[] = {
        {{{NULL, NULL}}, 1},
        {{{"S3_BUCKET", "b"}, {NULL, NULL}}, 0},
        {{{"S3_BUCKET", "b"}, {"AWS_ACCESS_KEY_ID", "AKID"}, {NULL, NULL}}, 1},
        {{{"S3_BUCKET", "b"}, {"AWS_SECRET_ACCESS_KEY", "sk"}, {NULL, NULL}},
         1},
        {{{"S3_BUCKET", "b"}, {"AWS_SESSION_TOKEN", "tok"}, {NULL, NULL}}, 1},
        {{{"S3_BUCKET", "b"},
          {"AWS_ACCESS_KEY_ID", "AKID"},
          {"AWS_SECRET_ACCESS_KEY", "sk"},
          {NULL, NULL}},
         0},
        {{{"S3_BUCKET", "b"},
          {"AWS_ACCESS_KEY_ID", "AKID"},
          {"AWS_SECRET_ACCESS_KEY", "sk"},
          {"AWS_SESSION_TOKEN", "tok"},
          {NULL, NULL}},
         0},
    };

    for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++)
        ASSERT_EQ(uploader_validate_count(t[i].env), t[i].errors);
}

static void uploader_validate_local_needs_no_bucket(void)
{
    static const env_var local[] = {{"STORE", "local"}, {NULL, NULL}};
    static const env_var no_dir[] = {
        {"STORE", "local"}, {"MILLRACE_UPLOADER_LOCAL_DIR", ""}, {NULL, NULL}};

    ASSERT_EQ(uploader_validate_count(local), 0);
    ASSERT_EQ(uploader_validate_count(no_dir), 1);
}

static void uploader_validate_gzip_level(void)
{
    static const env_var gzip12[] = {
        {"STORE", "local"}, {"MILLRACE_UPLOADER_LEVEL", "12"}, {NULL, NULL}};
    static const env_var zstd12[] = {{"STORE", "local"},
                                     {"MILLRACE_UPLOADER_LEVEL", "12"},
                                     {"MILLRACE_UPLOADER_FORMAT", "zstd"},
                                     {NULL, NULL}};

    ASSERT_EQ(uploader_validate_count(gzip12), 1);
    ASSERT_EQ(uploader_validate_count(zstd12), 0);
}

static void uploader_validate_empty_kafka(void)
{
    static const env_var env[] = {{"STORE", "local"},
                                  {"KAFKA_BROKERS", ""},
                                  {"KAFKA_TOPIC", ""},
                                  {"CONSUMER_GROUP", ""},
                                  {NULL, NULL}};

    ASSERT_EQ(uploader_validate_count(env), 3);
}

static void ingest_validate_event_bigger_than_body(void)
{
    static const env_var env[] = {{"MILLRACE_INGEST_MAX_EVENT_BYTES", "8M"},
                                  {"KAFKA_BROKERS", ""},
                                  {NULL, NULL}};
    cfg_errors ve = {0};
    in_fx f;

    in_load(&f, NULL, NULL);
    ingest_config_validate(&f.c, &ve);
    ASSERT_EQ(ve.n, 0);
    in_done(&f);
    in_load(&f, NULL, env);
    ASSERT_NERR(&f, 0);
    ingest_config_validate(&f.c, &ve);
    ASSERT_EQ(ve.n, 2);
    ASSERT_ERR_HAS(&ve, "ingest.max_event_bytes (8388608) exceeds "
                        "ingest.max_body_bytes (4194304)");
    ASSERT_ERR_HAS(&ve, "kafka.brokers is empty");
    cfg_errors_free(&ve);
    in_done(&f);
}

static int ingest_validate_count(const env_var *env)
{
    cfg_errors ve = {0};
    in_fx f;
    int n;

    in_load(&f, NULL, env);
    if (f.nerr != 0) {
        cfg_errors_print(&f.e, stderr);
        in_done(&f);
        return -1;
    }
    ingest_config_validate(&f.c, &ve);
    n = (int)ve.n;
    cfg_errors_free(&ve);
    in_done(&f);
    return n;
}

/* kafka.properties that would let a 202 go out for a record the brokers do
 * not hold are refused in ack mode kafka, under any of librdkafka's names. */
static void ingest_validate_refuses_properties_that_weaken_acks(void)
{
    static const struct {
        const char *ack;
        const char *props;
        int errors;
    } cases[] = {
        {"kafka", "", 0},
        {"kafka", "acks=all", 0},
        {"kafka", "acks=-1,linger.ms=2", 0},
        {"kafka", "acks=0", 1},
        {"kafka", "acks=1", 1},
        {"kafka", "request.required.acks=1", 1},
        {"kafka", "enable.idempotence=false", 1},
        {"kafka", "enable.idempotence=false,acks=0", 2},
        {"queued", "acks=1", 0},
    };

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        env_var env[] = {{"ACK_MODE", cases[i].ack},
                         {"MILLRACE_KAFKA_PROPERTIES", cases[i].props},
                         {NULL, NULL}};
        int n = ingest_validate_count(env);
        if (n != cases[i].errors)
            TEST_FAIL_("ack %s, properties \"%s\": %d errors, want %d",
                       cases[i].ack, cases[i].props, n, cases[i].errors);
    }
}

/* ... and for the uploader, anything that commits, stores or skips offsets
 * on its own, or lets a dead-lettered record go unpersisted. */
static void uploader_validate_refuses_properties_that_break_exactly_once(void)
{
    static const struct {
        const char *props;
        int errors;
    } cases[] = {
        {"", 0},
        {"fetch.min.bytes=1,session.timeout.ms=30000", 0},
        {"enable.auto.commit=true", 1},
        {"auto.commit.enable=true", 1},
        {"enable.auto.offset.store=true", 1},
        {"auto.offset.reset=latest", 1},
        {"auto.offset.reset=smallest", 0},
        {"acks=1", 1},
        {"enable.idempotence=false,enable.auto.commit=true", 2},
    };

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        env_var env[] = {{"STORE", "local"},
                         {"MILLRACE_KAFKA_PROPERTIES", cases[i].props},
                         {NULL, NULL}};
        int n = uploader_validate_count(env);
        if (n != cases[i].errors)
            TEST_FAIL_("properties \"%s\": %d errors, want %d", cases[i].props,
                       n, cases[i].errors);
    }
}

/* linger.ms -1 follows the ack mode; a value given is used as it is. */
static void ingest_linger_follows_the_ack_mode(void)
{
    static const env_var queued[] = {{"ACK_MODE", "queued"}, {NULL, NULL}};
    static const env_var given[] = {{"ACK_MODE", "queued"},
                                    {"MILLRACE_INGEST_LINGER_MS", "0"},
                                    {NULL, NULL}};
    static const env_var bad[] = {{"MILLRACE_INGEST_LINGER_MS", "-2"},
                                  {NULL, NULL}};
    in_fx f;

    in_load(&f, NULL, NULL);
    ASSERT_NERR(&f, 0);
    ASSERT_EQ(f.c.ingest.linger_ms, -1);
    ASSERT_EQ(ingest_linger_ms(&f.c), INGEST_LINGER_KAFKA_MS);
    in_done(&f);
    in_load(&f, NULL, queued);
    ASSERT_NERR(&f, 0);
    ASSERT_EQ(ingest_linger_ms(&f.c), INGEST_LINGER_QUEUED_MS);
    in_done(&f);
    in_load(&f, NULL, given);
    ASSERT_NERR(&f, 0);
    ASSERT_EQ(ingest_linger_ms(&f.c), 0);
    in_done(&f);
    in_load(&f, NULL, bad);
    ASSERT_NERR(&f, 1);
    in_done(&f);
}

/* ---- ownership ---- */

static void cfg_free_clears_strings(void)
{
    up_fx f;

    up_load(&f, "uploader: { group = \"g\"; };\n", NULL);
    cfg_free(&f.t);
    ASSERT(f.c.uploader.group == NULL);
    ASSERT(f.c.kafka.properties == NULL);
    ASSERT(f.c.s3.secret_key == NULL);
    cfg_free(&f.t); /* twice is harmless */
    cfg_errors_free(&f.e);
}

/* Loading again over a loaded struct replaces, never leaks (ASan). */
static void cfg_load_twice_replaces_values(void)
{
    static const env_var env[] = {{"MILLRACE_UPLOADER_GROUP", "second"},
                                  {NULL, NULL}};
    up_fx f;
    int n;

    up_load(&f, "uploader: { group = \"first\"; };\n", NULL);
    ASSERT_STR_EQ(f.c.uploader.group, "first");
    fake_env = env;
    n = cfg_load(&f.t, NULL, fake_getenv, &f.e);
    ASSERT_EQ(n, 0);
    ASSERT_STR_EQ(f.c.uploader.group, "second");
    ASSERT_EQ(f.t.src[row_index(&f.t, "uploader.workers")], CFG_SRC_DEFAULT);
    up_done(&f);
}

/* ---- secrets read from files (Docker and Kubernetes secrets) ---- */

/* Writes n bytes to a new file under /tmp; path receives its name. */
static int write_secret(const void *p, size_t n, char *path, size_t pathlen)
{
    int fd;

    snprintf(path, pathlen, "/tmp/millrace-secret-XXXXXX");
    fd = mkstemp(path);
    if (fd < 0)
        return -1;
    if (write(fd, p, n) != (ssize_t)n) {
        close(fd);
        unlink(path);
        return -1;
    }
    close(fd);
    return 0;
}

static void cfg_secret_file_from_env(void)
{
    char path[64];
    env_var env[] = {{"AWS_SECRET_ACCESS_KEY_FILE", path}, {NULL, NULL}};
    char *out;
    up_fx f;

    ASSERT_EQ(write_secret("s3cr3t-from-file\n", 17, path, sizeof(path)), 0);
    up_load(&f, NULL, env);
    unlink(path);
    ASSERT_NERR(&f, 0);
    ASSERT_STR_EQ(f.c.s3.secret_key, "s3cr3t-from-file");
    out = print_to_string(&f.t, 0);
    ASSERT(out != NULL);
    ASSERT_CONTAINS(out, "s3.secret_key = \"********\"  # env "
                         "AWS_SECRET_ACCESS_KEY_FILE\n");
    if (strstr(out, "s3cr3t"))
        TEST_FAIL_("secret printed:\n%s", out);
    free(out);
    up_done(&f);
}

/* Only trailing line ends go; inner ones and blanks stay. */
static void cfg_secret_file_strips_trailing_line_ends(void)
{
    static const struct {
        const char *text;
        const char *want;
    } cases[] = {
        {"abc", "abc"},
        {"abc\n", "abc"},
        {"abc\r\n", "abc"},
        {"abc\n\n\n", "abc"},
        {" a b \n", " a b "},
        {"a\nb\n", "a\nb"},
        {"", ""},
        {"\n", ""},
    };

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char path[64];
        env_var env[] = {{"MILLRACE_S3_SESSION_TOKEN_FILE", path},
                         {NULL, NULL}};
        up_fx f;

        ASSERT_EQ(write_secret(cases[i].text, strlen(cases[i].text), path,
                               sizeof(path)),
                  0);
        up_load(&f, NULL, env);
        unlink(path);
        ASSERT_NERR(&f, 0);
        ASSERT_STR_EQ(f.c.s3.session_token, cases[i].want);
        up_done(&f);
    }
}

static void cfg_secret_file_setting_in_file(void)
{
    char path[64];
    char text[160];
    char *out;
    up_fx f;

    ASSERT_EQ(write_secret("from-a-secret-file\r\n", 20, path, sizeof(path)),
              0);
    snprintf(text, sizeof(text), "s3: { secret_key_file = \"%s\"; };\n", path);
    up_load(&f, text, NULL);
    unlink(path);
    ASSERT_NERR(&f, 0);
    ASSERT_STR_EQ(f.c.s3.secret_key, "from-a-secret-file");
    ASSERT_EQ(f.t.src[row_index(&f.t, "s3.secret_key")], CFG_SRC_FILE);
    out = print_to_string(&f.t, 0);
    ASSERT(out != NULL);
    ASSERT_CONTAINS(out, "s3.secret_key = \"********\"  # file\n");
    free(out);
    up_done(&f);
}

/* The usual order holds: the environment over the file, the MILLRACE_
 * variable over the short one, whichever form each uses. */
static void cfg_secret_file_precedence(void)
{
    char p1[64], p2[64];
    env_var env[] = {{"AWS_SECRET_ACCESS_KEY", "short-variable"},
                     {"MILLRACE_S3_SECRET_KEY_FILE", p1},
                     {NULL, NULL}};
    env_var env2[] = {{"AWS_SECRET_ACCESS_KEY_FILE", p2}, {NULL, NULL}};
    up_fx f;

    ASSERT_EQ(write_secret("namespaced-file", 15, p1, sizeof(p1)), 0);
    ASSERT_EQ(write_secret("short-file", 10, p2, sizeof(p2)), 0);
    up_load(&f, "s3: { secret_key = \"in-the-file\"; };\n", env);
    ASSERT_NERR(&f, 0);
    ASSERT_STR_EQ(f.c.s3.secret_key, "namespaced-file");
    ASSERT_STR_EQ(f.t.src_env[row_index(&f.t, "s3.secret_key")],
                  "MILLRACE_S3_SECRET_KEY_FILE");
    up_done(&f);
    up_load(&f, "s3: { secret_key = \"in-the-file\"; };\n", env2);
    ASSERT_NERR(&f, 0);
    ASSERT_STR_EQ(f.c.s3.secret_key, "short-file");
    up_done(&f);
    unlink(p1);
    unlink(p2);
}

static void cfg_secret_both_forms_is_error(void)
{
    char path[64];
    char text[200];
    env_var env[] = {{"AWS_SECRET_ACCESS_KEY", "plain"},
                     {"AWS_SECRET_ACCESS_KEY_FILE", path},
                     {NULL, NULL}};
    up_fx f;

    ASSERT_EQ(write_secret("x", 1, path, sizeof(path)), 0);
    up_load(&f, NULL, env);
    ASSERT_NERR(&f, 1);
    ASSERT_ERR_HAS(&f.e, "s3.secret_key: env AWS_SECRET_ACCESS_KEY and "
                         "AWS_SECRET_ACCESS_KEY_FILE are both set");
    up_done(&f);
    snprintf(text, sizeof(text),
             "s3: {\n  secret_key = \"plain\";\n  secret_key_file = \"%s\";\n"
             "};\n",
             path);
    up_load(&f, text, NULL);
    ASSERT_NERR(&f, 1);
    ASSERT_ERR_HAS(&f.e, ":3): set s3.secret_key or s3.secret_key_file, "
                         "not both");
    up_done(&f);
    unlink(path);
}

/* Unreadable, oversized or binary files are listed with the other errors,
 * named by path, never quoting what they hold. */
static void cfg_secret_file_errors_listed_without_contents(void)
{
    static const char nul[] = "secret-with\0a-nul";
    char big_path[64], nul_path[64];
    env_var env[] = {
        {"AWS_SECRET_ACCESS_KEY_FILE", "/tmp/millrace-no-such-dir/secret"},
        {"AWS_SESSION_TOKEN_FILE", big_path},
        {"MILLRACE_INGEST_TOKENS_FILE", ""},
        {"MAX_WORKERS", "lots"},
        {NULL, NULL}};
    env_var env2[] = {{"MILLRACE_S3_SECRET_KEY_FILE", nul_path}, {NULL, NULL}};
    char *big = malloc(CFG_SECRET_FILE_MAX + 1);
    up_fx f;

    ASSERT(big != NULL);
    memset(big, 'k', CFG_SECRET_FILE_MAX + 1);
    ASSERT_EQ(
        write_secret(big, CFG_SECRET_FILE_MAX + 1, big_path, sizeof(big_path)),
        0);
    free(big);
    ASSERT_EQ(write_secret(nul, sizeof(nul) - 1, nul_path, sizeof(nul_path)),
              0);
    up_load(&f, NULL, env);
    ASSERT_NERR(&f, 3);
    ASSERT_ERR_HAS(&f.e, "s3.secret_key (env AWS_SECRET_ACCESS_KEY_FILE): "
                         "cannot read \"/tmp/millrace-no-such-dir/secret\": "
                         "No such file or directory");
    ASSERT_ERR_HAS(&f.e, "s3.session_token (env AWS_SESSION_TOKEN_FILE): ");
    ASSERT_ERR_HAS(&f.e, "is larger than 65536 bytes");
    ASSERT_ERR_HAS(&f.e, "\"lots\" is not an integer");
    for (size_t i = 0; i < f.e.n; i++)
        if (strstr(f.e.msgs[i], "kkkk"))
            TEST_FAIL_("contents shown: %s", f.e.msgs[i]);
    up_done(&f);
    up_load(&f, NULL, env2);
    ASSERT_NERR(&f, 1);
    ASSERT_ERR_HAS(&f.e, "holds a NUL byte");
    if (errs_have(&f.e, "secret-with"))
        TEST_FAIL_("contents shown");
    up_done(&f);
    unlink(big_path);
    unlink(nul_path);
}

static void cfg_empty_secret_file_name_is_error(void)
{
    static const env_var env[] = {{"MILLRACE_INGEST_TOKENS_FILE", ""},
                                  {NULL, NULL}};
    in_fx f;

    in_load(&f, NULL, env);
    ASSERT_NERR(&f, 1);
    ASSERT_ERR_HAS(&f.e, "ingest.tokens (env MILLRACE_INGEST_TOKENS_FILE): "
                         "empty file name");
    in_done(&f);
}

/* Only secret rows have a file form: elsewhere it is an unknown setting
 * (file) or an ignored variable (environment), as for any other name. */
static void cfg_file_form_only_for_secrets(void)
{
    static const env_var env[] = {{"S3_BUCKET_FILE", "/etc/hostname"},
                                  {"MILLRACE_S3_BUCKET_FILE", "/etc/hostname"},
                                  {NULL, NULL}};
    up_fx f;

    up_load(&f, "s3: { bucket_file = \"/etc/hostname\"; };\n", env);
    ASSERT_NERR(&f, 1);
    ASSERT_ERR_HAS(&f.e, "unknown setting \"s3.bucket_file\"");
    ASSERT_STR_EQ(f.c.s3.bucket, "");
    up_done(&f);
    up_load(&f, "s3: { secret_key_file = 7; };\n", NULL);
    ASSERT_NERR(&f, 1);
    ASSERT_ERR_HAS(&f.e, "s3.secret_key_file (");
    ASSERT_ERR_HAS(&f.e, "expected a file name");
    up_done(&f);
}

/* A list secret: one item per line (or comma), blank lines and CRs
 * dropped, as a Secret mounted from a file written by hand holds them. */
static void cfg_token_list_from_file(void)
{
    static const char text[] = "token-one-0123456789\r\n"
                               "\n"
                               "token-two-0123456789,token-three-012345\n";
    char path[64];
    env_var env[] = {{"MILLRACE_INGEST_TOKENS_FILE", path}, {NULL, NULL}};
    char cfgtext[160];
    in_fx f;

    ASSERT_EQ(write_secret(text, sizeof(text) - 1, path, sizeof(path)), 0);
    in_load(&f, NULL, env);
    ASSERT_NERR(&f, 0);
    ASSERT_STR_EQ(f.c.ingest.tokens, "token-one-0123456789\n"
                                     "token-two-0123456789\n"
                                     "token-three-012345");
    in_done(&f);
    snprintf(cfgtext, sizeof(cfgtext), "ingest: { tokens_file = \"%s\"; };\n",
             path);
    in_load(&f, cfgtext, NULL);
    ASSERT_NERR(&f, 0);
    ASSERT_STR_EQ(f.c.ingest.tokens, "token-one-0123456789\n"
                                     "token-two-0123456789\n"
                                     "token-three-012345");
    in_done(&f);
    unlink(path);
}

static void cfg_doc_names_secret_file_variables(void)
{
    char *out;
    up_fx f;

    up_load(&f, NULL, NULL);
    out = print_to_string(&f.t, 1);
    ASSERT(out != NULL);
    ASSERT_CONTAINS(out, "`MILLRACE_S3_SECRET_KEY`, `AWS_SECRET_ACCESS_KEY`, "
                         "`MILLRACE_S3_SECRET_KEY_FILE`, "
                         "`AWS_SECRET_ACCESS_KEY_FILE` |");
    ASSERT_CONTAINS(out, "`s3.secret_key_file`");
    if (strstr(out, "`MILLRACE_S3_BUCKET_FILE`"))
        TEST_FAIL_("a file variable for a setting that is not secret");
    free(out);
    up_done(&f);
}

/* A SASL password passed through kafka.properties is a secret too. */
static void cfg_print_masks_credential_properties(void)
{
    static const env_var env[] = {
        {"MILLRACE_KAFKA_PROPERTIES",
         "sasl.mechanism=PLAIN,sasl.password=hunter2-sasl,SSL.Key.Password=k3y,"
         "sasl.oauthbearer.client.secret=oauth-s3cret,linger.ms=5"},
        {NULL, NULL}};
    char *out;
    up_fx f;

    up_load(&f, NULL, env);
    ASSERT_NERR(&f, 0);
    out = print_to_string(&f.t, 0);
    ASSERT(out != NULL);
    ASSERT_CONTAINS(out, "kafka.properties = [\"sasl.mechanism=PLAIN\", "
                         "\"sasl.password=********\", "
                         "\"SSL.Key.Password=********\", "
                         "\"sasl.oauthbearer.client.secret=********\", "
                         "\"linger.ms=5\"]");
    if (strstr(out, "hunter2") || strstr(out, "k3y") || strstr(out, "s3cret"))
        TEST_FAIL_("credential printed:\n%s", out);
    free(out);
    up_done(&f);
}

/* ---- variables that name no setting ---- */

/* Each case: a MILLRACE_ environment and the warnings it must give (the
 * variable named, and the suggestion, if any, in the same message). */
static void cfg_unknown_env_warns_each_misspelt_variable(void)
{
    static const struct {
        const char *env[4];
        int warnings;
        const char *has; /* in the first warning; NULL: none */
    } cases[] = {
        {{"MILLRACE_UPLOADER_MAX_BYTE=1"},
         1,
         "MILLRACE_UPLOADER_MAX_BYTE names no setting (did you mean "
         "MILLRACE_UPLOADER_MAX_BYTES?)"},
        {{"MILLRACE_UPLOADER_MAX_BYTES=1", "MILLRACE_LOG_LEVEL=debug",
          "MILLRACE_S3_SECRET_KEY_FILE=/x"},
         0,
         NULL},
        {{"MILLRACE_CONFIG=/etc/x.cfg", "PATH=/bin", "MAX_WORKER=3"}, 0, NULL},
        {{"MILLRACE_SOMETHING_ELSE=1"},
         1,
         "MILLRACE_SOMETHING_ELSE names no setting; it is ignored"},
        {{"MILLRACE_UPLOADER_WORKERS=1", "MILLRACE_S3_BUKET=b",
          "MILLRACE_INGEST_THREADS=3"},
         2,
         "MILLRACE_S3_BUKET names no setting (did you mean "
         "MILLRACE_S3_BUCKET?)"},
        {{"MILLRACE_UPLOADER_ACCESS_KEY_FILE=/x"}, 1, NULL},
    };
    static const char *const extra[] = {"MILLRACE_CONFIG", NULL};

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        uploader_config c;
        cfg_table t;
        cfg_errors w = {0};
        char *envp[5] = {0};
        int n;

        memset(&c, 0, sizeof(c));
        uploader_config_table(&t, &c);
        for (int k = 0; k < 4 && cases[i].env[k]; k++)
            envp[k] = (char *)cases[i].env[k];
        n = cfg_unknown_env(&t, envp, extra, &w);
        if (n != cases[i].warnings || w.n != (size_t)n) {
            cfg_errors_print(&w, stderr);
            TEST_FAIL_("case %zu: %d warning(s), want %d", i, n,
                       cases[i].warnings);
        }
        if (cases[i].has)
            ASSERT_ERR_HAS(&w, cases[i].has);
        cfg_errors_free(&w);
    }
}

/* ---- boolean or auto ---- */

static void cfg_auto_bool_values(void)
{
    static const struct {
        const char *text;
        int want; /* -2: an error */
    } cases[] = {{"auto", -1}, {"true", 1}, {"1", 1},     {"yes", 1},
                 {"false", 0}, {"off", 0},  {"AUTO", -2}, {"maybe", -2}};

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        env_var env[] = {{"S3_PATH_STYLE", cases[i].text}, {NULL, NULL}};
        up_fx f;

        up_load(&f, NULL, env);
        if (cases[i].want == -2) {
            ASSERT_NERR(&f, 1);
            ASSERT_ERR_HAS(&f.e, "is not a boolean or auto");
        } else {
            ASSERT_NERR(&f, 0);
            ASSERT_EQ(f.c.s3.path_style, cases[i].want);
        }
        up_done(&f);
    }
}

static void cfg_auto_bool_in_file_and_print(void)
{
    up_fx f;
    char *out;

    up_load(&f, "s3: { path_style = \"auto\"; };\n", NULL);
    ASSERT_NERR(&f, 0);
    ASSERT_EQ(f.c.s3.path_style, -1);
    out = print_to_string(&f.t, 0);
    ASSERT(out != NULL);
    ASSERT_CONTAINS(out, "s3.path_style = \"auto\"  # file");
    free(out);
    up_done(&f);
    up_load(&f, "s3: { path_style = true; };\n", NULL);
    ASSERT_NERR(&f, 0);
    ASSERT_EQ(f.c.s3.path_style, 1);
    out = print_to_string(&f.t, 1);
    ASSERT(out != NULL);
    ASSERT_CONTAINS(out, "| `s3.path_style` | boolean or auto | `auto` |");
    free(out);
    up_done(&f);
}

/* ---- comparing two loads (SIGHUP) ---- */

static void cfg_same_value_per_row(void)
{
    env_var env[] = {{"MAX_WORKERS", "9"},
                     {"MILLRACE_LOG_LEVEL", "debug"},
                     {"S3_PATH_STYLE", "false"},
                     {NULL, NULL}};
    up_fx a, b;

    up_load(&a, NULL, NULL);
    up_load(&b, NULL, env);
    ASSERT_NERR(&b, 0);
    for (size_t i = 0; i < a.t.n; i++) {
        const char *name = a.t.rows[i].name;
        int changed = strcmp(name, "uploader.workers") == 0 ||
                      strcmp(name, "log.level") == 0 ||
                      strcmp(name, "s3.path_style") == 0;
        if (cfg_same_value(&a.t, &b.t, i) == changed)
            TEST_FAIL_("%s: same %d, want %d", name,
                       cfg_same_value(&a.t, &b.t, i), !changed);
    }
    up_done(&a);
    up_done(&b);
}

TEST_MAIN(
    T(cfg_defaults_applied), T(cfg_defaults_unset_strings_are_empty),
    T(cfg_defaults_applied_ingest), T(cfg_file_overrides_default),
    T(cfg_file_value_types), T(cfg_file_wrong_types_rejected),
    T(cfg_env_overrides_file), T(cfg_env_aliases_set_workers_and_queue),
    T(cfg_env_derived_wins_over_alias), T(cfg_env_aliases_ingest),
    T(cfg_env_default_is_getenv), T(cfg_env_name_derived),
    T(cfg_parse_size_suffixes), T(cfg_parse_size_rejects_bad),
    T(cfg_size_bad_in_env_is_error), T(cfg_parse_bool_values),
    T(cfg_bool_from_env), T(cfg_int_rejects_garbage),
    T(cfg_enum_accepts_choice), T(cfg_enum_values_follow_the_enums),
    T(cfg_enum_ack_follows_publish_ack), T(cfg_enum_rejects_unknown),
    T(cfg_enum_rejects_unknown_in_file), T(cfg_list_from_file),
    T(cfg_list_from_env_comma_separated), T(cfg_list_file_rejects_non_strings),
    T(cfg_list_next_edges), T(cfg_out_of_range_rejected),
    T(cfg_out_of_range_in_file), T(cfg_unknown_key_reports_file_line),
    T(cfg_unknown_section_is_error), T(cfg_syntax_error_reports_line),
    T(cfg_missing_file_is_error), T(cfg_all_errors_listed_at_once),
    T(cfg_errors_print_lists_each), T(cfg_print_masks_secrets),
    T(cfg_print_shows_value_and_source), T(cfg_print_escapes_strings),
    T(cfg_print_has_one_line_per_row), T(cfg_print_doc_one_row_per_setting),
    T(uploader_validate_s3_requires_bucket_and_paired_keys),
    T(uploader_validate_local_needs_no_bucket), T(uploader_validate_gzip_level),
    T(uploader_validate_empty_kafka), T(ingest_validate_event_bigger_than_body),
    T(ingest_linger_follows_the_ack_mode),
    T(ingest_validate_refuses_properties_that_weaken_acks),
    T(uploader_validate_refuses_properties_that_break_exactly_once),
    T(cfg_free_clears_strings), T(cfg_load_twice_replaces_values),
    T(cfg_secret_file_from_env), T(cfg_secret_file_strips_trailing_line_ends),
    T(cfg_secret_file_setting_in_file), T(cfg_secret_file_precedence),
    T(cfg_secret_both_forms_is_error),
    T(cfg_secret_file_errors_listed_without_contents),
    T(cfg_empty_secret_file_name_is_error), T(cfg_file_form_only_for_secrets),
    T(cfg_token_list_from_file), T(cfg_doc_names_secret_file_variables),
    T(cfg_print_masks_credential_properties),
    T(cfg_unknown_env_warns_each_misspelt_variable), T(cfg_auto_bool_values),
    T(cfg_auto_bool_in_file_and_print), T(cfg_same_value_per_row))
