/* creds.h -- AWS credentials for signing: the SDKs' default chain resolved
 * once, the source that yielded kept and asked again ahead of expiry on a
 * thread of its own, and each signer handed a counted snapshot. */
#ifndef MILLRACE_CREDS_H
#define MILLRACE_CREDS_H

#include <stdatomic.h>
#include <stddef.h>
#include <time.h>

/* Temporary credentials are renewed this long before they expire, as the
 * AWS SDKs do; short-lived ones (tests) at half their lifetime. */
#define CREDS_REFRESH_AHEAD_S 300
/* Never sooner than this after the last attempt. */
#define CREDS_MIN_REFRESH_S 1
/* A snapshot this close to its expiry is not handed out: a request signed
 * now must still be valid when it reaches the server. */
#define CREDS_EXPIRY_SKEW_S 5
/* A failed refresh is retried after 1, 2, 4, ... seconds, up to this. */
#define CREDS_RETRY_MAX_S 30

/* Where credentials come from, in the order they are tried: the AWS SDKs'
 * default chain (Java v2's order: explicit keys, web identity, the shared
 * profile, container, instance metadata). */
typedef enum creds_source {
    CREDS_SRC_NONE = 0,
    CREDS_SRC_SETTINGS,     /* s3.access_key/secret_key/session_token */
    CREDS_SRC_WEB_IDENTITY, /* AWS_WEB_IDENTITY_TOKEN_FILE + AWS_ROLE_ARN */
    CREDS_SRC_PROFILE,      /* ~/.aws/credentials and ~/.aws/config */
    CREDS_SRC_CONTAINER,    /* AWS_CONTAINER_CREDENTIALS_*_URI */
    CREDS_SRC_IMDS,         /* EC2 instance metadata, IMDSv2 */
    CREDS_SRC_COUNT
} creds_source;

/* "settings", "web-identity", "profile", "container", "imds"; "none". */
const char *creds_source_name(creds_source s);

/* One set of keys. Immutable once made; shared by counting references. */
typedef struct creds {
    char *access_key;
    char *secret_key;
    char *session_token; /* "" when there is none */
    time_t expiration;   /* 0: does not expire */
    atomic_int refs;
} creds;

/* A set with one reference (the caller's). NULL when out of memory or a
 * key is empty. */
creds *creds_new(const char *access_key, const char *secret_key,
                 const char *session_token, time_t expiration);
/* Drops a reference; the last one wipes the secrets. Accepts NULL. */
void creds_release(creds *c);

/* 1 when c may sign a request at time now. */
int creds_usable(const creds *c, time_t now);

/* When to renew credentials obtained at time obtained that expire at
 * expiration (never for 0: returns 0): CREDS_REFRESH_AHEAD_S before, or
 * at half the lifetime when that is shorter, and not before
 * obtained + CREDS_MIN_REFRESH_S. */
time_t creds_refresh_at(time_t obtained, time_t expiration);

/* The HTTP seam of the sources that ask a server (STS, the container
 * endpoint, IMDS): the daemons use libcurl (awshttp.h), tests a script. */
#define CREDS_HTTP_MAX_HEADERS 8
typedef struct creds_http_request {
    const char *method; /* "GET", "PUT", "POST" */
    const char *url;
    const char *headers[CREDS_HTTP_MAX_HEADERS]; /* "Name: value" */
    size_t n_headers;
    const char *body; /* NULL: none */
    size_t body_len;
    long connect_timeout_ms;
    long timeout_ms; /* the whole exchange */
} creds_http_request;

typedef struct creds_http_response {
    long status;
    char *body; /* heap, NUL-terminated (possibly ""), owned by the caller */
    size_t len;
} creds_http_response;

/* Returns 0 with a response (any status), or -1 with a reason in errbuf
 * when no answer came (connect refused, timeout). */
typedef int (*creds_http_fn)(void *arg, const creds_http_request *req,
                             creds_http_response *resp, char *errbuf,
                             size_t errlen);

/* What the chain reads: settings, environment, clock, transport. */
typedef struct creds_options {
    /* Explicit settings (source 1): both keys, or neither. */
    const char *access_key;
    const char *secret_key;
    const char *session_token;
    /* The region STS is asked in (web identity, role_arn profiles). */
    const char *region;
    const char *(*getenv)(const char *name); /* NULL = getenv */
    creds_http_fn http;                      /* NULL = awshttp_request */
    void *http_arg;
    time_t (*clock)(void); /* NULL = time() */
    int quiet;             /* 1: log nothing (--check-config says it) */
} creds_options;

typedef struct creds_provider creds_provider;

/* What /readyz, /metrics, the log and --check-config say. */
typedef struct creds_status {
    int ok;              /* usable credentials right now */
    creds_source source; /* the source that yielded; NONE before any */
    char detail[256];    /* which role, profile, endpoint; never a secret */
    char access_key[128];
    time_t expiration;            /* of the credentials held; 0: none expire */
    time_t next_refresh;          /* 0: none planned */
    unsigned long long refreshes; /* successful fetches after the first */
    unsigned long long failures;  /* failed attempts, all told */
    char last_error[512];         /* of the last failed attempt, or "" */
} creds_status;

/* Copies the options; no I/O. NULL with a reason in errbuf. */
creds_provider *creds_provider_new(const creds_options *o, char *errbuf,
                                   size_t errlen);

/* Runs the chain now, from the first source: the first that yields
 * becomes the provider's source. Returns 0, or -1 with every source's
 * reason in errbuf ("web-identity: ...; imds: ..."); the refresher then
 * keeps trying. Used at start and on reload (SIGHUP: credential files are
 * read again); on failure the credentials held, if still valid, stay. */
int creds_provider_resolve(creds_provider *p, char *errbuf, size_t errlen);

/* Starts the refresher thread: renews expiring credentials from their
 * source, retries failures with backoff, and runs the chain again while
 * none was ever found. Returns 0 or -1. */
int creds_provider_start(creds_provider *p, char *errbuf, size_t errlen);

/* A snapshot to sign with (release it after signing), or NULL when no
 * usable credentials are held; the refresher is then woken. Never blocks
 * on the network. Thread-safe. */
creds *creds_acquire(creds_provider *p);

void creds_provider_status(creds_provider *p, creds_status *out);

/* "no usable credentials (source imds: <reason>)", for a signer's error. */
void creds_provider_why(creds_provider *p, char *errbuf, size_t errlen);

/* Stops the thread; accepts NULL. Snapshots outlive it. */
void creds_provider_free(creds_provider *p);

#endif
