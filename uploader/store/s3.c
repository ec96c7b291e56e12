/* s3.c -- the S3 object store: its options copied, its operations table,
 * PutObject; the rest of the store lives in the s3_*.c files beside it
 * (see s3.h). */
#include "s3.h"

#include <curl/curl.h>
#include <openssl/crypto.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "s3_check.h"
#include "s3_store.h"

time_t s3_store_now(const s3_store *s)
{
    return s->opt.clock ? s->opt.clock() : time(NULL);
}

store_result s3_send(s3_store *s, int built, s3_request *req, const void *body,
                     size_t len, s3_reply *rep, char *why, size_t whylen)
{
    store_result res;

    if (built != 0)
        res = req->no_credentials ? STORE_RETRY : STORE_PERMANENT;
    else
        res = s3_exec(&s->pool, &s->opt, req, body, len, rep, why, whylen);
    s3_request_free(req);
    return res;
}

/* Each operation writes "<Operation>: <why>" into errbuf when it fails. */
static store_result s3_put(store *st, const store_object *obj, char *errbuf,
                           size_t errlen)
{
    s3_store *s = (s3_store *)st;
    char why[S3_WHY_MAX] = "";
    s3_request req;
    s3_reply rep;
    store_result res;
    int built =
        s3_build_put(&s->opt, obj, s3_store_now(s), &req, why, sizeof(why));

    s3_reply_init(&rep, S3_RESPONSE_MAX);
    res = s3_send(s, built, &req, obj ? obj->data : NULL, obj ? obj->len : 0,
                  &rep, why, sizeof(why));
    if (res != STORE_OK)
        errbuf_set(errbuf, errlen, "PutObject: %s", why);
    s3_reply_free(&rep);
    return res;
}

/* GetObject, whole. 404 is an answer (no such object), not a failure. */
static store_result s3_get(store *st, const char *key, size_t max, char **data,
                           size_t *len, char *errbuf, size_t errlen)
{
    s3_store *s = (s3_store *)st;
    char why[S3_WHY_MAX] = "";
    s3_request req;
    s3_reply rep;
    store_result res;
    int built =
        s3_build_get(&s->opt, key, s3_store_now(s), &req, why, sizeof(why));

    *data = NULL;
    *len = 0;
    s3_reply_init(&rep, max + 1); /* one more: a cut shows it is too long */
    res = s3_send(s, built, &req, NULL, 0, &rep, why, sizeof(why));
    if (res != STORE_OK && rep.status == 404) {
        res = STORE_OK;
    } else if (res == STORE_OK && (rep.cut || rep.len > max)) {
        errbuf_set(why, sizeof(why), "s3: %s is larger than %zu bytes", key,
                   max);
        res = STORE_PERMANENT;
    } else if (res == STORE_OK) {
        *data = rep.body ? rep.body : strdup("");
        *len = rep.len;
        rep.body = NULL;
        if (!*data) {
            errbuf_set(why, sizeof(why), "s3: out of memory");
            res = STORE_RETRY;
        }
    }
    if (res != STORE_OK)
        errbuf_set(errbuf, errlen, "GetObject: %s", why);
    s3_reply_free(&rep);
    return res;
}

/* DeleteObject; S3 answers 204 whether or not the key existed. */
static store_result s3_del(store *st, const char *key, char *errbuf,
                           size_t errlen)
{
    s3_store *s = (s3_store *)st;
    char why[S3_WHY_MAX] = "";
    s3_request req;
    s3_reply rep;
    store_result res;
    int built =
        s3_build_delete(&s->opt, key, s3_store_now(s), &req, why, sizeof(why));

    s3_reply_init(&rep, S3_RESPONSE_MAX);
    res = s3_send(s, built, &req, NULL, 0, &rep, why, sizeof(why));
    if (res != STORE_OK && rep.status == 404)
        res = STORE_OK;
    if (res != STORE_OK)
        errbuf_set(errbuf, errlen, "DeleteObject: %s", why);
    s3_reply_free(&rep);
    return res;
}

static void free_secret(char *s)
{
    if (s)
        OPENSSL_cleanse(s, strlen(s));
    free(s);
}

static void s3_destroy(store *st)
{
    s3_store *s = (s3_store *)st;

    if (!s)
        return;
    s3_pool_free(&s->pool);
    free(s->endpoint);
    free(s->bucket);
    free(s->region);
    free(s->access_key);
    free_secret(s->secret_key);
    free_secret(s->session_token);
    free(s->sse);
    free(s->sse_kms_key_id);
    free(s->storage_class);
    free(s);
}

static int copy_str(char **dst, const char *src)
{
    *dst = strdup(src ? src : "");
    return *dst ? 0 : -1;
}

static int copy_options(s3_store *s, const s3_options *opt)
{
    if (copy_str(&s->endpoint, opt->endpoint) ||
        copy_str(&s->bucket, opt->bucket) ||
        copy_str(&s->region, opt->region) ||
        copy_str(&s->access_key, opt->access_key) ||
        copy_str(&s->secret_key, opt->secret_key) ||
        copy_str(&s->session_token, opt->session_token) ||
        copy_str(&s->sse, opt->sse) ||
        copy_str(&s->sse_kms_key_id, opt->sse_kms_key_id) ||
        copy_str(&s->storage_class, opt->storage_class))
        return -1;
    s->opt = *opt;
    s->opt.endpoint = s->endpoint;
    s->opt.bucket = s->bucket;
    s->opt.region = s->region;
    s->opt.access_key = s->access_key;
    s->opt.secret_key = s->secret_key;
    s->opt.session_token = s->session_token;
    s->opt.sse = s->sse;
    s->opt.sse_kms_key_id = s->sse_kms_key_id;
    s->opt.storage_class = s->storage_class;
    return 0;
}

static const store_ops s3_ops = {
    .name = "s3",
    .put = s3_put,
    .destroy = s3_destroy,
    .mpu_begin = s3_mpu_begin,
    .mpu_part = s3_mpu_part,
    .mpu_complete = s3_mpu_complete,
    .mpu_abort = s3_mpu_abort,
    .mpu_list = s3_mpu_list,
    .list = s3_list,
    .get = s3_get,
    .del = s3_del,
};

store *s3_store_new(const s3_options *opt, char *errbuf, size_t errlen)
{
    s3_store *s = NULL;
    s3_endpoint ep;

    if (s3_check_options(opt, &ep, errbuf, errlen) != 0)
        return NULL;
    s = calloc(1, sizeof(*s));
    if (!s || copy_options(s, opt) != 0) {
        errbuf_set(errbuf, errlen, "s3: out of memory");
        goto fail;
    }
    if (s3_pool_init(&s->pool) != 0) {
        errbuf_set(errbuf, errlen, "s3: cannot create a mutex");
        goto fail;
    }
    s->base.ops = &s3_ops;
    return &s->base;
fail:
    s3_destroy(s ? &s->base : NULL);
    return NULL;
}

int s3_global_init(void)
{
    return curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK ? 0 : -1;
}

void s3_global_cleanup(void)
{
    curl_global_cleanup();
}
