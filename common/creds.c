/* creds.c -- AWS credentials for signing: the SDKs' default chain resolved
 * once, the source that yielded kept and asked again ahead of expiry on a
 * thread of its own, and each signer handed a counted snapshot. */
#include "creds.h"

#include <openssl/crypto.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "awshttp.h"
#include "credsrc.h"
#include "log.h"

#define MOD "creds"
#define REASONS_MAX 1024

static const char *const names[CREDS_SRC_COUNT] = {
    "none", "settings", "web-identity", "profile", "container", "imds"};

/* The chain, in order. */
static const creds_source chain[] = {CREDS_SRC_SETTINGS, CREDS_SRC_WEB_IDENTITY,
                                     CREDS_SRC_PROFILE, CREDS_SRC_CONTAINER,
                                     CREDS_SRC_IMDS};

const char *creds_source_name(creds_source s)
{
    return s >= 0 && s < CREDS_SRC_COUNT ? names[s] : "none";
}

static void free_secret(char *s)
{
    if (s)
        OPENSSL_cleanse(s, strlen(s));
    free(s);
}

creds *creds_new(const char *access_key, const char *secret_key,
                 const char *session_token, time_t expiration)
{
    creds *c;

    if (!access_key || !*access_key || !secret_key || !*secret_key)
        return NULL;
    c = calloc(1, sizeof(*c));
    if (!c)
        return NULL;
    c->access_key = strdup(access_key);
    c->secret_key = strdup(secret_key);
    c->session_token = strdup(session_token ? session_token : "");
    c->expiration = expiration;
    atomic_init(&c->refs, 1);
    if (!c->access_key || !c->secret_key || !c->session_token) {
        creds_release(c);
        return NULL;
    }
    return c;
}

void creds_release(creds *c)
{
    if (!c || atomic_fetch_sub(&c->refs, 1) != 1)
        return;
    free(c->access_key);
    free_secret(c->secret_key);
    free_secret(c->session_token);
    free(c);
}

int creds_usable(const creds *c, time_t now)
{
    return c &&
           (c->expiration == 0 || now + CREDS_EXPIRY_SKEW_S < c->expiration);
}

time_t creds_refresh_at(time_t obtained, time_t expiration)
{
    time_t ahead, at;

    if (expiration == 0)
        return 0;
    ahead = (expiration - obtained) / 2;
    if (ahead > CREDS_REFRESH_AHEAD_S)
        ahead = CREDS_REFRESH_AHEAD_S;
    at = expiration - ahead;
    return at < obtained + CREDS_MIN_REFRESH_S ? obtained + CREDS_MIN_REFRESH_S
                                               : at;
}

struct creds_provider {
    char *access_key; /* the options' strings, copied */
    char *secret_key;
    char *session_token;
    char *region;
    const char *(*getenv)(const char *name);
    creds_http_fn http;
    void *http_arg;
    time_t (*clock)(void);
    int quiet;

    pthread_mutex_t fetching; /* one fetch at a time, held across I/O */
    pthread_mutex_t lock;     /* guards what follows; never across I/O */
    pthread_cond_t wake;
    int ready; /* 1: mutexes and cond made */
    pthread_t thread;
    int started;
    int stop;
    int poked; /* a signer found nothing usable */
    creds *cur;
    creds_source source;
    char detail[256];
    time_t next_attempt; /* when the refresher acts; 0: nothing planned */
    time_t last_attempt;
    int failed_in_row;
    int lost_logged; /* "no usable credentials" said since the last success */
    unsigned long long refreshes;
    unsigned long long failures;
    char last_error[512];
};

static time_t now_of(const creds_provider *p)
{
    return p->clock ? p->clock() : time(NULL);
}

static const char *plain_getenv(const char *name)
{
    return getenv(name);
}

static int dup_opt(char **dst, const char *src)
{
    *dst = strdup(src ? src : "");
    return *dst ? 0 : -1;
}

creds_provider *creds_provider_new(const creds_options *o, char *errbuf,
                                   size_t errlen)
{
    creds_provider *p = calloc(1, sizeof(*p));
    pthread_condattr_t ca;

    if (!p || dup_opt(&p->access_key, o->access_key) ||
        dup_opt(&p->secret_key, o->secret_key) ||
        dup_opt(&p->session_token, o->session_token) ||
        dup_opt(&p->region, o->region)) {
        errbuf_set(errbuf, errlen, "creds: out of memory");
        creds_provider_free(p);
        return NULL;
    }
    p->getenv = o->getenv ? o->getenv : plain_getenv;
    p->http = o->http ? o->http : awshttp_request;
    p->http_arg = o->http ? o->http_arg : NULL;
    p->clock = o->clock;
    p->quiet = o->quiet;
    /* Waits count on the monotonic clock: a wall-clock step must not
     * delay a refresh. */
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    if (pthread_mutex_init(&p->fetching, NULL) != 0 ||
        pthread_mutex_init(&p->lock, NULL) != 0 ||
        pthread_cond_init(&p->wake, &ca) != 0) {
        pthread_condattr_destroy(&ca);
        errbuf_set(errbuf, errlen, "creds: cannot make a mutex");
        free(p->access_key);
        free_secret(p->secret_key);
        free_secret(p->session_token);
        free(p->region);
        free(p);
        return NULL;
    }
    pthread_condattr_destroy(&ca);
    p->ready = 1;
    return p;
}

static void make_env(creds_provider *p, credsrc_env *e)
{
    memset(e, 0, sizeof(*e));
    e->access_key = p->access_key;
    e->secret_key = p->secret_key;
    e->session_token = p->session_token;
    e->region = p->region;
    e->getenv = p->getenv;
    e->http = p->http;
    e->http_arg = p->http_arg;
    e->now = now_of(p);
}

static void append(char *buf, size_t len, const char *fmt, const char *a,
                   const char *b)
{
    size_t n = strlen(buf);

    if (n < len)
        snprintf(buf + n, len - n, fmt, a, b);
}

/* Asks the sources in chain order, or only `only` when it is not NONE.
 * Returns the source that yielded, or NONE with the reasons in errbuf. */
static creds_source fetch(creds_provider *p, creds_source only, creds **out,
                          char *detail, size_t dlen, char *errbuf,
                          size_t errlen)
{
    credsrc_env e;
    char why[512];

    make_env(p, &e);
    errbuf[0] = '\0';
    for (size_t i = 0; i < sizeof(chain) / sizeof(chain[0]); i++) {
        credsrc_result r;

        if (only != CREDS_SRC_NONE && chain[i] != only)
            continue;
        why[0] = '\0';
        r = credsrc_fetch(chain[i], &e, out, detail, dlen, why, sizeof(why));
        if (r == CREDSRC_OK)
            return chain[i];
        if (r == CREDSRC_FAIL) {
            append(errbuf, errlen, "%s%s: ", errbuf[0] ? "; " : "",
                   creds_source_name(chain[i]));
            append(errbuf, errlen, "%s%s", why, "");
            log_debug(MOD, "%s: %s", creds_source_name(chain[i]), why);
        }
    }
    if (errbuf[0])
        return CREDS_SRC_NONE;
    if (only != CREDS_SRC_NONE)
        snprintf(errbuf, errlen, "%s is no longer configured",
                 creds_source_name(only));
    else
        snprintf(errbuf, errlen,
                 "no source is configured (no s3.access_key, "
                 "AWS_WEB_IDENTITY_TOKEN_FILE, profile or container URI, "
                 "and AWS_EC2_METADATA_DISABLED)");
    return CREDS_SRC_NONE;
}

static void format_time(time_t t, char *out, size_t outlen)
{
    struct tm tm;

    if (t == 0 || !gmtime_r(&t, &tm))
        snprintf(out, outlen, "never");
    else
        strftime(out, outlen, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* Takes c (its reference) as the current credentials. Lock held. */
static void install(creds_provider *p, creds_source src, creds *c,
                    const char *detail, time_t now)
{
    char exp[32], at[32];
    int first = p->cur == NULL;
    int was_lost = p->lost_logged;

    creds_release(p->cur);
    p->cur = c;
    p->source = src;
    snprintf(p->detail, sizeof(p->detail), "%s", detail);
    p->next_attempt = creds_refresh_at(now, c->expiration);
    p->failed_in_row = 0;
    p->lost_logged = 0;
    p->last_error[0] = '\0';
    if (!first)
        p->refreshes++;
    if (p->quiet)
        return;
    format_time(c->expiration, exp, sizeof(exp));
    format_time(p->next_attempt, at, sizeof(at));
    log_info(MOD,
             "%s from %s (%s): access key %s, %s%s, expire %s, refresh "
             "at %s",
             first      ? "credentials"
             : was_lost ? "usable credentials again"
                        : "credentials refreshed",
             creds_source_name(src), detail, c->access_key,
             c->session_token[0] ? "with" : "no", " session token", exp, at);
}

/* A failed attempt: plan the next one with backoff and say what it
 * means for the uploads. Lock held. */
static void failed(creds_provider *p, creds_source tried, const char *why,
                   time_t now)
{
    int usable = creds_usable(p->cur, now);
    long delay = 1L << (p->failed_in_row < 5 ? p->failed_in_row : 5);
    char exp[32];

    if (delay > CREDS_RETRY_MAX_S)
        delay = CREDS_RETRY_MAX_S;
    p->failed_in_row++;
    p->failures++;
    snprintf(p->last_error, sizeof(p->last_error), "%s", why);
    p->next_attempt = now + delay;
    if (p->quiet)
        return;
    if (usable) {
        format_time(p->cur->expiration, exp, sizeof(exp));
        log_warn(MOD,
                 "refreshing credentials from %s failed: %s; the current "
                 "ones stay valid until %s; retry in %ld s",
                 tried ? creds_source_name(tried) : "the chain", why, exp,
                 delay);
        return;
    }
    log_error(MOD,
              "no usable credentials (source %s): %s; uploads wait; retry "
              "in %ld s",
              tried ? creds_source_name(tried) : "chain", why, delay);
    p->lost_logged = 1;
}

/* One fetch, installed or counted as failed: the source held, or the
 * whole chain from the first source for CREDS_SRC_NONE. With wake, the
 * refresher is woken to plan anew (a resolve from outside it). Returns the
 * source that yielded, or CREDS_SRC_NONE with the reasons in why. */
static creds_source attempt(creds_provider *p, creds_source held, int wake,
                            char *why, size_t whylen)
{
    char detail[256];
    creds *c = NULL;
    creds_source src;
    time_t now;

    pthread_mutex_lock(&p->fetching);
    src = fetch(p, held, &c, detail, sizeof(detail), why, whylen);
    pthread_mutex_lock(&p->lock);
    now = now_of(p);
    p->last_attempt = now;
    if (src != CREDS_SRC_NONE)
        install(p, src, c, detail, now);
    else
        failed(p, held, why, now);
    if (wake)
        pthread_cond_signal(&p->wake);
    pthread_mutex_unlock(&p->lock);
    pthread_mutex_unlock(&p->fetching);
    return src;
}

int creds_provider_resolve(creds_provider *p, char *errbuf, size_t errlen)
{
    char why[REASONS_MAX];

    if (attempt(p, CREDS_SRC_NONE, 1, why, sizeof(why)) == CREDS_SRC_NONE) {
        errbuf_set(errbuf, errlen, "%s", why);
        return -1;
    }
    return 0;
}

static void wait_seconds(creds_provider *p, time_t s)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    ts.tv_sec += s;
    pthread_cond_timedwait(&p->wake, &p->lock, &ts);
}

static void *refresher(void *arg)
{
    creds_provider *p = arg;
    char why[REASONS_MAX];

    pthread_mutex_lock(&p->lock);
    while (!p->stop) {
        time_t now = now_of(p);
        time_t due = p->next_attempt;

        /* A signer found nothing usable (a renewal came too late, say
         * after a suspend): try now, unless attempts are failing, whose
         * backoff stands. */
        if (p->poked && p->failed_in_row == 0 && !creds_usable(p->cur, now) &&
            now >= p->last_attempt + CREDS_MIN_REFRESH_S &&
            (due == 0 || due > now))
            due = now;
        p->poked = 0;
        if (due == 0 || now < due) {
            wait_seconds(p, due == 0 ? 3600 : due - now);
            continue;
        }
        creds_source held = p->source;
        pthread_mutex_unlock(&p->lock);
        attempt(p, held, 0, why, sizeof(why));
        pthread_mutex_lock(&p->lock);
    }
    pthread_mutex_unlock(&p->lock);
    return NULL;
}

int creds_provider_start(creds_provider *p, char *errbuf, size_t errlen)
{
    if (p->started)
        return 0;
    if (pthread_create(&p->thread, NULL, refresher, p) != 0) {
        errbuf_set(errbuf, errlen, "creds: cannot start the refresher");
        return -1;
    }
    p->started = 1;
    return 0;
}

creds *creds_acquire(creds_provider *p)
{
    creds *c = NULL;

    pthread_mutex_lock(&p->lock);
    if (creds_usable(p->cur, now_of(p))) {
        c = p->cur;
        atomic_fetch_add(&c->refs, 1);
    } else {
        p->poked = 1;
        pthread_cond_signal(&p->wake);
    }
    pthread_mutex_unlock(&p->lock);
    return c;
}

void creds_provider_status(creds_provider *p, creds_status *out)
{
    memset(out, 0, sizeof(*out));
    pthread_mutex_lock(&p->lock);
    out->ok = creds_usable(p->cur, now_of(p));
    out->source = p->cur ? p->source : CREDS_SRC_NONE;
    snprintf(out->detail, sizeof(out->detail), "%s", p->detail);
    if (p->cur) {
        snprintf(out->access_key, sizeof(out->access_key), "%s",
                 p->cur->access_key);
        out->expiration = p->cur->expiration;
    }
    out->next_refresh = p->next_attempt;
    out->refreshes = p->refreshes;
    out->failures = p->failures;
    snprintf(out->last_error, sizeof(out->last_error), "%s", p->last_error);
    pthread_mutex_unlock(&p->lock);
}

void creds_provider_why(creds_provider *p, char *errbuf, size_t errlen)
{
    creds_status s;
    char exp[32];

    creds_provider_status(p, &s);
    format_time(s.expiration, exp, sizeof(exp));
    if (s.source == CREDS_SRC_NONE)
        errbuf_set(errbuf, errlen, "no credentials: %s",
                   s.last_error[0] ? s.last_error : "none found yet");
    else
        errbuf_set(errbuf, errlen,
                   "no usable credentials: those from %s expire%s %s; "
                   "refreshing: %s",
                   creds_source_name(s.source), s.ok ? "" : "d", exp,
                   s.last_error[0] ? s.last_error : "in progress");
}

void creds_provider_free(creds_provider *p)
{
    if (!p)
        return;
    if (p->started) {
        pthread_mutex_lock(&p->lock);
        p->stop = 1;
        pthread_cond_signal(&p->wake);
        pthread_mutex_unlock(&p->lock);
        pthread_join(p->thread, NULL);
    }
    if (p->ready) {
        pthread_cond_destroy(&p->wake);
        pthread_mutex_destroy(&p->lock);
        pthread_mutex_destroy(&p->fetching);
    }
    creds_release(p->cur);
    free(p->access_key);
    free_secret(p->secret_key);
    free_secret(p->session_token);
    free(p->region);
    free(p);
}
