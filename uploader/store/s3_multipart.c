/* s3_multipart.c -- the S3 store's multipart uploads: begin, upload a
 * part, complete, abort (listing them is in s3_list.c). */
#include "s3_error.h"
#include "s3_parse.h"
#include "s3_store.h"

#include <string.h>

#include "log.h"
#include "xml.h"

/* 404 NoSuchUpload is success: the upload is gone, which is the point
 * (aborted before, or completed by a request whose answer was lost). */
static store_result abort_upload(s3_store *s, const char *key,
                                 const char *upload_id, char *why,
                                 size_t whylen)
{
    char code[64];
    s3_request req;
    s3_reply rep;
    store_result res;
    int built = s3_build_mpu_abort(&s->opt, key, upload_id, s3_store_now(s),
                                   &req, why, whylen);

    s3_reply_init(&rep, S3_RESPONSE_MAX);
    res = s3_send(s, built, &req, NULL, 0, &rep, why, whylen);
    if (res == STORE_PERMANENT && rep.status == 404) {
        xml_field(rep.body, rep.len, "Code", code, sizeof(code));
        if (strcmp(code, "NoSuchUpload") == 0)
            res = STORE_OK;
    }
    s3_reply_free(&rep);
    return res;
}

/* The upload id of a begin's answer into upload_id. An id the caller has
 * no room for is aborted at once, so that it is not left behind. */
static store_result take_upload_id(s3_store *s, const char *key,
                                   const s3_reply *rep, char *upload_id,
                                   size_t idlen, char *why, size_t whylen)
{
    char id[S3_MAX_UPLOAD_ID + 1];
    char ignored[S3_WHY_MAX];
    int rc = s3_parse_upload_id(rep->body, rep->len, id, sizeof(id));

    if (rc != 0) {
        errbuf_set(why, whylen, "s3: %s UploadId in the answer",
                   rc == -2 ? "too long an" : "no valid");
        return STORE_PERMANENT;
    }
    if (!upload_id || strlen(id) >= idlen) {
        abort_upload(s, key, id, ignored, sizeof(ignored));
        errbuf_set(why, whylen,
                   "s3: upload id of %zu bytes does not fit in %zu", strlen(id),
                   idlen);
        return STORE_PERMANENT;
    }
    memcpy(upload_id, id, strlen(id) + 1);
    return STORE_OK;
}

store_result s3_mpu_begin(store *st, const store_object *obj, char *upload_id,
                          size_t idlen, char *errbuf, size_t errlen)
{
    s3_store *s = (s3_store *)st;
    char why[S3_WHY_MAX] = "";
    s3_request req;
    s3_reply rep;
    store_result res;
    int built = s3_build_mpu_begin(&s->opt, obj, s3_store_now(s), &req, why,
                                   sizeof(why));

    s3_reply_init(&rep, S3_RESPONSE_MAX);
    res = s3_send(s, built, &req, NULL, 0, &rep, why, sizeof(why));
    if (res == STORE_OK)
        res = take_upload_id(s, obj->key, &rep, upload_id, idlen, why,
                             sizeof(why));
    if (res != STORE_OK)
        errbuf_set(errbuf, errlen, "CreateMultipartUpload: %s", why);
    s3_reply_free(&rep);
    return res;
}

store_result s3_mpu_part(store *st, const char *key, const char *upload_id,
                         int part_no, const void *data, size_t len, char *etag,
                         size_t etaglen, char *errbuf, size_t errlen)
{
    s3_store *s = (s3_store *)st;
    char why[S3_WHY_MAX] = "";
    s3_request req;
    s3_reply rep;
    store_result res;
    int built = s3_build_mpu_part(&s->opt, key, upload_id, part_no, data, len,
                                  s3_store_now(s), &req, why, sizeof(why));

    s3_reply_init(&rep, S3_RESPONSE_MAX);
    rep.want = "ETag";
    res = s3_send(s, built, &req, data, len, &rep, why, sizeof(why));
    if (res == STORE_OK &&
        (rep.header_state != 1 || !etag || strlen(rep.header) >= etaglen)) {
        errbuf_set(why, sizeof(why), "s3: %s ETag in the answer",
                   rep.header_state == 1 ? "no room for the" : "no valid");
        res = STORE_PERMANENT;
    }
    if (res == STORE_OK)
        memcpy(etag, rep.header, strlen(rep.header) + 1);
    else
        errbuf_set(errbuf, errlen, "UploadPart %d: %s", part_no, why);
    s3_reply_free(&rep);
    return res;
}

store_result s3_mpu_complete(store *st, const char *key, const char *upload_id,
                             const char *const *etags, int n_parts,
                             char *errbuf, size_t errlen)
{
    s3_store *s = (s3_store *)st;
    char why[S3_WHY_MAX] = "";
    s3_request req;
    s3_reply rep;
    store_result res;
    int built = s3_build_mpu_complete(&s->opt, key, upload_id, etags, n_parts,
                                      s3_store_now(s), &req, why, sizeof(why));

    s3_reply_init(&rep, S3_RESPONSE_MAX);
    rep.squeeze = 1;
    res =
        s3_send(s, built, &req, req.body, req.body_len, &rep, why, sizeof(why));
    if (res == STORE_OK)
        res = s3_check_complete(rep.body, rep.len, why, sizeof(why));
    if (res != STORE_OK)
        errbuf_set(errbuf, errlen, "CompleteMultipartUpload: %s", why);
    s3_reply_free(&rep);
    return res;
}

store_result s3_mpu_abort(store *st, const char *key, const char *upload_id,
                          char *errbuf, size_t errlen)
{
    char why[S3_WHY_MAX] = "";
    store_result res =
        abort_upload((s3_store *)st, key, upload_id, why, sizeof(why));

    if (res != STORE_OK)
        errbuf_set(errbuf, errlen, "AbortMultipartUpload: %s", why);
    return res;
}
