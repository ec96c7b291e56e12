/* localstore.c -- the local-directory object store: objects as files under
 * a root directory, same keys as S3, for `make run` and tests. */
#include "localstore.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"

#define TMP_PREFIX ".millrace-tmp-"
#define TMP_NAME TMP_PREFIX "XXXXXX"

typedef struct localstore {
    store base; /* first, so a store * is a localstore * */
    char *root; /* no trailing '/' */
} localstore;

/* Every segment must be a plain name: "a//b" or "a/./b" would land on the
 * file of another key, and ".." could leave the root. */
static int valid_key(const char *key)
{
    const char *seg = key;

    if (!key || !*key)
        return 0;
    for (;;) {
        size_t n = strcspn(seg, "/");

        if (n == 0 || (n == 1 && seg[0] == '.') ||
            (n == 2 && seg[0] == '.' && seg[1] == '.'))
            return 0;
        if (seg[n] == '\0')
            return 1;
        seg += n + 1;
    }
}

/* Running out of space, descriptors or memory can pass; a missing
 * permission or a file where a directory belongs will not. */
static store_result errno_result(int err)
{
    switch (err) {
    case ENOSPC:
    case EDQUOT:
    case EIO:
    case EINTR:
    case EAGAIN:
    case EMFILE:
    case ENFILE:
    case ENOMEM:
    case EBUSY:
        return STORE_RETRY;
    default:
        return STORE_PERMANENT;
    }
}

static store_result io_error(const char *step, const char *path, char *errbuf,
                             size_t errlen)
{
    int err = errno;

    errbuf_set(errbuf, errlen, "local: %s %s: %s", step, path, strerror(err));
    return errno_result(err);
}

/* mkdir -p of every directory in path before its last '/', from offset
 * start on. EEXIST is fine: another worker may have just made it. */
static int make_parents(char *path, size_t start)
{
    for (char *p = path + (start ? start : 1); *p; p++) {
        int rc;
        int err;

        if (*p != '/')
            continue;
        *p = '\0';
        rc = mkdir(path, 0755);
        err = errno;
        *p = '/';
        if (rc != 0 && err != EEXIST) {
            errno = err;
            return -1;
        }
    }
    return 0;
}

static int write_all(int fd, const char *p, size_t len)
{
    while (len > 0) {
        ssize_t n = write(fd, p, len);

        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return -1;
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

/* The rename is only durable once the directory holding it is synced. */
static int sync_parent(char *path)
{
    char *slash = strrchr(path, '/');
    int fd;
    int rc;

    *slash = '\0';
    fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    *slash = '/';
    if (fd < 0)
        return -1;
    rc = fsync(fd);
    close(fd);
    return rc;
}

static char *join(const char *a, const char *b)
{
    size_t n = strlen(a) + strlen(b) + 2;
    char *p = malloc(n);

    if (p)
        snprintf(p, n, "%s/%s", a, b);
    return p;
}

/* A temporary name in the object's own directory, so rename stays within
 * one file system and is atomic. */
static char *temp_path(const char *path)
{
    const char *slash = strrchr(path, '/');
    size_t dirlen = (size_t)(slash - path);
    size_t n = dirlen + sizeof(TMP_NAME) + 1;
    char *p = malloc(n);

    if (p)
        snprintf(p, n, "%.*s/%s", (int)dirlen, path, TMP_NAME);
    return p;
}

/* Writes the body to fd (a fresh temporary file) and makes it durable. */
static store_result fill_temp(int fd, const store_object *obj, const char *tmp,
                              char *errbuf, size_t errlen)
{
    if (obj->len > 0 && write_all(fd, obj->data, obj->len) != 0)
        return io_error("write", tmp, errbuf, errlen);
    /* mkstemp makes 0600; objects are meant to be read by other tools. */
    if (fchmod(fd, 0644) != 0)
        return io_error("chmod", tmp, errbuf, errlen);
    if (fsync(fd) != 0)
        return io_error("fsync", tmp, errbuf, errlen);
    return STORE_OK;
}

static store_result local_put(store *st, const store_object *obj, char *errbuf,
                              size_t errlen)
{
    localstore *ls = (localstore *)st;
    store_result res = STORE_PERMANENT;
    char *path = NULL;
    char *tmp = NULL;
    int fd = -1;
    int created = 0;

    if (!obj || !valid_key(obj->key)) {
        errbuf_set(errbuf, errlen, "local: invalid key \"%s\"",
                   obj && obj->key ? obj->key : "(null)");
        return STORE_PERMANENT;
    }
    if (!obj->data && obj->len > 0) {
        errbuf_set(errbuf, errlen, "local: object has a length but no data");
        return STORE_PERMANENT;
    }
    path = join(ls->root, obj->key);
    tmp = path ? temp_path(path) : NULL;
    if (!tmp) {
        errbuf_set(errbuf, errlen, "local: out of memory");
        res = STORE_RETRY;
        goto fail;
    }
    if (make_parents(path, strlen(ls->root) + 1) != 0) {
        res = io_error("mkdir", path, errbuf, errlen);
        goto fail;
    }
    fd = mkstemp(tmp);
    if (fd < 0) {
        res = io_error("create", tmp, errbuf, errlen);
        goto fail;
    }
    created = 1;
    res = fill_temp(fd, obj, tmp, errbuf, errlen);
    if (res != STORE_OK)
        goto fail;
    res = close(fd) == 0 ? STORE_OK : io_error("close", tmp, errbuf, errlen);
    fd = -1;
    if (res != STORE_OK)
        goto fail;
    if (rename(tmp, path) != 0) {
        res = io_error("rename", path, errbuf, errlen);
        goto fail;
    }
    /* Renamed: nothing left to remove, but a put is OK only once durable. */
    created = 0;
    if (sync_parent(path) != 0)
        res = io_error("fsync directory of", path, errbuf, errlen);
fail:
    if (fd >= 0)
        close(fd);
    if (created)
        unlink(tmp);
    free(tmp);
    free(path);
    return res;
}

typedef struct entry {
    char *key;
    size_t size;
} entry;

/* What a listing gathers before sorting: keys under the prefix, after
 * start_after, with their sizes. */
typedef struct listing {
    const char *prefix;
    const char *start_after;
    entry *e;
    size_t n;
    size_t cap;
} listing;

static void listing_free(listing *l)
{
    for (size_t i = 0; i < l->n; i++)
        free(l->e[i].key);
    free(l->e);
}

static int listing_add(listing *l, const char *key, size_t size)
{
    if (l->n == l->cap) {
        size_t cap = l->cap ? 2 * l->cap : 64;
        entry *e = realloc(l->e, cap * sizeof(*e));

        if (!e)
            return -1;
        l->e = e;
        l->cap = cap;
    }
    l->e[l->n].key = strdup(key);
    if (!l->e[l->n].key)
        return -1;
    l->e[l->n++].size = size;
    return 0;
}

/* Only directories whose keys could start with the prefix are entered:
 * rel + "/" and the prefix agree as far as both go. */
static int may_hold(const char *rel, const char *prefix)
{
    size_t n = strlen(rel);

    if (strncmp(rel, prefix, n) != 0)
        return strncmp(rel, prefix, strlen(prefix)) == 0;
    return prefix[n] == '\0' || prefix[n] == '/';
}

static store_result walk_dir(listing *l, const char *root, const char *rel,
                             char *errbuf, size_t errlen);

/* One directory entry: a regular file under the prefix is a key, a
 * directory that may hold some is walked; anything else (links, temp
 * files of puts in progress, entries gone meanwhile) is passed over. */
static store_result walk_entry(listing *l, const char *root, int dfd,
                               const char *rel, const char *name, char *errbuf,
                               size_t errlen)
{
    struct stat st;

    if (fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) != 0)
        return errno == ENOENT ? STORE_OK
                               : io_error("stat", rel, errbuf, errlen);
    if (S_ISDIR(st.st_mode))
        return may_hold(rel, l->prefix) ? walk_dir(l, root, rel, errbuf, errlen)
                                        : STORE_OK;
    if (!S_ISREG(st.st_mode) ||
        strncmp(name, TMP_PREFIX, sizeof(TMP_PREFIX) - 1) == 0 ||
        strncmp(rel, l->prefix, strlen(l->prefix)) != 0 ||
        strcmp(rel, l->start_after) <= 0)
        return STORE_OK;
    if (listing_add(l, rel, (size_t)st.st_size) != 0) {
        errbuf_set(errbuf, errlen, "local: out of memory");
        return STORE_RETRY;
    }
    return STORE_OK;
}

/* Adds the keys below root/rel (rel "" for the root itself). A directory
 * that is missing, or a file, holds none. */
static store_result walk_dir(listing *l, const char *root, const char *rel,
                             char *errbuf, size_t errlen)
{
    store_result res = STORE_OK;
    char *path = *rel ? join(root, rel) : strdup(root);
    DIR *d = path ? opendir(path) : NULL;
    struct dirent *e;

    if (!path) {
        errbuf_set(errbuf, errlen, "local: out of memory");
        return STORE_RETRY;
    }
    if (!d) {
        if (errno != ENOENT && errno != ENOTDIR)
            res = io_error("open directory", path, errbuf, errlen);
        free(path);
        return res;
    }
    while (res == STORE_OK) {
        char *child;

        errno = 0;
        e = readdir(d);
        if (!e) {
            if (errno != 0)
                res = io_error("read directory", path, errbuf, errlen);
            break;
        }
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        child = *rel ? join(rel, e->d_name) : strdup(e->d_name);
        if (!child) {
            errbuf_set(errbuf, errlen, "local: out of memory");
            res = STORE_RETRY;
            break;
        }
        res = walk_entry(l, root, dirfd(d), child, e->d_name, errbuf, errlen);
        free(child);
    }
    closedir(d);
    free(path);
    return res;
}

/* strcmp compares as unsigned char: UTF-8 byte order, as S3 lists. */
static int by_key(const void *a, const void *b)
{
    return strcmp(((const entry *)a)->key, ((const entry *)b)->key);
}

static store_result local_list(store *st, const char *prefix,
                               const char *start_after, store_object_fn fn,
                               void *arg, char *errbuf, size_t errlen)
{
    localstore *ls = (localstore *)st;
    listing l = {prefix ? prefix : "", start_after ? start_after : "", NULL, 0,
                 0};
    const char *slash = strrchr(l.prefix, '/');
    char *dir = strndup(l.prefix, slash ? (size_t)(slash - l.prefix) : 0);
    store_result res;

    if (!dir) {
        errbuf_set(errbuf, errlen, "local: out of memory");
        return STORE_RETRY;
    }
    /* Keys are plain (see valid_key): a prefix whose directories are not
     * holds none, and must not lead out of the root. */
    res = !*dir || valid_key(dir) ? walk_dir(&l, ls->root, dir, errbuf, errlen)
                                  : STORE_OK;
    if (res == STORE_OK && l.n > 0)
        qsort(l.e, l.n, sizeof(*l.e), by_key);
    for (size_t i = 0; res == STORE_OK && fn && i < l.n; i++) {
        if (fn(l.e[i].key, l.e[i].size, arg) != 0)
            break;
    }
    listing_free(&l);
    free(dir);
    return res;
}

static store_result local_get(store *st, const char *key, size_t max,
                              char **data, size_t *len, char *errbuf,
                              size_t errlen)
{
    localstore *ls = (localstore *)st;
    store_result res = STORE_OK;
    char *path = NULL, *buf = NULL;
    struct stat sb;
    int fd = -1;

    *data = NULL;
    *len = 0;
    if (!valid_key(key)) {
        errbuf_set(errbuf, errlen, "local: invalid key \"%s\"", key);
        return STORE_PERMANENT;
    }
    path = join(ls->root, key);
    if (!path) {
        errbuf_set(errbuf, errlen, "local: out of memory");
        return STORE_RETRY;
    }
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        res = errno == ENOENT || errno == ENOTDIR
                  ? STORE_OK
                  : io_error("open", path, errbuf, errlen);
        goto done;
    }
    if (fstat(fd, &sb) != 0) {
        res = io_error("stat", path, errbuf, errlen);
        goto done;
    }
    if ((size_t)sb.st_size > max) {
        errbuf_set(errbuf, errlen, "local: %s is larger than %zu bytes", path,
                   max);
        res = STORE_PERMANENT;
        goto done;
    }
    buf = malloc((size_t)sb.st_size + 1);
    if (!buf) {
        errbuf_set(errbuf, errlen, "local: out of memory");
        res = STORE_RETRY;
        goto done;
    }
    for (size_t got = 0; got < (size_t)sb.st_size;) {
        ssize_t n = read(fd, buf + got, (size_t)sb.st_size - got);
        if (n <= 0) {
            res = n < 0 ? io_error("read", path, errbuf, errlen) : STORE_RETRY;
            goto done;
        }
        got += (size_t)n;
    }
    buf[sb.st_size] = '\0';
    *data = buf;
    *len = (size_t)sb.st_size;
    buf = NULL;
done:
    if (fd >= 0)
        close(fd);
    free(buf);
    free(path);
    return res;
}

static store_result local_del(store *st, const char *key, char *errbuf,
                              size_t errlen)
{
    localstore *ls = (localstore *)st;
    store_result res = STORE_OK;
    char *path;

    if (!valid_key(key)) {
        errbuf_set(errbuf, errlen, "local: invalid key \"%s\"", key);
        return STORE_PERMANENT;
    }
    path = join(ls->root, key);
    if (!path) {
        errbuf_set(errbuf, errlen, "local: out of memory");
        return STORE_RETRY;
    }
    if (unlink(path) != 0 && errno != ENOENT && errno != ENOTDIR)
        res = io_error("remove", path, errbuf, errlen);
    free(path);
    return res;
}

static void local_destroy(store *st)
{
    localstore *ls = (localstore *)st;

    if (!ls)
        return;
    free(ls->root);
    free(ls);
}

/* No multipart: the uploader writes every object with put. */
static const store_ops local_ops = {
    .name = "local",
    .put = local_put,
    .destroy = local_destroy,
    .list = local_list,
    .get = local_get,
    .del = local_del,
};

store *localstore_new(const char *root_dir, char *errbuf, size_t errlen)
{
    localstore *ls = NULL;
    char *dir = NULL;
    size_t n;
    struct stat st;

    if (!root_dir || !*root_dir) {
        errbuf_set(errbuf, errlen, "local: no root directory");
        return NULL;
    }
    /* With a '/' appended, make_parents creates the root itself too. */
    dir = join(root_dir, "");
    ls = calloc(1, sizeof(*ls));
    if (!dir || !ls) {
        errbuf_set(errbuf, errlen, "local: out of memory");
        goto fail;
    }
    if (make_parents(dir, 0) != 0 || stat(root_dir, &st) != 0) {
        io_error("create", root_dir, errbuf, errlen);
        goto fail;
    }
    if (!S_ISDIR(st.st_mode)) {
        errbuf_set(errbuf, errlen, "local: %s is not a directory", root_dir);
        goto fail;
    }
    n = strlen(dir);
    while (n > 1 && dir[n - 1] == '/')
        dir[--n] = '\0';
    ls->root = dir;
    ls->base.ops = &local_ops;
    return &ls->base;
fail:
    free(dir);
    free(ls);
    return NULL;
}
