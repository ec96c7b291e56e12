/* test_localstore.c -- the local-directory store: whole objects under the
 * root, atomic overwrites, nested directories, rejected keys, listing in
 * byte order. Each test works in its own mkdtemp directory. */
#include "../../uploader/store/localstore.h"
#include "test.h"

#include <dirent.h>
#include <ftw.h>
#include <pthread.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

static const char *const hive_key = "prefix/events/dt=2026-11-27/hour=18/"
                                    "events+3+00000000000000000042.ndjson.gz";

static int rm_entry(const char *path, const struct stat *sb, int flag,
                    struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(path);
}

static void rm_tree(const char *dir)
{
    nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

static void make_root(char *dir, size_t len)
{
    snprintf(dir, len, "%s/millrace-localstore-XXXXXX",
             getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
    if (!mkdtemp(dir))
        dir[0] = '\0';
}

/* Reads root/key whole; NULL if missing. */
static char *read_object(const char *root, const char *key, size_t *len)
{
    char path[4096];
    FILE *f;
    char *buf;
    long n;

    snprintf(path, sizeof(path), "%s/%s", root, key);
    f = fopen(path, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    n = ftell(f);
    fseek(f, 0, SEEK_SET);
    buf = malloc((size_t)n + 1);
    if (buf && fread(buf, 1, (size_t)n, f) != (size_t)n) {
        free(buf);
        buf = NULL;
    }
    if (buf)
        buf[n] = '\0';
    *len = (size_t)n;
    fclose(f);
    return buf;
}

static store_result put(store *st, const char *key, const char *body, char *err,
                        size_t errlen)
{
    store_object obj = {key, body, body ? strlen(body) : 0, "text/plain", NULL};

    return store_put(st, &obj, err, errlen);
}

/* Temporary files left in dir (none may survive a put). */
static int count_temp_files(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    int n = 0;

    if (!d)
        return -1;
    while ((e = readdir(d)) != NULL)
        n += strncmp(e->d_name, ".millrace-tmp-", 14) == 0;
    closedir(d);
    return n;
}

static void put_writes_object_under_root(void)
{
    char root[512];
    char err[256] = "";
    store *st;
    size_t len = 0;
    char *got;

    make_root(root, sizeof(root));
    ASSERT(root[0] != '\0');
    st = localstore_new(root, err, sizeof(err));
    ASSERT(st != NULL);
    ASSERT_STR_EQ(store_name(st), "local");
    ASSERT_EQ(put(st, "a.json", "{\"x\":1}\n", err, sizeof(err)), STORE_OK);
    got = read_object(root, "a.json", &len);
    ASSERT_STR_EQ(got, "{\"x\":1}\n");
    ASSERT_EQ(len, 8);
    ASSERT_EQ(count_temp_files(root), 0);
    free(got);
    store_destroy(st);
    rm_tree(root);
}

static void put_creates_nested_directories(void)
{
    char root[512];
    char dir[1024];
    char err[256] = "";
    store *st;
    size_t len = 0;
    char *got;

    make_root(root, sizeof(root));
    st = localstore_new(root, err, sizeof(err));
    ASSERT(st != NULL);
    ASSERT_EQ(put(st, hive_key, "line\n", err, sizeof(err)), STORE_OK);
    got = read_object(root, hive_key, &len);
    ASSERT_STR_EQ(got, "line\n");
    snprintf(dir, sizeof(dir), "%s/prefix/events/dt=2026-11-27/hour=18", root);
    ASSERT_EQ(count_temp_files(dir), 0);
    free(got);
    store_destroy(st);
    rm_tree(root);
}

static void put_overwrites_existing_object(void)
{
    char root[512];
    char err[256] = "";
    store *st;
    size_t len = 0;
    char *got;

    make_root(root, sizeof(root));
    st = localstore_new(root, err, sizeof(err));
    ASSERT(st != NULL);
    ASSERT_EQ(put(st, "d/k", "first, longer body\n", err, sizeof(err)),
              STORE_OK);
    ASSERT_EQ(put(st, "d/k", "second\n", err, sizeof(err)), STORE_OK);
    got = read_object(root, "d/k", &len);
    ASSERT_STR_EQ(got, "second\n");
    ASSERT_EQ(len, 7);
    free(got);
    store_destroy(st);
    rm_tree(root);
}

static void put_empty_object(void)
{
    char root[512];
    char err[256] = "";
    store *st;
    store_object obj = {"empty", NULL, 0, NULL, NULL};
    size_t len = 99;
    char *got;

    make_root(root, sizeof(root));
    st = localstore_new(root, err, sizeof(err));
    ASSERT(st != NULL);
    ASSERT_EQ(store_put(st, &obj, err, sizeof(err)), STORE_OK);
    got = read_object(root, "empty", &len);
    ASSERT(got != NULL);
    ASSERT_EQ(len, 0);
    free(got);
    store_destroy(st);
    rm_tree(root);
}

static void put_rejects_bad_keys(void)
{
    static const char *const bad[] = {
        "",     "/abs", "../x",  "a/../b", "a/..", "..",
        "a//b", "./a",  "a/./b", "a/",     ".",
    };
    char root[512];
    char err[256];
    store *st;
    store_object nokey = {NULL, "x", 1, NULL, NULL};

    make_root(root, sizeof(root));
    st = localstore_new(root, err, sizeof(err));
    ASSERT(st != NULL);
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        err[0] = '\0';
        if (put(st, bad[i], "x", err, sizeof(err)) != STORE_PERMANENT)
            TEST_FAIL_("key \"%s\" accepted", bad[i]);
        ASSERT(strstr(err, "invalid key") != NULL);
    }
    ASSERT_EQ(store_put(st, &nokey, err, sizeof(err)), STORE_PERMANENT);
    store_destroy(st);
    rm_tree(root);
}

/* A file where a directory of the key belongs can never be written past. */
static void put_file_in_the_way_is_permanent(void)
{
    char root[512];
    char err[256] = "";
    store *st;

    make_root(root, sizeof(root));
    st = localstore_new(root, err, sizeof(err));
    ASSERT(st != NULL);
    ASSERT_EQ(put(st, "a", "file", err, sizeof(err)), STORE_OK);
    ASSERT_EQ(put(st, "a/b", "x", err, sizeof(err)), STORE_PERMANENT);
    ASSERT(strstr(err, "local: ") == err);
    store_destroy(st);
    rm_tree(root);
}

static void new_creates_missing_root(void)
{
    char root[512];
    char sub[1024];
    char err[256] = "";
    store *st;
    size_t len = 0;
    char *got;

    make_root(root, sizeof(root));
    snprintf(sub, sizeof(sub), "%s/x/y/", root);
    st = localstore_new(sub, err, sizeof(err));
    ASSERT(st != NULL);
    ASSERT_EQ(put(st, "k", "v", err, sizeof(err)), STORE_OK);
    got = read_object(root, "x/y/k", &len);
    ASSERT_STR_EQ(got, "v");
    free(got);
    store_destroy(st);
    rm_tree(root);
}

static void new_rejects_file_as_root(void)
{
    char root[512];
    char file[1024];
    char err[256] = "";
    FILE *f;

    make_root(root, sizeof(root));
    snprintf(file, sizeof(file), "%s/f", root);
    f = fopen(file, "w");
    ASSERT(f != NULL);
    fclose(f);
    ASSERT(localstore_new(file, err, sizeof(err)) == NULL);
    ASSERT(strstr(err, "not a directory") != NULL);
    ASSERT(localstore_new("", err, sizeof(err)) == NULL);
    ASSERT(localstore_new(NULL, err, sizeof(err)) == NULL);
    rm_tree(root);
}

static void destroy_accepts_null(void)
{
    store_destroy(NULL);
}

typedef struct worker_arg {
    store *st;
    int id;
    int failures;
} worker_arg;

/* Each worker writes its own keys and, with everyone, one shared key. */
static void *worker(void *p)
{
    worker_arg *a = p;
    char key[64];
    char body[64];
    char err[256];

    for (int i = 0; i < 20; i++) {
        snprintf(key, sizeof(key), "w%d/dt=1/obj+%d", a->id, i);
        snprintf(body, sizeof(body), "worker %d object %d\n", a->id, i);
        a->failures += put(a->st, key, body, err, sizeof(err)) != STORE_OK;
        snprintf(body, sizeof(body), "shared by worker %02d\n", a->id);
        a->failures +=
            put(a->st, "shared/obj", body, err, sizeof(err)) != STORE_OK;
    }
    return NULL;
}

static void put_concurrent_writers(void)
{
    char root[512];
    char err[256] = "";
    pthread_t th[8];
    worker_arg args[8];
    store *st;
    size_t len = 0;
    char *got;

    make_root(root, sizeof(root));
    st = localstore_new(root, err, sizeof(err));
    ASSERT(st != NULL);
    for (int i = 0; i < 8; i++) {
        args[i] = (worker_arg){st, i, 0};
        pthread_create(&th[i], NULL, worker, &args[i]);
    }
    for (int i = 0; i < 8; i++) {
        pthread_join(th[i], NULL);
        ASSERT_EQ(args[i].failures, 0);
    }
    got = read_object(root, "w7/dt=1/obj+19", &len);
    ASSERT_STR_EQ(got, "worker 7 object 19\n");
    free(got);
    /* Whole objects only: the shared key holds one writer's body. */
    got = read_object(root, "shared/obj", &len);
    ASSERT(got != NULL);
    ASSERT_EQ(len, strlen("shared by worker 00\n"));
    ASSERT(strncmp(got, "shared by worker ", 17) == 0);
    free(got);
    store_destroy(st);
    rm_tree(root);
}

/* --- listing ------------------------------------------------------------ */

typedef struct listed {
    char text[2048];
    int n;
    int stop_after; /* 0: never stop */
} listed;

static int collect(const char *key, size_t size, void *arg)
{
    listed *l = arg;
    size_t o = strlen(l->text);

    snprintf(l->text + o, sizeof(l->text) - o, "[%s|%zu]", key, size);
    l->n++;
    return l->stop_after && l->n >= l->stop_after;
}

/* Directory order is not key order: the key "p/a/x" sorts after "p/a-b"
 * and "p/a.b" ('/' is 0x2f), though its directory "a" sorts before them. */
static const char *const sort_keys[] = {
    "p/a/x",   "p/a-b", "p/a.b",   "p/a b", "p/\xc3\xbc", "p/Z",
    "p/a/y/z", "p/a=1", "q/other", "p-x",   "pa",         "p/empty",
};

static store *listing_store(char *root, size_t len)
{
    char err[256] = "";
    store *st;

    make_root(root, len);
    st = localstore_new(root, err, sizeof(err));
    for (size_t i = 0; st && i < sizeof(sort_keys) / sizeof(sort_keys[0]);
         i++) {
        /* Bodies as long as their keys; "p/empty" has none. */
        const char *body = strcmp(sort_keys[i], "p/empty") ? sort_keys[i] : "";

        if (put(st, sort_keys[i], body, err, sizeof(err)) != STORE_OK) {
            fprintf(stderr, "  put %s: %s\n", sort_keys[i], err);
            store_destroy(st);
            return NULL;
        }
    }
    return st;
}

static void list_sorts_keys_bytewise_with_sizes(void)
{
    char root[512];
    char err[256] = "";
    listed l = {"", 0, 0};
    store *st = listing_store(root, sizeof(root));

    ASSERT(st != NULL);
    ASSERT(st->ops->list != NULL);
    ASSERT_EQ(store_list(st, "p/", NULL, collect, &l, err, sizeof(err)),
              STORE_OK);
    ASSERT_STR_EQ(l.text, "[p/Z|3][p/a b|5][p/a-b|5][p/a.b|5][p/a/x|5]"
                          "[p/a/y/z|7][p/a=1|5][p/empty|0][p/\xc3\xbc|4]");
    store_destroy(st);
    rm_tree(root);
}

/* A prefix may end inside a segment; "" lists everything. */
static void list_prefix_within_a_segment(void)
{
    char root[512];
    char err[256] = "";
    listed l = {"", 0, 0};
    store *st = listing_store(root, sizeof(root));

    ASSERT(st != NULL);
    ASSERT_EQ(store_list(st, "p/a", "", collect, &l, err, sizeof(err)),
              STORE_OK);
    ASSERT_STR_EQ(l.text, "[p/a b|5][p/a-b|5][p/a.b|5][p/a/x|5][p/a/y/z|7]"
                          "[p/a=1|5]");
    l = (listed){"", 0, 0};
    ASSERT_EQ(store_list(st, "p", NULL, collect, &l, err, sizeof(err)),
              STORE_OK);
    ASSERT_EQ(l.n, 11);
    ASSERT(strncmp(l.text, "[p-x|3][p/Z|3]", 14) == 0);
    ASSERT(strstr(l.text, "[pa|2]") != NULL);
    l = (listed){"", 0, 0};
    ASSERT_EQ(store_list(st, "", NULL, collect, &l, err, sizeof(err)),
              STORE_OK);
    ASSERT_EQ(l.n, 12);
    l = (listed){"", 0, 0};
    ASSERT_EQ(store_list(st, NULL, NULL, collect, &l, err, sizeof(err)),
              STORE_OK);
    ASSERT_EQ(l.n, 12);
    store_destroy(st);
    rm_tree(root);
}

static void list_begins_after_start_after(void)
{
    char root[512];
    char err[256] = "";
    listed l = {"", 0, 0};
    store *st = listing_store(root, sizeof(root));

    ASSERT(st != NULL);
    /* A key that exists, then one that does not. */
    ASSERT_EQ(store_list(st, "p/", "p/a.b", collect, &l, err, sizeof(err)),
              STORE_OK);
    ASSERT_STR_EQ(l.text,
                  "[p/a/x|5][p/a/y/z|7][p/a=1|5][p/empty|0][p/\xc3\xbc|4]");
    l = (listed){"", 0, 0};
    ASSERT_EQ(store_list(st, "p/", "p/a/y", collect, &l, err, sizeof(err)),
              STORE_OK);
    ASSERT_STR_EQ(l.text, "[p/a/y/z|7][p/a=1|5][p/empty|0][p/\xc3\xbc|4]");
    /* Before the prefix: all of it; after: nothing. */
    l = (listed){"", 0, 0};
    ASSERT_EQ(store_list(st, "p/", "a", collect, &l, err, sizeof(err)),
              STORE_OK);
    ASSERT_EQ(l.n, 9);
    l = (listed){"", 0, 0};
    ASSERT_EQ(store_list(st, "p/", "p/\xc3\xbc", collect, &l, err, sizeof(err)),
              STORE_OK);
    ASSERT_EQ(l.n, 0);
    store_destroy(st);
    rm_tree(root);
}

static void list_stops_when_fn_asks(void)
{
    char root[512];
    char err[256] = "untouched";
    listed l = {"", 0, 2};
    store *st = listing_store(root, sizeof(root));

    ASSERT(st != NULL);
    ASSERT_EQ(store_list(st, "p/", NULL, collect, &l, err, sizeof(err)),
              STORE_OK);
    ASSERT_STR_EQ(l.text, "[p/Z|3][p/a b|5]");
    ASSERT_STR_EQ(err, "untouched");
    store_destroy(st);
    rm_tree(root);
}

/* A put in progress leaves a temporary file beside its object: not a key.
 * Nor is a symbolic link or a directory. */
static void list_skips_temp_files_and_links(void)
{
    char root[512];
    char path[1024];
    char target[1024];
    char err[256] = "";
    listed l = {"", 0, 0};
    store *st;
    FILE *f;

    make_root(root, sizeof(root));
    st = localstore_new(root, err, sizeof(err));
    ASSERT(st != NULL);
    ASSERT_EQ(put(st, "d/k", "v", err, sizeof(err)), STORE_OK);
    snprintf(path, sizeof(path), "%s/d/.millrace-tmp-Ab12Cd", root);
    f = fopen(path, "w");
    ASSERT(f != NULL);
    fputs("half", f);
    fclose(f);
    snprintf(target, sizeof(target), "%s/d/k", root);
    snprintf(path, sizeof(path), "%s/d/link", root);
    ASSERT_EQ(symlink(target, path), 0);
    snprintf(path, sizeof(path), "%s/d/emptydir", root);
    ASSERT_EQ(mkdir(path, 0755), 0);
    ASSERT_EQ(store_list(st, "d/", NULL, collect, &l, err, sizeof(err)),
              STORE_OK);
    ASSERT_STR_EQ(l.text, "[d/k|1]");
    store_destroy(st);
    rm_tree(root);
}

/* A prefix no key can have lists nothing, and never leaves the root. */
static void list_missing_or_bad_prefix_is_empty(void)
{
    static const char *const prefixes[] = {
        "nope/", "nope/deeper/x", "../",  "..",   "d/../",
        "/d/",   "d//",           "d/./", "d/k/", "d/k/x",
    };
    char top[512];
    char root[1024];
    char err[256] = "";
    store *st;

    make_root(top, sizeof(top));
    snprintf(root, sizeof(root), "%s/root", top);
    st = localstore_new(root, err, sizeof(err));
    ASSERT(st != NULL);
    ASSERT_EQ(put(st, "d/k", "v", err, sizeof(err)), STORE_OK);
    {
        /* A sibling of the root that "../" would reach. */
        store *outside = localstore_new(top, err, sizeof(err));

        ASSERT(outside != NULL);
        ASSERT_EQ(put(outside, "secret", "s", err, sizeof(err)), STORE_OK);
        store_destroy(outside);
    }
    for (size_t i = 0; i < sizeof(prefixes) / sizeof(prefixes[0]); i++) {
        listed l = {"", 0, 0};

        ASSERT_EQ(
            store_list(st, prefixes[i], NULL, collect, &l, err, sizeof(err)),
            STORE_OK);
        if (l.n != 0)
            TEST_FAIL_("prefix \"%s\" listed %s", prefixes[i], l.text);
    }
    store_destroy(st);
    rm_tree(top);
}

typedef struct putter {
    store *st;
    volatile int stop;
    int failures;
} putter;

static void *keep_putting(void *p)
{
    putter *a = p;
    char key[64];
    char err[256];

    for (int i = 0; !a->stop; i++) {
        snprintf(key, sizeof(key), "c/%d/obj", i % 50);
        a->failures += put(a->st, key, "body\n", err, sizeof(err)) != STORE_OK;
    }
    return NULL;
}

typedef struct checked {
    char last[64];
    int n;
    int bad;
} checked;

static int check_order(const char *key, size_t size, void *arg)
{
    checked *c = arg;

    c->bad += strcmp(key, c->last) <= 0 || size != 5 ||
              strstr(key, ".millrace-tmp-") != NULL;
    snprintf(c->last, sizeof(c->last), "%s", key);
    c->n++;
    return 0;
}

/* Listing while puts overwrite: whole objects in order, no temp files. */
static void list_concurrent_with_puts(void)
{
    char root[512];
    char err[256] = "";
    putter a;
    pthread_t th;
    store *st;

    make_root(root, sizeof(root));
    st = localstore_new(root, err, sizeof(err));
    ASSERT(st != NULL);
    a = (putter){st, 0, 0};
    ASSERT_EQ(pthread_create(&th, NULL, keep_putting, &a), 0);
    for (int round = 0; round < 200; round++) {
        checked c = {"", 0, 0};

        if (store_list(st, "c/", NULL, check_order, &c, err, sizeof(err)) !=
            STORE_OK) {
            fprintf(stderr, "  list: %s\n", err);
            c.bad++;
        }
        if (c.bad) {
            a.stop = 1;
            pthread_join(th, NULL);
            TEST_FAIL_("round %d: %d bad of %d", round, c.bad, c.n);
        }
    }
    a.stop = 1;
    pthread_join(th, NULL);
    ASSERT_EQ(a.failures, 0);
    store_destroy(st);
    rm_tree(root);
}

/* get reads an object back whole (absent: OK with NULL; too large:
 * permanent); del removes it, and an absent key is no error. */
static void get_and_del(void)
{
    char root[512];
    char err[256] = "";
    store *st;
    char *data = (char *)"x";
    size_t len = 9;

    make_root(root, sizeof(root));
    st = localstore_new(root, err, sizeof(err));
    ASSERT(st != NULL);
    ASSERT_EQ(store_get(st, "a/b.json", 100, &data, &len, err, sizeof(err)),
              STORE_OK);
    ASSERT(data == NULL);
    ASSERT_EQ(len, 0);
    ASSERT_EQ(put(st, "a/b.json", "{\"x\":1}\n", err, sizeof(err)), STORE_OK);
    ASSERT_EQ(store_get(st, "a/b.json", 100, &data, &len, err, sizeof(err)),
              STORE_OK);
    ASSERT_STR_EQ(data, "{\"x\":1}\n");
    ASSERT_EQ(len, 8);
    free(data);
    ASSERT_EQ(store_get(st, "a/b.json", 7, &data, &len, err, sizeof(err)),
              STORE_PERMANENT);
    ASSERT(data == NULL);
    ASSERT_EQ(
        store_get(st, "../etc/passwd", 100, &data, &len, err, sizeof(err)),
        STORE_PERMANENT);
    ASSERT_EQ(store_del(st, "a/b.json", err, sizeof(err)), STORE_OK);
    ASSERT_EQ(store_get(st, "a/b.json", 100, &data, &len, err, sizeof(err)),
              STORE_OK);
    ASSERT(data == NULL);
    ASSERT_EQ(store_del(st, "a/b.json", err, sizeof(err)), STORE_OK);
    ASSERT_EQ(store_del(st, "a/../b", err, sizeof(err)), STORE_PERMANENT);
    store_destroy(st);
    rm_tree(root);
}

TEST_MAIN(T(get_and_del), T(put_writes_object_under_root),
          T(put_creates_nested_directories), T(put_overwrites_existing_object),
          T(put_empty_object), T(put_rejects_bad_keys),
          T(put_file_in_the_way_is_permanent), T(new_creates_missing_root),
          T(new_rejects_file_as_root), T(destroy_accepts_null),
          T(put_concurrent_writers), T(list_sorts_keys_bytewise_with_sizes),
          T(list_prefix_within_a_segment), T(list_begins_after_start_after),
          T(list_stops_when_fn_asks), T(list_skips_temp_files_and_links),
          T(list_missing_or_bad_prefix_is_empty), T(list_concurrent_with_puts))
