/* credsrc.c -- the sources of the AWS credential chain, one fetch each:
 * explicit settings, web identity (STS AssumeRoleWithWebIdentity), the
 * shared profile files, the container endpoint and IMDSv2. The parsers of
 * their answers are in credsrc_parse.c. Network through creds_http_fn
 * only. */
#include "credsrc.h"
#include "credsrc_int.h"

#include <ctype.h>
#include <errno.h>
#include <jansson.h>
#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "log.h"
#include "sigv4.h"
#include "xml.h"

#define URL_MAX 2048
#define KEY_MAX CREDSRC_KEY_MAX
#define SECRET_MAX CREDSRC_SECRET_MAX
#define TOKEN_MAX CREDSRC_TOKEN_MAX
#define NAME_MAX_ 256 /* a profile, role or session name */
#define ARN_MAX 2048
#define PROFILE_DEPTH 5 /* source_profile chains followed at most */
#define STS_VERSION "2011-06-15"

static int empty(const char *s)
{
    return !s || !*s;
}

const char *credsrc_env_get(const credsrc_env *e, const char *name)
{
    const char *v = e->getenv(name);

    return empty(v) ? NULL : v;
}

/* The host of an http(s) URL, lower-cased, brackets kept for IPv6. */
static int url_host(const char *url, char *host, size_t hostlen)
{
    const char *a = strstr(url, "://");
    size_t n;

    if (!a)
        return -1;
    a += 3;
    if (*a == '[') {
        const char *e = strchr(a, ']');
        if (!e)
            return -1;
        n = (size_t)(e - a) + 1;
    } else {
        n = strcspn(a, ":/?#");
    }
    if (n == 0 || n >= hostlen || memchr(a, '@', strcspn(a, "/?#")))
        return -1;
    for (size_t i = 0; i < n; i++)
        host[i] = (char)tolower((unsigned char)a[i]);
    host[n] = '\0';
    return 0;
}

int credsrc_container_url_allowed(const char *url)
{
    static const char *const hosts[] = {"localhost", "[::1]", "169.254.170.2",
                                        "169.254.170.23", "[fd00:ec2::23]"};
    char host[256];

    if (!url || url_host(url, host, sizeof(host)) != 0)
        return 0;
    if (strncasecmp(url, "https://", 8) == 0)
        return 1;
    if (strncasecmp(url, "http://", 7) != 0)
        return 0;
    if (strncmp(host, "127.", 4) == 0)
        return 1;
    for (size_t i = 0; i < sizeof(hosts) / sizeof(hosts[0]); i++) {
        if (strcmp(host, hosts[i]) == 0)
            return 1;
    }
    return 0;
}

/* --- helpers of the fetches -------------------------------------------- */

/* A file's contents, trailing line ends stripped: a token or a profile
 * file. Heap string, or NULL with a reason naming the file. */
char *credsrc_read_text(const char *path, char *errbuf, size_t errlen)
{
    FILE *f = fopen(path, "rb");
    char *buf = NULL;
    size_t n;

    if (!f) {
        errbuf_set(errbuf, errlen, "cannot read \"%s\": %s", path,
                   strerror(errno));
        return NULL;
    }
    buf = malloc(CREDSRC_FILE_MAX + 1);
    n = buf ? fread(buf, 1, CREDSRC_FILE_MAX + 1, f) : 0;
    if (!buf || ferror(f) || n > CREDSRC_FILE_MAX || memchr(buf, 0, n)) {
        errbuf_set(errbuf, errlen,
                   "cannot read \"%s\" (over %d bytes, or "
                   "binary)",
                   path, CREDSRC_FILE_MAX);
        free(buf);
        fclose(f);
        return NULL;
    }
    fclose(f);
    while (n && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
        n--;
    buf[n] = '\0';
    return buf;
}

void credsrc_free_secret(char *s)
{
    if (s)
        OPENSSL_cleanse(s, strlen(s));
    free(s);
}

/* One exchange: errbuf says why there was none. */
int credsrc_ask(const credsrc_env *e, creds_http_request *req,
                creds_http_response *resp, char *errbuf, size_t errlen)
{
    memset(resp, 0, sizeof(*resp));
    if (e->http(e->http_arg, req, resp, errbuf, errlen) != 0) {
        free(resp->body);
        memset(resp, 0, sizeof(*resp));
        return -1;
    }
    return 0;
}

void credsrc_response_free(creds_http_response *r)
{
    if (r->body)
        OPENSSL_cleanse(r->body, r->len);
    free(r->body);
    memset(r, 0, sizeof(*r));
}

/* Sends an STS request whose method, URL and headers are set, with body,
 * and reads the credentials of its answer (resp is the caller's to free).
 * Returns 0, or -1 with "STS url: ..." or "action role: ..." in errbuf. */
static int sts_exchange(const credsrc_env *e, creds_http_request *req,
                        const char *body, creds_http_response *resp,
                        const char *action, const char *role_arn, creds **out,
                        char *errbuf, size_t errlen)
{
    char why[512];

    req->body = body;
    req->body_len = strlen(body);
    req->connect_timeout_ms = CREDSRC_STS_CONNECT_MS;
    req->timeout_ms = CREDSRC_STS_TIMEOUT_MS;
    if (credsrc_ask(e, req, resp, why, sizeof(why)) != 0) {
        errbuf_set(errbuf, errlen, "STS %s: %s", req->url, why);
        return -1;
    }
    if (credsrc_parse_sts(resp->status, resp->body, resp->len, out, why,
                          sizeof(why)) != 0) {
        errbuf_set(errbuf, errlen, "%s %s: %s", action, role_arn, why);
        return -1;
    }
    return 0;
}

/* A form body "k=v&k=v", values percent-encoded. NULL values are left
 * out. Heap string or NULL. */
static char *form(const char *const *kv, size_t n)
{
    size_t cap = 1, o = 0;
    char *out;

    for (size_t i = 0; i < n; i += 2)
        cap += kv[i + 1] ? strlen(kv[i]) + 2 + 3 * strlen(kv[i + 1]) : 0;
    out = malloc(cap);
    if (!out)
        return NULL;
    out[0] = '\0';
    for (size_t i = 0; i < n; i += 2) {
        char *v;
        if (!kv[i + 1])
            continue;
        v = sigv4_uri_encode(kv[i + 1], strlen(kv[i + 1]), 0);
        if (!v) {
            credsrc_free_secret(out);
            return NULL;
        }
        o += (size_t)snprintf(out + o, cap - o, "%s%s=%s", o ? "&" : "", kv[i],
                              v);
        credsrc_free_secret(v);
    }
    return out;
}

/* The session name the SDKs would make when none is given. */
static void session_name(const credsrc_env *e, const char *given, char *out,
                         size_t outlen)
{
    if (!empty(given))
        snprintf(out, outlen, "%s", given);
    else
        snprintf(out, outlen, "millrace-%lld", (long long)e->now);
}

/* --- source: explicit settings ------------------------------------------ */

static credsrc_result from_settings(const credsrc_env *e, creds **out,
                                    char *detail, size_t dlen, char *errbuf,
                                    size_t errlen)
{
    if (empty(e->access_key) && empty(e->secret_key))
        return CREDSRC_SKIP;
    if (empty(e->access_key) || empty(e->secret_key)) {
        errbuf_set(errbuf, errlen,
                   "s3.access_key and s3.secret_key must be "
                   "set together");
        return CREDSRC_FAIL;
    }
    *out = creds_new(e->access_key, e->secret_key, e->session_token, 0);
    if (!*out) {
        errbuf_set(errbuf, errlen, "out of memory");
        return CREDSRC_FAIL;
    }
    errbuf_set(detail, dlen, "s3.access_key and s3.secret_key%s",
               empty(e->session_token) ? "" : " with s3.session_token");
    return CREDSRC_OK;
}

/* --- STS ---------------------------------------------------------------- */

/* AssumeRoleWithWebIdentity: unsigned, the token is the proof. */
static int sts_web_identity(const credsrc_env *e, const char *role_arn,
                            const char *token_file, const char *session,
                            creds **out, char *errbuf, size_t errlen)
{
    char url[URL_MAX];
    char *token = NULL, *body = NULL;
    creds_http_request req = {0};
    creds_http_response resp = {0};
    char why[384];
    int rc = -1;

    token = credsrc_read_text(token_file, why, sizeof(why));
    if (!token || !*token) {
        errbuf_set(errbuf, errlen, "web identity token: %s",
                   token ? "the file is empty" : why);
        goto fail;
    }
    const char *kv[] = {"Action",           "AssumeRoleWithWebIdentity",
                        "Version",          STS_VERSION,
                        "RoleArn",          role_arn,
                        "RoleSessionName",  session,
                        "WebIdentityToken", token};
    body = form(kv, sizeof(kv) / sizeof(kv[0]));
    if (!body) {
        errbuf_set(errbuf, errlen, "out of memory");
        goto fail;
    }
    credsrc_sts_endpoint(e->getenv, e->region, url, sizeof(url) - 1);
    strcat(url, "/");
    req.method = "POST";
    req.url = url;
    req.headers[req.n_headers++] =
        "Content-Type: application/x-www-form-urlencoded; charset=utf-8";
    req.headers[req.n_headers++] = "Accept: application/xml";
    if (sts_exchange(e, &req, body, &resp, "AssumeRoleWithWebIdentity",
                     role_arn, out, errbuf, errlen) != 0)
        goto fail;
    rc = 0;
fail:
    credsrc_free_secret(token);
    credsrc_free_secret(body);
    credsrc_response_free(&resp);
    return rc;
}

/* AssumeRole, signed with SigV4 by the source credentials. */
static int sts_assume_role(const credsrc_env *e, const creds *src,
                           const char *role_arn, const char *session,
                           const char *external_id, creds **out, char *errbuf,
                           size_t errlen)
{
    char url[URL_MAX], host[512], sha[65];
    char why[384];
    char *body = NULL;
    const char *auth;
    creds_http_request req = {0};
    creds_http_response resp = {0};
    sigv4_result sig = {0};
    char *lines[SIGV4_MAX_ADDED + 1] = {0};
    size_t nl = 0;
    int rc = -1;
    const char *kv[] = {
        "Action", "AssumeRole",      "Version", STS_VERSION,  "RoleArn",
        role_arn, "RoleSessionName", session,   "ExternalId", external_id};
    const char *region = empty(e->region) ? "us-east-1" : e->region;

    body = form(kv, sizeof(kv) / sizeof(kv[0]));
    credsrc_sts_endpoint(e->getenv, e->region, url, sizeof(url) - 1);
    /* Host as sent: the authority, port included. */
    if (!body || url_host(url, host, sizeof(host)) != 0 ||
        sigv4_sha256_hex(body, strlen(body), sha) != 0) {
        errbuf_set(errbuf, errlen,
                   "AssumeRole: cannot build the request to "
                   "%s",
                   url);
        goto fail;
    }
    snprintf(host, sizeof(host), "%.*s",
             (int)strcspn(strstr(url, "://") + 3, "/?#"),
             strstr(url, "://") + 3);
    strcat(url, "/");
    sigv4_header h[] = {
        {"Host", host},
        {"Content-Type", "application/x-www-form-urlencoded; charset=utf-8"}};
    sigv4_request sreq = {"POST", "/", NULL, h, 2, sha, 0, 0};
    sigv4_creds sc = {src->access_key, src->secret_key, src->session_token,
                      region, "sts"};
    if (sigv4_sign_header(&sreq, &sc, e->now, &sig, why, sizeof(why)) != 0) {
        errbuf_set(errbuf, errlen, "AssumeRole: signing: %s", why);
        goto fail;
    }
    req.method = "POST";
    req.url = url;
    req.headers[req.n_headers++] =
        "Content-Type: application/x-www-form-urlencoded; charset=utf-8";
    for (size_t i = 0; i < sig.n_added; i++) {
        size_t n = strlen(sig.add[i].name) + strlen(sig.add[i].value) + 3;
        lines[nl] = malloc(n);
        if (!lines[nl])
            goto oom;
        snprintf(lines[nl], n, "%s: %s", sig.add[i].name, sig.add[i].value);
        req.headers[req.n_headers++] = lines[nl++];
    }
    auth = sig.authorization;
    lines[nl] = malloc(strlen(auth) + 16);
    if (!lines[nl])
        goto oom;
    sprintf(lines[nl], "Authorization: %s", auth);
    req.headers[req.n_headers++] = lines[nl++];
    if (sts_exchange(e, &req, body, &resp, "AssumeRole", role_arn, out, errbuf,
                     errlen) != 0)
        goto fail;
    rc = 0;
    goto fail;
oom:
    errbuf_set(errbuf, errlen, "out of memory");
fail:
    for (size_t i = 0; i < nl; i++)
        credsrc_free_secret(lines[i]);
    sigv4_result_free(&sig);
    credsrc_free_secret(body);
    credsrc_response_free(&resp);
    return rc;
}

/* --- source: web identity from the environment -------------------------- */

static credsrc_result from_web_identity(const credsrc_env *e, creds **out,
                                        char *detail, size_t dlen, char *errbuf,
                                        size_t errlen)
{
    const char *file = credsrc_env_get(e, "AWS_WEB_IDENTITY_TOKEN_FILE");
    const char *role = credsrc_env_get(e, "AWS_ROLE_ARN");
    char session[NAME_MAX_];

    if (!file && !role)
        return CREDSRC_SKIP;
    if (!file || !role) {
        errbuf_set(errbuf, errlen, "%s is set without %s",
                   file ? "AWS_WEB_IDENTITY_TOKEN_FILE" : "AWS_ROLE_ARN",
                   file ? "AWS_ROLE_ARN" : "AWS_WEB_IDENTITY_TOKEN_FILE");
        return CREDSRC_FAIL;
    }
    session_name(e, credsrc_env_get(e, "AWS_ROLE_SESSION_NAME"), session,
                 sizeof(session));
    if (sts_web_identity(e, role, file, session, out, errbuf, errlen) != 0)
        return CREDSRC_FAIL;
    errbuf_set(detail, dlen, "role %s, session %s, token file %s", role,
               session, file);
    return CREDSRC_OK;
}

/* --- source: the shared files ------------------------------------------- */

typedef struct profile_files {
    char cred_path[1024];
    char conf_path[1024];
    char *cred; /* contents, NULL when absent */
    char *conf;
} profile_files;

static void files_path(const credsrc_env *e, const char *var, const char *def,
                       char *out, size_t outlen)
{
    const char *v = credsrc_env_get(e, var);
    const char *home = credsrc_env_get(e, "HOME");

    if (v && v[0] == '~' && v[1] == '/' && home)
        snprintf(out, outlen, "%s%s", home, v + 1);
    else if (v)
        snprintf(out, outlen, "%s", v);
    else
        snprintf(out, outlen, "%s/.aws/%s", home ? home : "", def);
}

static void files_load(const credsrc_env *e, profile_files *f)
{
    char ignored[256];

    memset(f, 0, sizeof(*f));
    files_path(e, "AWS_SHARED_CREDENTIALS_FILE", "credentials", f->cred_path,
               sizeof(f->cred_path));
    files_path(e, "AWS_CONFIG_FILE", "config", f->conf_path,
               sizeof(f->conf_path));
    f->cred = credsrc_read_text(f->cred_path, ignored, sizeof(ignored));
    f->conf = credsrc_read_text(f->conf_path, ignored, sizeof(ignored));
}

static void files_free(profile_files *f)
{
    credsrc_free_secret(f->cred);
    credsrc_free_secret(f->conf);
    f->cred = f->conf = NULL;
}

/* The config file's section of a profile: "default" or "profile NAME". */
static void conf_section(const char *profile, char *out, size_t outlen)
{
    if (strcmp(profile, "default") == 0)
        snprintf(out, outlen, "default");
    else
        snprintf(out, outlen, "profile %s", profile);
}

/* A profile's key: the credentials file first, then the config file. */
static int profile_get(const profile_files *f, const char *profile,
                       const char *key, char *out, size_t outlen)
{
    char sect[NAME_MAX_ + 16];

    if (credsrc_ini_get(f->cred, profile, key, out, outlen))
        return 1;
    conf_section(profile, sect, sizeof(sect));
    if (credsrc_ini_get(f->conf, sect, key, out, outlen))
        return 1;
    return strcmp(profile, "default") == 0 &&
           credsrc_ini_get(f->conf, "profile default", key, out, outlen);
}

static int profile_exists(const profile_files *f, const char *profile)
{
    char sect[NAME_MAX_ + 16];

    conf_section(profile, sect, sizeof(sect));
    return credsrc_ini_has_section(f->cred, profile) ||
           credsrc_ini_has_section(f->conf, sect);
}

static const char *profile_name(const char *(*getenv_fn)(const char *))
{
    const char *p = getenv_fn("AWS_PROFILE");

    if (empty(p))
        p = getenv_fn("AWS_DEFAULT_PROFILE");
    return empty(p) ? "default" : p;
}

static credsrc_result fetch_profile(const credsrc_env *e,
                                    const profile_files *f, const char *profile,
                                    int depth, int static_only, creds **out,
                                    char *detail, size_t dlen, char *errbuf,
                                    size_t errlen);

/* The credentials a role profile starts from: credential_source or
 * source_profile. */
static credsrc_result role_base(const credsrc_env *e, const profile_files *f,
                                const char *profile, int depth, creds **base,
                                char *errbuf, size_t errlen)
{
    char src[NAME_MAX_], cs[64], ignored[256];
    credsrc_result r;
    creds_source s;

    if (profile_get(f, profile, "source_profile", src, sizeof(src))) {
        if (depth >= PROFILE_DEPTH) {
            errbuf_set(errbuf, errlen,
                       "profile %s: source_profile chain "
                       "longer than %d",
                       profile, PROFILE_DEPTH);
            return CREDSRC_FAIL;
        }
        /* A profile that names itself uses its own static keys. */
        r = fetch_profile(e, f, src, depth + 1, strcmp(src, profile) == 0, base,
                          ignored, sizeof(ignored), errbuf, errlen);
        if (r == CREDSRC_SKIP)
            errbuf_set(errbuf, errlen,
                       "profile %s: source_profile %s has no "
                       "credentials",
                       profile, src);
        return r == CREDSRC_OK ? CREDSRC_OK : CREDSRC_FAIL;
    }
    if (!profile_get(f, profile, "credential_source", cs, sizeof(cs))) {
        errbuf_set(errbuf, errlen,
                   "profile %s: role_arn without "
                   "source_profile, credential_source or "
                   "web_identity_token_file",
                   profile);
        return CREDSRC_FAIL;
    }
    if (strcmp(cs, "Environment") == 0)
        s = CREDS_SRC_SETTINGS;
    else if (strcmp(cs, "Ec2InstanceMetadata") == 0)
        s = CREDS_SRC_IMDS;
    else if (strcmp(cs, "EcsContainer") == 0)
        s = CREDS_SRC_CONTAINER;
    else {
        errbuf_set(errbuf, errlen,
                   "profile %s: unknown credential_source "
                   "\"%s\"",
                   profile, cs);
        return CREDSRC_FAIL;
    }
    r = credsrc_fetch(s, e, base, ignored, sizeof(ignored), errbuf, errlen);
    if (r == CREDSRC_SKIP)
        errbuf_set(errbuf, errlen,
                   "profile %s: credential_source %s is not "
                   "available",
                   profile, cs);
    return r == CREDSRC_OK ? CREDSRC_OK : CREDSRC_FAIL;
}

static credsrc_result profile_role(const credsrc_env *e, const profile_files *f,
                                   const char *profile, const char *role,
                                   int depth, creds **out, char *detail,
                                   size_t dlen, char *errbuf, size_t errlen)
{
    char given[NAME_MAX_], session[NAME_MAX_], file[1024], ext[NAME_MAX_];
    creds *base = NULL;
    int rc;

    profile_get(f, profile, "role_session_name", given, sizeof(given));
    session_name(e, given, session, sizeof(session));
    if (profile_get(f, profile, "web_identity_token_file", file,
                    sizeof(file))) {
        if (sts_web_identity(e, role, file, session, out, errbuf, errlen))
            return CREDSRC_FAIL;
        errbuf_set(detail, dlen,
                   "profile %s: role %s, session %s, token file "
                   "%s",
                   profile, role, session, file);
        return CREDSRC_OK;
    }
    if (role_base(e, f, profile, depth, &base, errbuf, errlen) != CREDSRC_OK)
        return CREDSRC_FAIL;
    if (!profile_get(f, profile, "external_id", ext, sizeof(ext)))
        ext[0] = '\0';
    rc = sts_assume_role(e, base, role, session, *ext ? ext : NULL, out, errbuf,
                         errlen);
    creds_release(base);
    if (rc != 0)
        return CREDSRC_FAIL;
    errbuf_set(detail, dlen, "profile %s: role %s, session %s (AssumeRole)",
               profile, role, session);
    return CREDSRC_OK;
}

static credsrc_result fetch_profile(const credsrc_env *e,
                                    const profile_files *f, const char *profile,
                                    int depth, int static_only, creds **out,
                                    char *detail, size_t dlen, char *errbuf,
                                    size_t errlen)
{
    char role[ARN_MAX], ak[KEY_MAX];
    char *sk = NULL, *tok = NULL;
    credsrc_result r = CREDSRC_FAIL;

    if (!static_only && profile_get(f, profile, "role_arn", role, sizeof(role)))
        return profile_role(e, f, profile, role, depth, out, detail, dlen,
                            errbuf, errlen);
    sk = calloc(1, SECRET_MAX);
    tok = calloc(1, TOKEN_MAX);
    if (!sk || !tok) {
        errbuf_set(errbuf, errlen, "out of memory");
        goto done;
    }
    if (!profile_get(f, profile, "aws_access_key_id", ak, sizeof(ak)) ||
        !profile_get(f, profile, "aws_secret_access_key", sk, SECRET_MAX)) {
        r = CREDSRC_SKIP;
        goto done;
    }
    profile_get(f, profile, "aws_session_token", tok, TOKEN_MAX);
    *out = creds_new(ak, sk, tok, 0);
    if (!*out) {
        errbuf_set(errbuf, errlen, "profile %s: empty key", profile);
        goto done;
    }
    errbuf_set(detail, dlen, "profile %s: static keys", profile);
    r = CREDSRC_OK;
done:
    if (sk)
        OPENSSL_cleanse(sk, SECRET_MAX);
    if (tok)
        OPENSSL_cleanse(tok, TOKEN_MAX);
    free(sk);
    free(tok);
    return r;
}

static credsrc_result from_profile(const credsrc_env *e, creds **out,
                                   char *detail, size_t dlen, char *errbuf,
                                   size_t errlen)
{
    profile_files f;
    const char *profile = profile_name(e->getenv);
    int named = !empty(e->getenv("AWS_PROFILE")) ||
                !empty(e->getenv("AWS_DEFAULT_PROFILE"));
    char where[256];
    credsrc_result r;

    files_load(e, &f);
    if (!profile_exists(&f, profile)) {
        r = named ? CREDSRC_FAIL : CREDSRC_SKIP;
        if (named)
            errbuf_set(errbuf, errlen, "profile %s is in neither %s nor %s",
                       profile, f.cred_path, f.conf_path);
        goto done;
    }
    r = fetch_profile(e, &f, profile, 0, 0, out, where, sizeof(where), errbuf,
                      errlen);
    if (r == CREDSRC_SKIP && named) {
        errbuf_set(errbuf, errlen, "profile %s has no credentials", profile);
        r = CREDSRC_FAIL;
    }
    if (r == CREDSRC_OK)
        errbuf_set(detail, dlen, "%s (%s, %s)", where, f.cred_path,
                   f.conf_path);
done:
    files_free(&f);
    return r;
}

int credsrc_profile_region(const char *(*getenv_fn)(const char *name),
                           char *out, size_t outlen)
{
    credsrc_env e = {0};
    profile_files f;
    int found;

    e.getenv = getenv_fn;
    files_load(&e, &f);
    found = profile_get(&f, profile_name(getenv_fn), "region", out, outlen) &&
            out[0];
    files_free(&f);
    return found;
}

credsrc_result credsrc_fetch(creds_source src, const credsrc_env *env,
                             creds **out, char *detail, size_t detaillen,
                             char *errbuf, size_t errlen)
{
    *out = NULL;
    if (detaillen)
        detail[0] = '\0';
    switch (src) {
    case CREDS_SRC_SETTINGS:
        return from_settings(env, out, detail, detaillen, errbuf, errlen);
    case CREDS_SRC_WEB_IDENTITY:
        return from_web_identity(env, out, detail, detaillen, errbuf, errlen);
    case CREDS_SRC_PROFILE:
        return from_profile(env, out, detail, detaillen, errbuf, errlen);
    case CREDS_SRC_CONTAINER:
        return credsrc_from_container(env, out, detail, detaillen, errbuf,
                                      errlen);
    case CREDS_SRC_IMDS:
        return credsrc_from_imds(env, out, detail, detaillen, errbuf, errlen);
    default:
        return CREDSRC_SKIP;
    }
}
