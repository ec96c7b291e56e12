/* fake_aws.h -- the seams of the credential chain for unit tests: an
 * environment from a table, and a scripted HTTP transport that records
 * every request (creds_http_fn). Static functions: one copy per test. */
#ifndef MILLRACE_FAKE_AWS_H
#define MILLRACE_FAKE_AWS_H

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "creds.h"

#define FAKE_MAX 16

/* name, value pairs; NULL name ends the list. */
static const char *const *fake_env_table;

static inline const char *fake_getenv(const char *name)
{
    for (const char *const *e = fake_env_table; e && e[0]; e += 2)
        if (strcmp(e[0], name) == 0)
            return e[1];
    return NULL;
}

/* One scripted answer: the first unused one whose method matches and
 * whose URL contains url_part is given (status -1: no answer at all). */
typedef struct fake_answer {
    const char *method;
    const char *url_part;
    long status;
    const char *body;
    int used;
    int reuse; /* answer every time, not once */
} fake_answer;

typedef struct fake_seen {
    char method[8];
    char url[512];
    char headers[4096]; /* "Name: value\n" each */
    char body[4096];
} fake_seen;

typedef struct fake_http {
    fake_answer answers[FAKE_MAX];
    size_t n_answers;
    fake_seen seen[FAKE_MAX];
    size_t n_seen;
    pthread_mutex_t lock;
} fake_http;

static inline void fake_http_init(fake_http *f)
{
    memset(f, 0, sizeof(*f));
    pthread_mutex_init(&f->lock, NULL);
}

static inline void fake_http_add(fake_http *f, const char *method,
                                 const char *url_part, long status,
                                 const char *body)
{
    f->answers[f->n_answers++] =
        (fake_answer){method, url_part, status, body, 0, 0};
}

static inline int fake_http_fn(void *arg, const creds_http_request *req,
                               creds_http_response *resp, char *errbuf,
                               size_t errlen)
{
    fake_http *f = arg;
    int rc = -1;

    pthread_mutex_lock(&f->lock);
    if (f->n_seen < FAKE_MAX) {
        fake_seen *s = &f->seen[f->n_seen++];
        size_t o = 0;
        snprintf(s->method, sizeof(s->method), "%s", req->method);
        snprintf(s->url, sizeof(s->url), "%s", req->url);
        for (size_t i = 0; i < req->n_headers; i++)
            o += (size_t)snprintf(s->headers + o, sizeof(s->headers) - o,
                                  "%s\n", req->headers[i]);
        snprintf(s->body, sizeof(s->body), "%.*s", (int)req->body_len,
                 req->body ? req->body : "");
    }
    for (size_t i = 0; i < f->n_answers; i++) {
        fake_answer *a = &f->answers[i];
        if ((a->used && !a->reuse) || strcmp(a->method, req->method) != 0 ||
            !strstr(req->url, a->url_part))
            continue;
        a->used = 1;
        if (a->status < 0) {
            snprintf(errbuf, errlen, "Connection refused");
            goto out;
        }
        resp->status = a->status;
        resp->body = strdup(a->body ? a->body : "");
        resp->len = strlen(resp->body);
        rc = 0;
        goto out;
    }
    snprintf(errbuf, errlen, "Connection timed out");
out:
    pthread_mutex_unlock(&f->lock);
    return rc;
}

/* The value of header name in a recorded request, or "". */
static inline const char *fake_header(const fake_seen *s, const char *name,
                                      char *out, size_t outlen)
{
    const char *p = s->headers;
    size_t n = strlen(name);

    out[0] = '\0';
    while (*p) {
        const char *nl = strchr(p, '\n');
        if (strncasecmp(p, name, n) == 0 && p[n] == ':') {
            snprintf(out, outlen, "%.*s", (int)(nl - p - n - 2), p + n + 2);
            break;
        }
        p = nl + 1;
    }
    return out;
}

static inline void fake_write(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");

    if (f) {
        fputs(text, f);
        fclose(f);
    }
}

#endif
