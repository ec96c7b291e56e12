/* credsrc_endpoint.c -- the two credential sources on the machine's own
 * HTTP endpoints: the container endpoint (ECS, EKS Pod Identity) and EC2
 * instance metadata (IMDSv2). Network through creds_http_fn only. */
#include "credsrc.h"
#include "credsrc_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "log.h"

#define URL_MAX 2048
#define NAME_MAX_ 256 /* a role name */

/* --- source: the container endpoint ------------------------------------- */

/* Header values must not end the header early. */
static int header_safe(const char *v)
{
    return strpbrk(v, "\r\n") == NULL;
}

credsrc_result credsrc_from_container(const credsrc_env *e, creds **out,
                                      char *detail, size_t dlen, char *errbuf,
                                      size_t errlen)
{
    const char *rel =
        credsrc_env_get(e, "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI");
    const char *full = credsrc_env_get(e, "AWS_CONTAINER_CREDENTIALS_FULL_URI");
    const char *tfile =
        credsrc_env_get(e, "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE");
    const char *tenv = credsrc_env_get(e, "AWS_CONTAINER_AUTHORIZATION_TOKEN");
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
        token = credsrc_read_text(tfile, why, sizeof(why));
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
    if (credsrc_ask(e, &req, &resp, why, sizeof(why)) != 0) {
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
    credsrc_free_secret(token);
    credsrc_free_secret(auth);
    credsrc_response_free(&resp);
    return r;
}

/* --- source: EC2 instance metadata, IMDSv2 ------------------------------ */

static void imds_endpoint(const credsrc_env *e, char *out, size_t outlen)
{
    const char *v = credsrc_env_get(e, "AWS_EC2_METADATA_SERVICE_ENDPOINT");
    const char *mode =
        credsrc_env_get(e, "AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE");
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
    if (credsrc_ask(e, &req, resp, why, sizeof(why)) != 0) {
        errbuf_set(errbuf, errlen, "%s %s: %s", method, url, why);
        return -1;
    }
    if (resp->status != 200 || !resp->body || !resp->len) {
        errbuf_set(errbuf, errlen, "%s %s: HTTP %ld%s", method, url,
                   resp->status,
                   resp->status == 200 ? " with an empty body" : "");
        credsrc_response_free(resp);
        return -1;
    }
    return 0;
}

credsrc_result credsrc_from_imds(const credsrc_env *e, creds **out,
                                 char *detail, size_t dlen, char *errbuf,
                                 size_t errlen)
{
    const char *off = credsrc_env_get(e, "AWS_EC2_METADATA_DISABLED");
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
    credsrc_response_free(&resp);
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
    credsrc_response_free(&resp);
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
    credsrc_free_secret(tokhdr);
    credsrc_response_free(&resp);
    return r;
}
