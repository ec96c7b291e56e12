/* credsrc.c -- the sources of the AWS credential chain, one fetch each:
 * explicit settings, web identity (STS AssumeRoleWithWebIdentity), the
 * shared profile files, the container endpoint and IMDSv2; and the
 * parsers of their answers. Network through creds_http_fn only. */
#include "credsrc.h"

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
#define KEY_MAX 256     /* an access key id */
#define SECRET_MAX 256  /* a secret key */
#define TOKEN_MAX 16384 /* a session token (STS's can be long) */
#define NAME_MAX_ 256   /* a profile, role or session name */
#define ARN_MAX 2048
#define PROFILE_DEPTH 5 /* source_profile chains followed at most */
#define STS_VERSION "2011-06-15"

static int empty(const char *s)
{
    return !s || !*s;
}

static const char *env_get(const credsrc_env *e, const char *name)
{
    const char *v = e->getenv(name);

    return empty(v) ? NULL : v;
}

/* --- parsers ----------------------------------------------------------- */

static int digits(const char *s, int n, int *out)
{
    int v = 0;

    for (int i = 0; i < n; i++) {
        if (!isdigit((unsigned char)s[i]))
            return -1;
        v = v * 10 + (s[i] - '0');
    }
    *out = v;
    return 0;
}

int credsrc_parse_time(const char *s, time_t *out)
{
    struct tm tm;
    int y, mo, d, h, mi, sec;
    const char *p;

    if (!s || strlen(s) < 19 || s[4] != '-' || s[7] != '-' ||
        (s[10] != 'T' && s[10] != 't' && s[10] != ' ') || s[13] != ':' ||
        s[16] != ':')
        return -1;
    if (digits(s, 4, &y) || digits(s + 5, 2, &mo) || digits(s + 8, 2, &d) ||
        digits(s + 11, 2, &h) || digits(s + 14, 2, &mi) ||
        digits(s + 17, 2, &sec))
        return -1;
    p = s + 19;
    if (*p == '.') {
        p++;
        if (!isdigit((unsigned char)*p))
            return -1;
        while (isdigit((unsigned char)*p))
            p++;
    }
    if (strcmp(p, "Z") != 0 && strcmp(p, "z") != 0 && strcmp(p, "+00:00") != 0)
        return -1;
    if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || sec > 60)
        return -1;
    memset(&tm, 0, sizeof(tm));
    tm.tm_year = y - 1900;
    tm.tm_mon = mo - 1;
    tm.tm_mday = d;
    tm.tm_hour = h;
    tm.tm_min = mi;
    tm.tm_sec = sec;
    *out = timegm(&tm);
    return *out == (time_t)-1 ? -1 : 0;
}

/* A line of text without its end and surrounding blanks. */
typedef struct span {
    const char *s;
    size_t n;
} span;

static span trim(const char *s, size_t n)
{
    while (n && isspace((unsigned char)*s)) {
        s++;
        n--;
    }
    while (n && isspace((unsigned char)s[n - 1]))
        n--;
    return (span){s, n};
}

static int span_is(span a, const char *b)
{
    return a.n == strlen(b) && memcmp(a.s, b, a.n) == 0;
}

/* Calls fn for each "key = value" of [section]; stops when fn returns
 * nonzero. Returns 1 when the section exists. */
static int ini_walk(const char *text, const char *section,
                    int (*fn)(span key, span value, void *arg), void *arg)
{
    const char *p = text;
    int in = 0;
    int found = 0;

    while (p && *p) {
        const char *nl = strchr(p, '\n');
        size_t n = nl ? (size_t)(nl - p) : strlen(p);
        span line = trim(p, n);
        int indented = n > 0 && (p[0] == ' ' || p[0] == '\t');

        p = nl ? nl + 1 : NULL;
        if (line.n == 0 || line.s[0] == '#' || line.s[0] == ';')
            continue;
        if (line.s[0] == '[' && line.s[line.n - 1] == ']') {
            in = span_is(trim(line.s + 1, line.n - 2), section);
            found |= in;
            continue;
        }
        if (!in || indented)
            continue;
        const char *eq = memchr(line.s, '=', line.n);
        if (!eq)
            continue;
        span key = trim(line.s, (size_t)(eq - line.s));
        span value = trim(eq + 1, line.n - (size_t)(eq - line.s) - 1);
        if (fn && fn(key, value, arg))
            break;
    }
    return found;
}

typedef struct ini_find {
    const char *key;
    char *out;
    size_t outlen;
    int found;
} ini_find;

static int ini_match(span key, span value, void *arg)
{
    ini_find *f = arg;

    if (!span_is(key, f->key))
        return 0;
    if (value.n >= f->outlen)
        value.n = f->outlen - 1;
    memcpy(f->out, value.s, value.n);
    f->out[value.n] = '\0';
    f->found = 1;
    return 0; /* a later duplicate wins, as in the SDKs */
}

int credsrc_ini_get(const char *text, const char *section, const char *key,
                    char *out, size_t outlen)
{
    ini_find f = {key, out, outlen, 0};

    if (outlen == 0)
        return 0;
    out[0] = '\0';
    if (text)
        ini_walk(text, section, ini_match, &f);
    return f.found;
}

int credsrc_ini_has_section(const char *text, const char *section)
{
    return text ? ini_walk(text, section, NULL, NULL) : 0;
}

static int json_str(json_t *o, const char *name, const char **out)
{
    json_t *v = json_object_get(o, name);

    *out = json_is_string(v) ? json_string_value(v) : NULL;
    return *out ? 0 : -1;
}

int credsrc_parse_json(const char *body, size_t len, creds **out, char *errbuf,
                       size_t errlen)
{
    json_error_t jerr;
    json_t *root = NULL;
    const char *ak, *sk, *token = NULL, *exp = NULL, *code = NULL;
    time_t expiration = 0;
    int rc = -1;

    *out = NULL;
    root = body ? json_loadb(body, len, 0, &jerr) : NULL;
    if (!json_is_object(root)) {
        errbuf_set(errbuf, errlen, "answer is not a JSON object");
        goto fail;
    }
    if (json_str(root, "Code", &code) == 0 && strcmp(code, "Success") != 0) {
        errbuf_set(errbuf, errlen, "answer has Code \"%.64s\"", code);
        goto fail;
    }
    if (json_str(root, "AccessKeyId", &ak) ||
        json_str(root, "SecretAccessKey", &sk) || !*ak || !*sk) {
        errbuf_set(errbuf, errlen,
                   "answer lacks AccessKeyId or SecretAccessKey");
        goto fail;
    }
    json_str(root, "Token", &token);
    if (json_str(root, "Expiration", &exp) == 0 &&
        credsrc_parse_time(exp, &expiration) != 0) {
        errbuf_set(errbuf, errlen,
                   "answer's Expiration \"%.40s\" is not a "
                   "time",
                   exp);
        goto fail;
    }
    *out = creds_new(ak, sk, token, expiration);
    if (!*out) {
        errbuf_set(errbuf, errlen, "out of memory");
        goto fail;
    }
    rc = 0;
fail:
    json_decref(root);
    return rc;
}

int credsrc_parse_sts(long status, const char *body, size_t len, creds **out,
                      char *errbuf, size_t errlen)
{
    char *ak = malloc(KEY_MAX), *sk = malloc(SECRET_MAX), *tok = NULL;
    char exp[64], code[64], msg[256];
    const char *found;
    size_t flen;
    time_t expiration;
    int rc = -1;

    *out = NULL;
    tok = malloc(TOKEN_MAX);
    if (!ak || !sk || !tok) {
        errbuf_set(errbuf, errlen, "out of memory");
        goto fail;
    }
    if (status != 200) {
        xml_field(body, len, "Code", code, sizeof(code));
        xml_field(body, len, "Message", msg, sizeof(msg));
        errbuf_set(errbuf, errlen, "STS answered HTTP %ld%s%s%s%s", status,
                   *code ? " " : "", code, *msg ? ": " : "", msg);
        goto fail;
    }
    if (!body || !xml_find(body, len, "Credentials", &found, &flen) ||
        xml_value(body, len, "AccessKeyId", ak, KEY_MAX) != 0 ||
        xml_value(body, len, "SecretAccessKey", sk, SECRET_MAX) != 0 ||
        xml_value(body, len, "SessionToken", tok, TOKEN_MAX) < 0 ||
        xml_value(body, len, "Expiration", exp, sizeof(exp)) != 0 || !*ak ||
        !*sk) {
        errbuf_set(errbuf, errlen, "STS answer holds no valid Credentials");
        goto fail;
    }
    if (credsrc_parse_time(exp, &expiration) != 0) {
        errbuf_set(errbuf, errlen, "STS Expiration \"%s\" is not a time", exp);
        goto fail;
    }
    *out = creds_new(ak, sk, tok, expiration);
    if (!*out) {
        errbuf_set(errbuf, errlen, "out of memory");
        goto fail;
    }
    rc = 0;
fail:
    if (sk)
        OPENSSL_cleanse(sk, SECRET_MAX);
    if (tok)
        OPENSSL_cleanse(tok, TOKEN_MAX);
    free(ak);
    free(sk);
    free(tok);
    return rc;
}

void credsrc_sts_endpoint(const char *(*getenv_fn)(const char *name),
                          const char *region, char *out, size_t outlen)
{
    const char *v = getenv_fn("AWS_ENDPOINT_URL_STS");
    const char *mode = getenv_fn("AWS_STS_REGIONAL_ENDPOINTS");
    size_t n;

    if (empty(v))
        v = getenv_fn("AWS_ENDPOINT_URL");
    if (!empty(v))
        snprintf(out, outlen, "%s", v);
    else if (empty(region) || (mode && strcasecmp(mode, "legacy") == 0))
        snprintf(out, outlen, "https://sts.amazonaws.com");
    else
        snprintf(out, outlen, "https://sts.%s.amazonaws.com", region);
    n = strlen(out);
    while (n > 0 && out[n - 1] == '/')
        out[--n] = '\0';
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
static char *read_text(const char *path, char *errbuf, size_t errlen)
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

static void free_secret(char *s)
{
    if (s)
        OPENSSL_cleanse(s, strlen(s));
    free(s);
}

/* One exchange: errbuf says why there was none. */
static int ask(const credsrc_env *e, creds_http_request *req,
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

static void response_free(creds_http_response *r)
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
    if (ask(e, req, resp, why, sizeof(why)) != 0) {
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
            free_secret(out);
            return NULL;
        }
        o += (size_t)snprintf(out + o, cap - o, "%s%s=%s", o ? "&" : "", kv[i],
                              v);
        free_secret(v);
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

    token = read_text(token_file, why, sizeof(why));
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
    free_secret(token);
    free_secret(body);
    response_free(&resp);
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
        free_secret(lines[i]);
    sigv4_result_free(&sig);
    free_secret(body);
    response_free(&resp);
    return rc;
}

/* --- source: web identity from the environment -------------------------- */

static credsrc_result from_web_identity(const credsrc_env *e, creds **out,
                                        char *detail, size_t dlen, char *errbuf,
                                        size_t errlen)
{
    const char *file = env_get(e, "AWS_WEB_IDENTITY_TOKEN_FILE");
    const char *role = env_get(e, "AWS_ROLE_ARN");
    char session[NAME_MAX_];

    if (!file && !role)
        return CREDSRC_SKIP;
    if (!file || !role) {
        errbuf_set(errbuf, errlen, "%s is set without %s",
                   file ? "AWS_WEB_IDENTITY_TOKEN_FILE" : "AWS_ROLE_ARN",
                   file ? "AWS_ROLE_ARN" : "AWS_WEB_IDENTITY_TOKEN_FILE");
        return CREDSRC_FAIL;
    }
    session_name(e, env_get(e, "AWS_ROLE_SESSION_NAME"), session,
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
    const char *v = env_get(e, var);
    const char *home = env_get(e, "HOME");

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
    f->cred = read_text(f->cred_path, ignored, sizeof(ignored));
    f->conf = read_text(f->conf_path, ignored, sizeof(ignored));
}

static void files_free(profile_files *f)
{
    free_secret(f->cred);
    free_secret(f->conf);
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

/* --- source: the container endpoint ------------------------------------- */

/* Header values must not end the header early. */
static int header_safe(const char *v)
{
    return strpbrk(v, "\r\n") == NULL;
}

static credsrc_result from_container(const credsrc_env *e, creds **out,
                                     char *detail, size_t dlen, char *errbuf,
                                     size_t errlen)
{
    const char *rel = env_get(e, "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI");
    const char *full = env_get(e, "AWS_CONTAINER_CREDENTIALS_FULL_URI");
    const char *tfile = env_get(e, "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE");
    const char *tenv = env_get(e, "AWS_CONTAINER_AUTHORIZATION_TOKEN");
    char url[URL_MAX], why[384];
    char *token = NULL, *auth = NULL;
    creds_http_request req = {0};
    creds_http_response resp = {0};
    credsrc_result r = CREDSRC_FAIL;

    if (!rel && !full)
        return CREDSRC_SKIP;
    if (rel)
        snprintf(url, sizeof(url), "%s%s%s", CREDSRC_ECS_HOST,
                 rel[0] == '/' ? "" : "/", rel);
    else
        snprintf(url, sizeof(url), "%s", full);
    if (!rel && !credsrc_container_url_allowed(url)) {
        errbuf_set(errbuf, errlen,
                   "AWS_CONTAINER_CREDENTIALS_FULL_URI %s: "
                   "http only to loopback or the ECS/EKS "
                   "agent's address",
                   url);
        return CREDSRC_FAIL;
    }
    /* The token file is read on every fetch: the agent rotates it. */
    if (tfile) {
        token = read_text(tfile, why, sizeof(why));
        if (!token) {
            errbuf_set(errbuf, errlen, "authorization token: %s", why);
            goto done;
        }
    } else if (tenv) {
        token = strdup(tenv);
    }
    if (token &&
        (!header_safe(token) || !(auth = malloc(strlen(token) + 16)))) {
        errbuf_set(errbuf, errlen, "authorization token unusable");
        goto done;
    }
    req.method = "GET";
    req.url = url;
    req.headers[req.n_headers++] = "Accept: application/json";
    if (auth) {
        sprintf(auth, "Authorization: %s", token);
        req.headers[req.n_headers++] = auth;
    }
    req.connect_timeout_ms = CREDSRC_CONTAINER_CONNECT_MS;
    req.timeout_ms = CREDSRC_CONTAINER_TIMEOUT_MS;
    if (ask(e, &req, &resp, why, sizeof(why)) != 0) {
        errbuf_set(errbuf, errlen, "%s: %s", url, why);
        goto done;
    }
    if (resp.status != 200) {
        errbuf_set(errbuf, errlen, "%s answered HTTP %ld", url, resp.status);
        goto done;
    }
    if (credsrc_parse_json(resp.body, resp.len, out, why, sizeof(why)) != 0) {
        errbuf_set(errbuf, errlen, "%s: %s", url, why);
        goto done;
    }
    errbuf_set(detail, dlen, "%s%s", url,
               tfile  ? " with the token of AWS_CONTAINER_AUTHORIZATION_TOKEN_"
                        "FILE"
               : tenv ? " with AWS_CONTAINER_AUTHORIZATION_TOKEN"
                      : "");
    r = CREDSRC_OK;
done:
    free_secret(token);
    free_secret(auth);
    response_free(&resp);
    return r;
}

/* --- source: EC2 instance metadata, IMDSv2 ------------------------------ */

static void imds_endpoint(const credsrc_env *e, char *out, size_t outlen)
{
    const char *v = env_get(e, "AWS_EC2_METADATA_SERVICE_ENDPOINT");
    const char *mode = env_get(e, "AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE");
    size_t n;

    if (v)
        snprintf(out, outlen, "%s", v);
    else if (mode && strcasecmp(mode, "IPv6") == 0)
        snprintf(out, outlen, "%s", CREDSRC_IMDS_ENDPOINT_V6);
    else
        snprintf(out, outlen, "%s", CREDSRC_IMDS_ENDPOINT);
    n = strlen(out);
    while (n > 0 && out[n - 1] == '/')
        out[--n] = '\0';
}

/* One IMDS request; 0 with a 200 body in resp. */
static int imds_call(const credsrc_env *e, const char *method, const char *url,
                     const char *header, creds_http_response *resp,
                     char *errbuf, size_t errlen)
{
    creds_http_request req = {0};
    char why[384];

    req.method = method;
    req.url = url;
    req.headers[req.n_headers++] = header;
    req.connect_timeout_ms = CREDSRC_IMDS_CONNECT_MS;
    req.timeout_ms = CREDSRC_IMDS_TIMEOUT_MS;
    if (ask(e, &req, resp, why, sizeof(why)) != 0) {
        errbuf_set(errbuf, errlen, "%s %s: %s", method, url, why);
        return -1;
    }
    if (resp->status != 200 || !resp->body || !resp->len) {
        errbuf_set(errbuf, errlen, "%s %s: HTTP %ld%s", method, url,
                   resp->status,
                   resp->status == 200 ? " with an empty body" : "");
        response_free(resp);
        return -1;
    }
    return 0;
}

static credsrc_result from_imds(const credsrc_env *e, creds **out, char *detail,
                                size_t dlen, char *errbuf, size_t errlen)
{
    const char *off = env_get(e, "AWS_EC2_METADATA_DISABLED");
    char base[URL_MAX], url[URL_MAX + 512], role[NAME_MAX_], why[384];
    char *tokhdr = NULL;
    creds_http_response resp = {0};
    credsrc_result r = CREDSRC_FAIL;
    size_t n;

    if (off && strcasecmp(off, "true") == 0)
        return CREDSRC_SKIP;
    imds_endpoint(e, base, sizeof(base));
    /* IMDSv2 only: a session token first, and no fallback to v1. */
    snprintf(url, sizeof(url), "%s/latest/api/token", base);
    if (imds_call(
            e, "PUT", url,
            "X-aws-ec2-metadata-token-ttl-seconds: " CREDSRC_IMDS_TOKEN_TTL,
            &resp, errbuf, errlen) != 0)
        return CREDSRC_FAIL;
    n = strcspn(resp.body, "\r\n");
    tokhdr = malloc(n + 32);
    if (!tokhdr) {
        errbuf_set(errbuf, errlen, "out of memory");
        goto done;
    }
    snprintf(tokhdr, n + 32, "X-aws-ec2-metadata-token: %.*s", (int)n,
             resp.body);
    response_free(&resp);
    snprintf(url, sizeof(url), "%s/latest/meta-data/iam/security-credentials/",
             base);
    if (imds_call(e, "GET", url, tokhdr, &resp, errbuf, errlen) != 0)
        goto done;
    n = strcspn(resp.body, "\r\n");
    if (n == 0 || n >= sizeof(role) || memchr(resp.body, '/', n)) {
        errbuf_set(errbuf, errlen, "IMDS names no usable instance role");
        goto done;
    }
    snprintf(role, sizeof(role), "%.*s", (int)n, resp.body);
    response_free(&resp);
    snprintf(url, sizeof(url),
             "%s/latest/meta-data/iam/security-credentials/%s", base, role);
    if (imds_call(e, "GET", url, tokhdr, &resp, errbuf, errlen) != 0)
        goto done;
    if (credsrc_parse_json(resp.body, resp.len, out, why, sizeof(why)) != 0) {
        errbuf_set(errbuf, errlen, "IMDS role %s: %s", role, why);
        goto done;
    }
    errbuf_set(detail, dlen, "instance role %s at %s", role, base);
    r = CREDSRC_OK;
done:
    free_secret(tokhdr);
    response_free(&resp);
    return r;
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
        return from_container(env, out, detail, detaillen, errbuf, errlen);
    case CREDS_SRC_IMDS:
        return from_imds(env, out, detail, detaillen, errbuf, errlen);
    default:
        return CREDSRC_SKIP;
    }
}
