/* test_creds.c -- the credential provider without a network: the chain's
 * order, when credentials are renewed and usable, snapshots that outlive
 * a swap, what it reports without any, and the refresher thread renewing
 * short-lived credentials and surviving a failed refresh. */
#include "creds.h"
#include "fake_aws.h"
#include "test.h"

#include <time.h>
#include <unistd.h>

#define NOW 1796637600 /* 2026-12-07T10:00:00Z */

static time_t fake_now = NOW;
static time_t fake_clock(void)
{
    return fake_now;
}

static creds_provider *provider(fake_http *f, const char *const *vars,
                                const char *ak, const char *sk, int real_clock)
{
    creds_options o;
    char err[256];

    memset(&o, 0, sizeof(o));
    fake_env_table = vars;
    o.access_key = ak;
    o.secret_key = sk;
    o.region = "us-east-1";
    o.getenv = fake_getenv;
    o.http = fake_http_fn;
    o.http_arg = f;
    o.clock = real_clock ? NULL : fake_clock;
    o.quiet = 1;
    return creds_provider_new(&o, err, sizeof(err));
}

static void json_creds(char *out, size_t len, const char *ak, time_t exp)
{
    char when[32];
    struct tm tm;

    gmtime_r(&exp, &tm);
    strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
    snprintf(out, len,
             "{\"AccessKeyId\":\"%s\",\"SecretAccessKey\":\"s-%s\","
             "\"Token\":\"t-%s\",\"Expiration\":\"%s\"}",
             ak, ak, ak, when);
}

static void refresh_at_is_ahead_by_five_minutes_or_half(void)
{
    static const struct {
        long long lifetime; /* 0: static */
        long long want;     /* seconds after obtaining; 0: never */
    } t[] = {
        {0, 0},   {3600, 3300}, {21600, 21300}, {900, 600}, {600, 300},
        {40, 20}, {20, 10},     {3, 2},         {1, 1},     {0, 0},
    };

    for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
        time_t exp = t[i].lifetime ? NOW + t[i].lifetime : 0;
        time_t at = creds_refresh_at(NOW, exp);
        ASSERT_EQ(at ? at - NOW : 0, t[i].want);
    }
}

static void usable_stops_short_of_expiry(void)
{
    creds *c = creds_new("a", "s", NULL, NOW + 60);

    ASSERT_EQ(creds_usable(c, NOW), 1);
    ASSERT_EQ(creds_usable(c, NOW + 60 - CREDS_EXPIRY_SKEW_S - 1), 1);
    ASSERT_EQ(creds_usable(c, NOW + 60 - CREDS_EXPIRY_SKEW_S), 0);
    ASSERT_EQ(creds_usable(c, NOW + 61), 0);
    ASSERT_EQ(creds_usable(NULL, NOW), 0);
    creds_release(c);
    c = creds_new("a", "s", "", 0);
    ASSERT_EQ(creds_usable(c, NOW + 100000000), 1);
    ASSERT_STR_EQ(c->session_token, "");
    creds_release(c);
    ASSERT(creds_new("", "s", NULL, 0) == NULL);
    ASSERT(creds_new("a", NULL, NULL, 0) == NULL);
    creds_release(NULL);
}

/* Every source configured at once: the first in the chain wins. */
static void chain_takes_the_first_source_that_yields(void)
{
    static const char *const names[] = {"settings", "web-identity", "profile",
                                        "container", "imds"};
    const char *vars[] = {"AWS_WEB_IDENTITY_TOKEN_FILE",
                          "/nonexistent/token",
                          "AWS_ROLE_ARN",
                          "arn:r",
                          "AWS_CONTAINER_CREDENTIALS_FULL_URI",
                          "http://127.0.0.1:9/c",
                          "AWS_SHARED_CREDENTIALS_FILE",
                          "/nonexistent/credentials",
                          "AWS_CONFIG_FILE",
                          "/nonexistent/config",
                          NULL};
    char body[512], err[1024];
    creds_status st;

    json_creds(body, sizeof(body), "ASIA", NOW + 3600);
    for (int with_keys = 1; with_keys >= 0; with_keys--) {
        fake_http f;
        creds_provider *p;

        fake_http_init(&f);
        fake_http_add(&f, "GET", "127.0.0.1:9/c", 200, body);
        p = provider(&f, vars, with_keys ? "AKIA" : "", "sk", 0);
        ASSERT_EQ(creds_provider_resolve(p, err, sizeof(err)), 0);
        creds_provider_status(p, &st);
        ASSERT_STR_EQ(creds_source_name(st.source), names[with_keys ? 0 : 3]);
        ASSERT_STR_EQ(st.access_key, with_keys ? "AKIA" : "ASIA");
        ASSERT_EQ(st.ok, 1);
        /* Without keys, web identity (its token file is missing) fails
         * and the chain goes on to the container endpoint. */
        ASSERT_EQ(f.n_seen, with_keys ? 0 : 1);
        creds_provider_free(p);
    }
}

static void chain_lists_every_reason_when_none_yields(void)
{
    const char *vars[] = {"AWS_WEB_IDENTITY_TOKEN_FILE",
                          "/nonexistent/t",
                          "AWS_ROLE_ARN",
                          "arn:r",
                          "AWS_SHARED_CREDENTIALS_FILE",
                          "/nonexistent/c",
                          "AWS_CONFIG_FILE",
                          "/nonexistent/f",
                          NULL};
    fake_http f;
    creds_provider *p;
    char err[1024], why[1024];
    creds_status st;

    fake_http_init(&f);
    p = provider(&f, vars, NULL, NULL, 0);
    ASSERT_EQ(creds_provider_resolve(p, err, sizeof(err)), -1);
    ASSERT_STR_EQ(err,
                  "web-identity: web identity token: cannot read "
                  "\"/nonexistent/t\": No such file or directory; imds: PUT "
                  "http://169.254.169.254/latest/api/token: Connection timed "
                  "out");
    ASSERT(creds_acquire(p) == NULL);
    creds_provider_status(p, &st);
    ASSERT_EQ(st.ok, 0);
    ASSERT_EQ(st.source, CREDS_SRC_NONE);
    ASSERT_EQ(st.failures, 1);
    ASSERT_EQ(st.next_refresh, NOW + 1);
    creds_provider_why(p, why, sizeof(why));
    ASSERT(strncmp(why, "no credentials: web-identity: ", 30) == 0);
    creds_provider_free(p);
}

static void snapshot_outlives_a_swap(void)
{
    const char *vars[] = {"AWS_CONTAINER_CREDENTIALS_FULL_URI",
                          "http://127.0.0.1:9/c", NULL};
    char b1[512], b2[512], err[512];
    fake_http f;
    creds_provider *p;
    creds *old, *now;

    json_creds(b1, sizeof(b1), "ASIA1", NOW + 3600);
    json_creds(b2, sizeof(b2), "ASIA2", NOW + 7200);
    fake_http_init(&f);
    fake_http_add(&f, "GET", "/c", 200, b1);
    fake_http_add(&f, "GET", "/c", 200, b2);
    p = provider(&f, vars, NULL, NULL, 0);
    ASSERT_EQ(creds_provider_resolve(p, err, sizeof(err)), 0);
    old = creds_acquire(p);
    ASSERT_STR_EQ(old->access_key, "ASIA1");
    ASSERT_EQ(creds_provider_resolve(p, err, sizeof(err)), 0); /* reload */
    now = creds_acquire(p);
    ASSERT_STR_EQ(now->access_key, "ASIA2");
    /* The signer holding the old snapshot still reads whole keys. */
    ASSERT_STR_EQ(old->secret_key, "s-ASIA1");
    ASSERT_STR_EQ(old->session_token, "t-ASIA1");
    creds_release(old);
    creds_release(now);
    creds_provider_free(p);
}

static void expired_credentials_are_not_handed_out(void)
{
    const char *vars[] = {"AWS_CONTAINER_CREDENTIALS_FULL_URI",
                          "http://127.0.0.1:9/c", NULL};
    char body[512], err[512], why[512];
    fake_http f;
    creds_provider *p;
    creds_status st;
    creds *c;

    fake_now = NOW;
    json_creds(body, sizeof(body), "ASIA1", NOW + 100);
    fake_http_init(&f);
    fake_http_add(&f, "GET", "/c", 200, body);
    p = provider(&f, vars, NULL, NULL, 0);
    ASSERT_EQ(creds_provider_resolve(p, err, sizeof(err)), 0);
    creds_provider_status(p, &st);
    ASSERT_EQ(st.expiration, NOW + 100);
    ASSERT_EQ(st.next_refresh, NOW + 50);
    fake_now = NOW + 100 - CREDS_EXPIRY_SKEW_S;
    c = creds_acquire(p);
    ASSERT(c == NULL);
    creds_provider_status(p, &st);
    ASSERT_EQ(st.ok, 0);
    ASSERT_EQ(st.source, CREDS_SRC_CONTAINER);
    creds_provider_why(p, why, sizeof(why));
    ASSERT(strstr(why, "those from container expired 2026-12-07T10:01:40Z") !=
           NULL);
    fake_now = NOW;
    creds_provider_free(p);
}

/* The whole thread, on the real clock: credentials that live 4 s are
 * renewed after 2 s; a failed renewal is retried while they are valid,
 * and the provider recovers when the endpoint answers again. */
static void refresher_renews_and_retries(void)
{
    const char *vars[] = {"AWS_CONTAINER_CREDENTIALS_FULL_URI",
                          "http://127.0.0.1:9/c", NULL};
    char b1[512], b2[512], err[512];
    fake_http f;
    creds_provider *p;
    creds_status st;
    time_t t0 = time(NULL);

    json_creds(b1, sizeof(b1), "ASIA1", t0 + 4);
    json_creds(b2, sizeof(b2), "ASIA2", t0 + 3600);
    fake_http_init(&f);
    fake_http_add(&f, "GET", "/c", 200, b1);
    fake_http_add(&f, "GET", "/c", 500, "busy"); /* the first refresh */
    fake_http_add(&f, "GET", "/c", 200, b2);
    p = provider(&f, vars, NULL, NULL, 1);
    ASSERT_EQ(creds_provider_resolve(p, err, sizeof(err)), 0);
    ASSERT_EQ(creds_provider_start(p, err, sizeof(err)), 0);
    /* Wait on the provider's state, with a deadline. */
    for (int i = 0; i < 200; i++) {
        creds_provider_status(p, &st);
        if (st.refreshes >= 1)
            break;
        usleep(50 * 1000); /* poll interval */
    }
    creds_provider_status(p, &st);
    ASSERT_EQ(st.refreshes, 1);
    ASSERT_EQ(st.failures, 1);
    ASSERT_STR_EQ(st.access_key, "ASIA2");
    ASSERT_EQ(st.ok, 1);
    ASSERT_STR_EQ(st.last_error, "");
    ASSERT_EQ(f.n_seen, 3);
    creds_provider_free(p);
}

TEST_MAIN(T(refresh_at_is_ahead_by_five_minutes_or_half),
          T(usable_stops_short_of_expiry),
          T(chain_takes_the_first_source_that_yields),
          T(chain_lists_every_reason_when_none_yields),
          T(snapshot_outlives_a_swap),
          T(expired_credentials_are_not_handed_out),
          T(refresher_renews_and_retries))
