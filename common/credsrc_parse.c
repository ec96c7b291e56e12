/* credsrc_parse.c -- the pure parts of the AWS credential chain
 * (credsrc.h): times, the shared files' INI format, the JSON of the
 * container and instance endpoints, STS's XML answers, the STS endpoint,
 * and which container endpoints may be asked. */
#include "credsrc.h"

#include <ctype.h>
#include <jansson.h>
#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "log.h"
#include "xml.h"

#define URL_MAX 2048

static int empty(const char *s)
{
    return !s || !*s;
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
    char *ak = malloc(CREDSRC_KEY_MAX), *sk = malloc(CREDSRC_SECRET_MAX),
         *tok = NULL;
    char exp[64], code[64], msg[256];
    const char *found;
    size_t flen;
    time_t expiration;
    int rc = -1;

    *out = NULL;
    tok = malloc(CREDSRC_TOKEN_MAX);
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
        xml_value(body, len, "AccessKeyId", ak, CREDSRC_KEY_MAX) != 0 ||
        xml_value(body, len, "SecretAccessKey", sk, CREDSRC_SECRET_MAX) != 0 ||
        xml_value(body, len, "SessionToken", tok, CREDSRC_TOKEN_MAX) < 0 ||
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
        OPENSSL_cleanse(sk, CREDSRC_SECRET_MAX);
    if (tok)
        OPENSSL_cleanse(tok, CREDSRC_TOKEN_MAX);
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
