/* test_credsrc.c -- the sources of the AWS credential chain without a
 * network: what each asks (method, URL, headers, body) through a scripted
 * transport, how each reads its answer, and the parsers of times, INI
 * files, JSON and STS XML. */
#include "credsrc.h"
#include "fake_aws.h"
#include "test.h"

#include <ftw.h>
#include <strings.h>
#include <unistd.h>

#define NOW 1796637600 /* 2026-12-07T10:00:00Z */

static char tmpdir[64];

static int remove_one(const char *path, const struct stat *st, int flag,
                      struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

static void remove_tmpdir(void)
{
    nftw(tmpdir, remove_one, 8, FTW_DEPTH | FTW_PHYS);
}

/* A path in a directory of this run, removed at exit. */
static const char *tmp(const char *name)
{
    static char paths[8][128];
    static int next;
    char *p = paths[next++ % 8];

    if (!tmpdir[0]) {
        snprintf(tmpdir, sizeof(tmpdir), "/tmp/test_credsrc.XXXXXX");
        if (!mkdtemp(tmpdir))
            abort();
        atexit(remove_tmpdir);
    }
    snprintf(p, 128, "%s/%s", tmpdir, name);
    return p;
}

static credsrc_env env_with(fake_http *f, const char *const *vars)
{
    credsrc_env e;

    memset(&e, 0, sizeof(e));
    fake_env_table = vars;
    e.getenv = fake_getenv;
    e.http = fake_http_fn;
    e.http_arg = f;
    e.now = NOW;
    e.region = "eu-west-1";
    return e;
}

#define STS_OK(ak)                                                             \
    "<AssumeRoleWithWebIdentityResponse "                                      \
    "xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\">"                     \
    "<AssumeRoleWithWebIdentityResult><Credentials>"                           \
    "<SessionToken>FwoGZX&amp;token</SessionToken>"                            \
    "<SecretAccessKey>wJalr/secret</SecretAccessKey>"                          \
    "<Expiration>2026-12-07T11:00:00Z</Expiration>"                            \
    "<AccessKeyId>" ak "</AccessKeyId></Credentials>"                          \
    "</AssumeRoleWithWebIdentityResult></AssumeRoleWithWebIdentityResponse>"

#define JSON_OK(ak)                                                            \
    "{\"Code\":\"Success\",\"Type\":\"AWS-HMAC\",\"AccessKeyId\":\"" ak        \
    "\",\"SecretAccessKey\":\"sk\",\"Token\":\"tok\","                         \
    "\"Expiration\":\"2026-12-07T16:00:00Z\"}"

/* --- parsers ----------------------------------------------------------- */

static void parse_time_accepts_aws_forms(void)
{
    static const struct {
        const char *in;
        long long want; /* -1: refused */
    } t[] = {
        {"2026-12-07T10:00:00Z", NOW},
        {"2026-12-07T10:00:00.123Z", NOW},
        {"2026-12-07T10:00:00+00:00", NOW},
        {"2026-12-07 10:00:00Z", NOW},
        {"1970-01-01T00:00:00Z", 0},
        {"2026-12-07T10:00:00", -1},
        {"2026-12-07T10:00:00+01:00", -1},
        {"2026-13-07T10:00:00Z", -1},
        {"2026-12-07", -1},
        {"", -1},
        {"x026-12-07T10:00:00Z", -1},
    };

    for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
        time_t v = 0;
        int rc = credsrc_parse_time(t[i].in, &v);
        if (t[i].want < 0) {
            ASSERT_EQ(rc, -1);
        } else {
            ASSERT_EQ(rc, 0);
            ASSERT_EQ(v, t[i].want);
        }
    }
}

static void ini_reads_sections_and_keys(void)
{
    static const char text[] = "# comment\n"
                               "[default]\n"
                               "aws_access_key_id = AKDEF\n"
                               "region=eu-west-1\n"
                               "s3 =\n"
                               "  region = nested-ignored\n"
                               "; other comment\n"
                               "[profile dev]\r\n"
                               "  \n"
                               "region = us-west-2   \r\n"
                               "role_arn = arn:aws:iam::1:role/r\n"
                               "[ spaced ]\n"
                               "k = v = w\n";
    static const struct {
        const char *section, *key, *want; /* want NULL: absent */
    } t[] = {
        {"default", "aws_access_key_id", "AKDEF"},
        {"default", "region", "eu-west-1"},
        {"default", "s3", ""},
        {"profile dev", "region", "us-west-2"},
        {"profile dev", "role_arn", "arn:aws:iam::1:role/r"},
        {"profile dev", "aws_access_key_id", NULL},
        {"spaced", "k", "v = w"},
        {"dev", "region", NULL},
        {"missing", "region", NULL},
    };
    char out[64];

    for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
        int found =
            credsrc_ini_get(text, t[i].section, t[i].key, out, sizeof(out));
        ASSERT_EQ(found, t[i].want != NULL);
        if (t[i].want)
            ASSERT_STR_EQ(out, t[i].want);
    }
    ASSERT_EQ(credsrc_ini_has_section(text, "profile dev"), 1);
    ASSERT_EQ(credsrc_ini_has_section(text, "dev"), 0);
    ASSERT_EQ(credsrc_ini_has_section(NULL, "default"), 0);
}

static void json_reads_imds_and_container_answers(void)
{
    static const struct {
        const char *body;
        int ok;
        const char *token;
        long long exp;
        const char *why;
    } t[] = {
        {JSON_OK("ASIA1"), 1, "tok", NOW + 6 * 3600, NULL},
        {"{\"AccessKeyId\":\"a\",\"SecretAccessKey\":\"s\"}", 1, "", 0, NULL},
        {"{\"AccessKeyId\":\"a\",\"SecretAccessKey\":\"s\",\"Token\":\"\","
         "\"Expiration\":\"2026-12-07T10:00:00Z\"}",
         1, "", NOW, NULL},
        {"{\"Code\":\"AssumeRoleUnauthorizedAccess\",\"AccessKeyId\":\"a\","
         "\"SecretAccessKey\":\"s\"}",
         0, NULL, 0, "Code \"AssumeRoleUnauthorizedAccess\""},
        {"{\"AccessKeyId\":\"a\"}", 0, NULL, 0, "lacks"},
        {"{\"AccessKeyId\":\"\",\"SecretAccessKey\":\"s\"}", 0, NULL, 0,
         "lacks"},
        {"{\"AccessKeyId\":\"a\",\"SecretAccessKey\":\"s\",\"Expiration\":"
         "\"tomorrow\"}",
         0, NULL, 0, "not a time"},
        {"[1]", 0, NULL, 0, "not a JSON object"},
        {"<html>", 0, NULL, 0, "not a JSON object"},
    };

    for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
        creds *c = NULL;
        char why[256] = "";
        int rc = credsrc_parse_json(t[i].body, strlen(t[i].body), &c, why,
                                    sizeof(why));
        ASSERT_EQ(rc, t[i].ok ? 0 : -1);
        if (t[i].ok) {
            ASSERT_STR_EQ(c->session_token, t[i].token);
            ASSERT_EQ(c->expiration, t[i].exp);
        } else {
            ASSERT(c == NULL);
            ASSERT(strstr(why, t[i].why) != NULL);
        }
        creds_release(c);
    }
}

static void sts_reads_credentials_and_errors(void)
{
    static const struct {
        long status;
        const char *body;
        const char *want; /* access key, or a piece of the reason */
        int ok;
    } t[] = {
        {200, STS_OK("ASIAWEB"), "ASIAWEB", 1},
        {400,
         "<ErrorResponse><Error><Type>Sender</Type><Code>"
         "InvalidIdentityToken</Code><Message>No OpenIDConnect provider "
         "found</Message></Error></ErrorResponse>",
         "HTTP 400 InvalidIdentityToken: No OpenIDConnect provider found", 0},
        {403, "", "STS answered HTTP 403", 0},
        {200, "<AssumeRoleResponse></AssumeRoleResponse>", "no valid", 0},
        {200,
         "<Credentials><AccessKeyId>A</AccessKeyId><SecretAccessKey>S"
         "</SecretAccessKey><Expiration>soon</Expiration></Credentials>",
         "not a time", 0},
    };

    for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
        creds *c = NULL;
        char why[256] = "";
        int rc = credsrc_parse_sts(t[i].status, t[i].body, strlen(t[i].body),
                                   &c, why, sizeof(why));
        ASSERT_EQ(rc, t[i].ok ? 0 : -1);
        if (t[i].ok) {
            ASSERT_STR_EQ(c->access_key, t[i].want);
            ASSERT_STR_EQ(c->secret_key, "wJalr/secret");
            ASSERT_STR_EQ(c->session_token, "FwoGZX&token");
            ASSERT_EQ(c->expiration, NOW + 3600);
        } else {
            ASSERT(strstr(why, t[i].want) != NULL);
        }
        creds_release(c);
    }
}

static void sts_endpoint_follows_the_sdk_variables(void)
{
    static const struct {
        const char *vars[6];
        const char *region;
        const char *want;
    } t[] = {
        {{NULL}, "eu-west-1", "https://sts.eu-west-1.amazonaws.com"},
        {{NULL}, "", "https://sts.amazonaws.com"},
        {{"AWS_STS_REGIONAL_ENDPOINTS", "legacy", NULL},
         "eu-west-1",
         "https://sts.amazonaws.com"},
        {{"AWS_STS_REGIONAL_ENDPOINTS", "regional", NULL},
         "eu-west-1",
         "https://sts.eu-west-1.amazonaws.com"},
        {{"AWS_ENDPOINT_URL", "http://127.0.0.1:5000/", NULL},
         "eu-west-1",
         "http://127.0.0.1:5000"},
        {{"AWS_ENDPOINT_URL", "http://a:1", "AWS_ENDPOINT_URL_STS",
          "http://b:2//", NULL},
         "eu-west-1",
         "http://b:2"},
    };
    char out[256];

    for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
        fake_env_table = t[i].vars;
        credsrc_sts_endpoint(fake_getenv, t[i].region, out, sizeof(out));
        ASSERT_STR_EQ(out, t[i].want);
    }
}

static void container_full_uri_allows_only_local_http(void)
{
    static const struct {
        const char *url;
        int ok;
    } t[] = {
        {"http://127.0.0.1:8080/creds", 1},
        {"http://127.1.2.3/creds", 1},
        {"http://localhost/creds", 1},
        {"http://[::1]:80/creds", 1},
        {"http://169.254.170.2/v2/credentials/x", 1},
        {"http://169.254.170.23/v1/credentials", 1},
        {"http://[fd00:ec2::23]/v1/credentials", 1},
        {"https://creds.example.com/x", 1},
        {"http://creds.example.com/x", 0},
        {"http://169.254.169.254/latest", 0},
        {"http://127.0.0.1@evil.example.com/", 0},
        {"ftp://127.0.0.1/", 0},
        {"127.0.0.1/creds", 0},
    };

    for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
        if (credsrc_container_url_allowed(t[i].url) != t[i].ok)
            TEST_FAIL_("%s: want %d", t[i].url, t[i].ok);
    }
}

/* --- fetches ----------------------------------------------------------- */

static void settings_yield_static_keys(void)
{
    fake_http f;
    const char *vars[] = {NULL};
    credsrc_env e = env_with(&f, vars);
    creds *c = NULL;
    char detail[256], why[256];

    fake_http_init(&f);
    ASSERT_EQ(credsrc_fetch(CREDS_SRC_SETTINGS, &e, &c, detail, sizeof(detail),
                            why, sizeof(why)),
              CREDSRC_SKIP);
    e.access_key = "AKIA";
    ASSERT_EQ(credsrc_fetch(CREDS_SRC_SETTINGS, &e, &c, detail, sizeof(detail),
                            why, sizeof(why)),
              CREDSRC_FAIL);
    e.secret_key = "wJalrXUtn";
    e.session_token = "tok";
    ASSERT_EQ(credsrc_fetch(CREDS_SRC_SETTINGS, &e, &c, detail, sizeof(detail),
                            why, sizeof(why)),
              CREDSRC_OK);
    ASSERT_STR_EQ(c->access_key, "AKIA");
    ASSERT_STR_EQ(c->session_token, "tok");
    ASSERT_EQ(c->expiration, 0);
    ASSERT(strstr(detail, "wJalrXUtn") == NULL);
    ASSERT_EQ(f.n_seen, 0);
    creds_release(c);
}

static void web_identity_posts_the_token_file_unsigned(void)
{
    fake_http f;
    const char *token = tmp("token");
    const char *vars[] = {"AWS_WEB_IDENTITY_TOKEN_FILE",
                          token,
                          "AWS_ROLE_ARN",
                          "arn:aws:iam::123456789012:role/millrace",
                          "AWS_ROLE_SESSION_NAME",
                          "pod-1",
                          "AWS_ENDPOINT_URL_STS",
                          "http://127.0.0.1:5000",
                          NULL};
    credsrc_env e = env_with(&f, vars);
    creds *c = NULL;
    char detail[256], why[256], h[256];

    fake_http_init(&f);
    fake_http_add(&f, "POST", "127.0.0.1:5000", 200, STS_OK("ASIA1"));
    fake_http_add(&f, "POST", "127.0.0.1:5000", 200, STS_OK("ASIA2"));
    fake_write(token, "eyJhbGciOi.first+/=\n");
    ASSERT_EQ(credsrc_fetch(CREDS_SRC_WEB_IDENTITY, &e, &c, detail,
                            sizeof(detail), why, sizeof(why)),
              CREDSRC_OK);
    ASSERT_STR_EQ(c->access_key, "ASIA1");
    ASSERT_EQ(c->expiration, NOW + 3600);
    creds_release(c);
    ASSERT_STR_EQ(f.seen[0].url, "http://127.0.0.1:5000/");
    ASSERT_STR_EQ(f.seen[0].body,
                  "Action=AssumeRoleWithWebIdentity&Version=2011-06-15&"
                  "RoleArn=arn%3Aaws%3Aiam%3A%3A123456789012%3Arole%2F"
                  "millrace&RoleSessionName=pod-1&WebIdentityToken="
                  "eyJhbGciOi.first%2B%2F%3D");
    ASSERT_STR_EQ(fake_header(&f.seen[0], "Authorization", h, sizeof(h)), "");
    ASSERT(strstr(detail, "role arn:aws:iam::123456789012:role/millrace") !=
           NULL);
    /* The kubelet rotates the token: each fetch reads the file again. */
    fake_write(token, "second");
    ASSERT_EQ(credsrc_fetch(CREDS_SRC_WEB_IDENTITY, &e, &c, detail,
                            sizeof(detail), why, sizeof(why)),
              CREDSRC_OK);
    ASSERT_STR_EQ(c->access_key, "ASIA2");
    ASSERT(strstr(f.seen[1].body, "&WebIdentityToken=second") != NULL);
    creds_release(c);
}

static void web_identity_reports_what_is_wrong(void)
{
    static const struct {
        const char *vars[6];
        long status;
        const char *want;
    } t[] = {
        {{NULL}, 0, NULL},
        {{"AWS_ROLE_ARN", "arn:r", NULL},
         0,
         "AWS_ROLE_ARN is set without AWS_WEB_IDENTITY_TOKEN_FILE"},
        {{"AWS_ROLE_ARN", "arn:r", "AWS_WEB_IDENTITY_TOKEN_FILE",
          "/nonexistent/token", NULL},
         0,
         "cannot read \"/nonexistent/token\""},
        {{"AWS_ROLE_ARN", "arn:r", "AWS_WEB_IDENTITY_TOKEN_FILE", "TOKEN",
          NULL},
         400,
         "AssumeRoleWithWebIdentity arn:r: STS answered HTTP 400 "
         "InvalidIdentityToken: expired"},
        {{"AWS_ROLE_ARN", "arn:r", "AWS_WEB_IDENTITY_TOKEN_FILE", "TOKEN",
          NULL},
         -1,
         "STS https://sts.eu-west-1.amazonaws.com/: Connection refused"},
    };
    const char *token = tmp("token2");

    fake_write(token, "tok");
    for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
        const char *vars[6];
        fake_http f;
        creds *c = NULL;
        char detail[256], why[512] = "";

        memcpy(vars, t[i].vars, sizeof(vars));
        for (int k = 0; vars[k]; k += 2)
            if (strcmp(vars[k + 1], "TOKEN") == 0)
                vars[k + 1] = token;
        credsrc_env e = env_with(&f, vars);
        fake_http_init(&f);
        fake_http_add(&f, "POST", "sts.eu-west-1", t[i].status,
                      "<ErrorResponse><Error><Code>InvalidIdentityToken"
                      "</Code><Message>expired</Message></Error>"
                      "</ErrorResponse>");
        credsrc_result r = credsrc_fetch(CREDS_SRC_WEB_IDENTITY, &e, &c, detail,
                                         sizeof(detail), why, sizeof(why));
        ASSERT_EQ(r, t[i].want ? CREDSRC_FAIL : CREDSRC_SKIP);
        ASSERT(c == NULL);
        if (t[i].want && !strstr(why, t[i].want))
            TEST_FAIL_("case %zu: \"%s\" lacks \"%s\"", i, why, t[i].want);
    }
}

static void container_relative_uri_goes_to_the_ecs_agent(void)
{
    fake_http f;
    const char *vars[] = {"AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
                          "/v2/credentials/abc", NULL};
    credsrc_env e = env_with(&f, vars);
    creds *c = NULL;
    char detail[256], why[256], h[256];

    fake_http_init(&f);
    fake_http_add(&f, "GET", "/v2/credentials/abc", 200, JSON_OK("ASIAECS"));
    ASSERT_EQ(credsrc_fetch(CREDS_SRC_CONTAINER, &e, &c, detail, sizeof(detail),
                            why, sizeof(why)),
              CREDSRC_OK);
    ASSERT_STR_EQ(f.seen[0].url, "http://169.254.170.2/v2/credentials/abc");
    ASSERT_STR_EQ(fake_header(&f.seen[0], "Authorization", h, sizeof(h)), "");
    ASSERT_STR_EQ(c->access_key, "ASIAECS");
    ASSERT_STR_EQ(c->session_token, "tok");
    creds_release(c);
}

static void container_full_uri_sends_the_token_file(void)
{
    fake_http f;
    const char *tf = tmp("ctoken");
    const char *vars[] = {"AWS_CONTAINER_CREDENTIALS_FULL_URI",
                          "http://169.254.170.23/v1/credentials",
                          "AWS_CONTAINER_AUTHORIZATION_TOKEN",
                          "from-env",
                          "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE",
                          tf,
                          NULL};
    credsrc_env e = env_with(&f, vars);
    creds *c = NULL;
    char detail[256], why[256], h[256];

    fake_http_init(&f);
    fake_http_add(&f, "GET", "/v1/credentials", 200, JSON_OK("ASIA1"));
    fake_http_add(&f, "GET", "/v1/credentials", 401, "denied");
    fake_write(tf, "file-token-1\n");
    ASSERT_EQ(credsrc_fetch(CREDS_SRC_CONTAINER, &e, &c, detail, sizeof(detail),
                            why, sizeof(why)),
              CREDSRC_OK);
    creds_release(c);
    ASSERT_STR_EQ(fake_header(&f.seen[0], "Authorization", h, sizeof(h)),
                  "file-token-1");
    fake_write(tf, "file-token-2");
    ASSERT_EQ(credsrc_fetch(CREDS_SRC_CONTAINER, &e, &c, detail, sizeof(detail),
                            why, sizeof(why)),
              CREDSRC_FAIL);
    ASSERT_STR_EQ(fake_header(&f.seen[1], "Authorization", h, sizeof(h)),
                  "file-token-2");
    ASSERT_STR_EQ(why,
                  "http://169.254.170.23/v1/credentials answered HTTP 401");
}

static void container_refuses_a_remote_http_uri(void)
{
    fake_http f;
    const char *vars[] = {"AWS_CONTAINER_CREDENTIALS_FULL_URI",
                          "http://creds.example.com/x", NULL};
    credsrc_env e = env_with(&f, vars);
    creds *c = NULL;
    char detail[256], why[256];

    fake_http_init(&f);
    ASSERT_EQ(credsrc_fetch(CREDS_SRC_CONTAINER, &e, &c, detail, sizeof(detail),
                            why, sizeof(why)),
              CREDSRC_FAIL);
    ASSERT_EQ(f.n_seen, 0);
    ASSERT(strstr(why, "http only to loopback") != NULL);
}

static void imds_v2_takes_a_token_then_the_role(void)
{
    fake_http f;
    const char *vars[] = {"AWS_EC2_METADATA_SERVICE_ENDPOINT",
                          "http://127.0.0.1:1338/", NULL};
    credsrc_env e = env_with(&f, vars);
    creds *c = NULL;
    char detail[256], why[256], h[256];

    fake_http_init(&f);
    fake_http_add(&f, "PUT", "/latest/api/token", 200, "AQAEAtoken==");
    fake_http_add(&f, "GET", "/security-credentials/my-role", 200,
                  JSON_OK("ASIAIMDS"));
    fake_http_add(&f, "GET", "/security-credentials/", 200, "my-role\n");
    ASSERT_EQ(credsrc_fetch(CREDS_SRC_IMDS, &e, &c, detail, sizeof(detail), why,
                            sizeof(why)),
              CREDSRC_OK);
    ASSERT_EQ(f.n_seen, 3);
    ASSERT_STR_EQ(f.seen[0].method, "PUT");
    ASSERT_STR_EQ(f.seen[0].url, "http://127.0.0.1:1338/latest/api/token");
    ASSERT_STR_EQ(fake_header(&f.seen[0],
                              "X-aws-ec2-metadata-token-ttl-"
                              "seconds",
                              h, sizeof(h)),
                  "21600");
    ASSERT_STR_EQ(f.seen[1].url, "http://127.0.0.1:1338/latest/meta-data/iam/"
                                 "security-credentials/");
    ASSERT_STR_EQ(f.seen[2].url, "http://127.0.0.1:1338/latest/meta-data/iam/"
                                 "security-credentials/my-role");
    for (int i = 1; i < 3; i++)
        ASSERT_STR_EQ(
            fake_header(&f.seen[i], "X-aws-ec2-metadata-token", h, sizeof(h)),
            "AQAEAtoken==");
    ASSERT_STR_EQ(c->access_key, "ASIAIMDS");
    ASSERT_EQ(c->expiration, NOW + 6 * 3600);
    ASSERT_STR_EQ(detail, "instance role my-role at http://127.0.0.1:1338");
    creds_release(c);
}

static void imds_never_falls_back_to_v1(void)
{
    static const struct {
        long put_status; /* -1: no answer */
        const char *want;
    } t[] = {
        {-1, "PUT http://169.254.169.254/latest/api/token: Connection "
             "refused"},
        {403, "PUT http://169.254.169.254/latest/api/token: HTTP 403"},
        {405, "HTTP 405"},
    };

    for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
        fake_http f;
        const char *vars[] = {NULL};
        credsrc_env e = env_with(&f, vars);
        creds *c = NULL;
        char detail[256], why[256];

        fake_http_init(&f);
        fake_http_add(&f, "PUT", "/latest/api/token", t[i].put_status, "");
        fake_http_add(&f, "GET", "/", 200, "role");
        ASSERT_EQ(credsrc_fetch(CREDS_SRC_IMDS, &e, &c, detail, sizeof(detail),
                                why, sizeof(why)),
                  CREDSRC_FAIL);
        ASSERT_EQ(f.n_seen, 1);
        ASSERT(strstr(why, t[i].want) != NULL);
    }
}

static void imds_disabled_is_skipped(void)
{
    fake_http f;
    const char *vars[] = {"AWS_EC2_METADATA_DISABLED", "TRUE", NULL};
    credsrc_env e = env_with(&f, vars);
    creds *c = NULL;
    char detail[256], why[256];

    fake_http_init(&f);
    ASSERT_EQ(credsrc_fetch(CREDS_SRC_IMDS, &e, &c, detail, sizeof(detail), why,
                            sizeof(why)),
              CREDSRC_SKIP);
    ASSERT_EQ(f.n_seen, 0);
}

static void profile_static_keys_credentials_file_first(void)
{
    static const struct {
        const char *profile;
        const char *want;  /* access key; NULL: SKIP; "!": FAIL */
        const char *token; /* session token */
    } t[] = {
        {NULL, "AKCRED", ""},       {"dev", "AKDEVCONF", "devtok"},
        {"both", "AKBOTHCRED", ""}, {"nokeys", "!", NULL},
        {"absent", "!", NULL},
    };
    const char *cred = tmp("credentials");
    const char *conf = tmp("config");

    fake_write(cred, "[default]\naws_access_key_id = AKCRED\n"
                     "aws_secret_access_key = s1\n"
                     "[both]\naws_access_key_id=AKBOTHCRED\n"
                     "aws_secret_access_key=s2\n");
    fake_write(conf, "[default]\nregion = eu-central-1\n"
                     "aws_access_key_id = AKDEFCONF\n"
                     "[profile dev]\naws_access_key_id = AKDEVCONF\n"
                     "aws_secret_access_key = s3\naws_session_token = "
                     "devtok\nregion = ap-south-1\n"
                     "[profile both]\naws_access_key_id=AKBOTHCONF\n"
                     "aws_secret_access_key=s4\n"
                     "[profile nokeys]\nregion = x\n");
    for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
        fake_http f;
        const char *vars[] = {"AWS_SHARED_CREDENTIALS_FILE",
                              cred,
                              "AWS_CONFIG_FILE",
                              conf,
                              t[i].profile ? "AWS_PROFILE" : NULL,
                              t[i].profile,
                              NULL};
        credsrc_env e = env_with(&f, vars);
        creds *c = NULL;
        char detail[512], why[512];
        credsrc_result r;

        fake_http_init(&f);
        r = credsrc_fetch(CREDS_SRC_PROFILE, &e, &c, detail, sizeof(detail),
                          why, sizeof(why));
        if (strcmp(t[i].want, "!") == 0) {
            ASSERT_EQ(r, CREDSRC_FAIL);
            continue;
        }
        ASSERT_EQ(r, CREDSRC_OK);
        ASSERT_STR_EQ(c->access_key, t[i].want);
        ASSERT_STR_EQ(c->session_token, t[i].token);
        ASSERT(strstr(detail, "static keys") != NULL);
        creds_release(c);
    }
    {
        char region[32];
        const char *vars[] = {"AWS_CONFIG_FILE", conf, "AWS_PROFILE", "dev",
                              NULL};
        fake_env_table = vars;
        ASSERT_EQ(credsrc_profile_region(fake_getenv, region, sizeof(region)),
                  1);
        ASSERT_STR_EQ(region, "ap-south-1");
        vars[3] = "default";
        ASSERT_EQ(credsrc_profile_region(fake_getenv, region, sizeof(region)),
                  1);
        ASSERT_STR_EQ(region, "eu-central-1");
    }
}

static void profile_without_files_is_skipped(void)
{
    fake_http f;
    const char *vars[] = {"HOME", "/nonexistent", NULL};
    credsrc_env e = env_with(&f, vars);
    creds *c = NULL;
    char detail[256], why[256];

    fake_http_init(&f);
    ASSERT_EQ(credsrc_fetch(CREDS_SRC_PROFILE, &e, &c, detail, sizeof(detail),
                            why, sizeof(why)),
              CREDSRC_SKIP);
}

static void profile_role_arn_signs_assume_role_with_the_source(void)
{
    fake_http f;
    const char *conf = tmp("config-role");
    const char *vars[] = {"AWS_CONFIG_FILE",
                          conf,
                          "AWS_SHARED_CREDENTIALS_FILE",
                          "/nonexistent",
                          "AWS_PROFILE",
                          "app",
                          "AWS_ENDPOINT_URL_STS",
                          "http://127.0.0.1:5000",
                          NULL};
    credsrc_env e = env_with(&f, vars);
    creds *c = NULL;
    char detail[512], why[512], h[512];

    fake_write(conf, "[profile app]\nrole_arn = arn:aws:iam::1:role/app\n"
                     "source_profile = base\nrole_session_name = s1\n"
                     "external_id = ext\n"
                     "[profile base]\naws_access_key_id = AKBASE\n"
                     "aws_secret_access_key = basesecret\n");
    fake_http_init(&f);
    fake_http_add(&f, "POST", "127.0.0.1:5000", 200, STS_OK("ASIAROLE"));
    ASSERT_EQ(credsrc_fetch(CREDS_SRC_PROFILE, &e, &c, detail, sizeof(detail),
                            why, sizeof(why)),
              CREDSRC_OK);
    ASSERT_STR_EQ(c->access_key, "ASIAROLE");
    creds_release(c);
    ASSERT_STR_EQ(f.seen[0].body,
                  "Action=AssumeRole&Version=2011-06-15&RoleArn=arn%3Aaws%3A"
                  "iam%3A%3A1%3Arole%2Fapp&RoleSessionName=s1&ExternalId=ext");
    fake_header(&f.seen[0], "Authorization", h, sizeof(h));
#define AUTH_START                                                             \
    "AWS4-HMAC-SHA256 Credential=AKBASE/20261207/eu-west-1/sts/aws4_request, " \
    "SignedHeaders=content-type;host;x-amz-date, Signature="
    ASSERT(strncmp(h, AUTH_START, strlen(AUTH_START)) == 0);
    ASSERT_EQ(strlen(h), strlen(AUTH_START) + 64);
    ASSERT_STR_EQ(fake_header(&f.seen[0], "X-Amz-Date", h, sizeof(h)),
                  "20261207T100000Z");
    ASSERT(strstr(detail, "profile app: role arn:aws:iam::1:role/app") != NULL);
}

static void profile_web_identity_token_file(void)
{
    fake_http f;
    const char *conf = tmp("config-wi");
    const char *tok = tmp("token-wi");
    char text[512];
    const char *vars[] = {"AWS_CONFIG_FILE", conf,
                          "AWS_SHARED_CREDENTIALS_FILE", "/nonexistent", NULL};
    credsrc_env e = env_with(&f, vars);
    creds *c = NULL;
    char detail[512], why[512];

    snprintf(text, sizeof(text),
             "[default]\nrole_arn = arn:aws:iam::1:role/wi\n"
             "web_identity_token_file = %s\n",
             tok);
    fake_write(conf, text);
    fake_write(tok, "jwt");
    fake_http_init(&f);
    fake_http_add(&f, "POST", "sts.eu-west-1.amazonaws.com", 200,
                  STS_OK("ASIAWI"));
    ASSERT_EQ(credsrc_fetch(CREDS_SRC_PROFILE, &e, &c, detail, sizeof(detail),
                            why, sizeof(why)),
              CREDSRC_OK);
    ASSERT_STR_EQ(c->access_key, "ASIAWI");
    ASSERT(strstr(f.seen[0].body, "Action=AssumeRoleWithWebIdentity") != NULL);
    ASSERT(strstr(f.seen[0].body, "&WebIdentityToken=jwt") != NULL);
    creds_release(c);
}

static void profile_source_loop_is_refused(void)
{
    fake_http f;
    const char *conf = tmp("config-loop");
    const char *vars[] = {"AWS_CONFIG_FILE", conf,
                          "AWS_SHARED_CREDENTIALS_FILE", "/nonexistent", NULL};
    credsrc_env e = env_with(&f, vars);
    creds *c = NULL;
    char detail[512], why[512];

    fake_write(conf, "[default]\nrole_arn = arn:a\nsource_profile = b\n"
                     "[profile b]\nrole_arn = arn:b\nsource_profile = "
                     "default\n");
    fake_http_init(&f);
    ASSERT_EQ(credsrc_fetch(CREDS_SRC_PROFILE, &e, &c, detail, sizeof(detail),
                            why, sizeof(why)),
              CREDSRC_FAIL);
    ASSERT_EQ(f.n_seen, 0);
    ASSERT(strstr(why, "chain longer than") != NULL);
}

TEST_MAIN(T(parse_time_accepts_aws_forms), T(ini_reads_sections_and_keys),
          T(json_reads_imds_and_container_answers),
          T(sts_reads_credentials_and_errors),
          T(sts_endpoint_follows_the_sdk_variables),
          T(container_full_uri_allows_only_local_http),
          T(settings_yield_static_keys),
          T(web_identity_posts_the_token_file_unsigned),
          T(web_identity_reports_what_is_wrong),
          T(container_relative_uri_goes_to_the_ecs_agent),
          T(container_full_uri_sends_the_token_file),
          T(container_refuses_a_remote_http_uri),
          T(imds_v2_takes_a_token_then_the_role),
          T(imds_never_falls_back_to_v1), T(imds_disabled_is_skipped),
          T(profile_static_keys_credentials_file_first),
          T(profile_without_files_is_skipped),
          T(profile_role_arn_signs_assume_role_with_the_source),
          T(profile_web_identity_token_file), T(profile_source_loop_is_refused))
