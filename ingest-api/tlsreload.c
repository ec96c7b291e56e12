/* tlsreload.c -- ingest-api's TLS certificate, replaced while serving.
 *
 * civetweb loads the certificate once into its SSL_CTX, and an SSL_CTX may
 * not be changed while other threads create connections from it. So the
 * context stays as civetweb made it, and a certificate callback
 * (SSL_CTX_set_cert_cb, run in each handshake) puts the latest reloaded
 * certificate on the connection itself. A reload builds a context of its
 * own from the file and swaps it in under a lock. */
#include "tlsreload.h"

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

struct tls_reload {
    pthread_mutex_t mu;
    SSL_CTX *cur; /* holds the reloaded certificate; NULL: civetweb's */
};

tls_reload *tls_reload_new(void)
{
    tls_reload *t = calloc(1, sizeof(*t));

    if (t == NULL)
        return NULL;
    pthread_mutex_init(&t->mu, NULL);
    return t;
}

/* In every handshake: present the reloaded certificate, if any. */
static int cert_cb(SSL *ssl, void *arg)
{
    tls_reload *t = arg;
    STACK_OF(X509) *chain = NULL;
    int ok = 1;

    pthread_mutex_lock(&t->mu);
    if (t->cur != NULL) {
        SSL_CTX_get0_chain_certs(t->cur, &chain);
        ok = SSL_use_cert_and_key(ssl, SSL_CTX_get0_certificate(t->cur),
                                  SSL_CTX_get0_privatekey(t->cur), chain, 1);
    }
    pthread_mutex_unlock(&t->mu);
    return ok == 1 ? 1 : 0;
}

int tls_reload_attach(tls_reload *t, void *ssl_ctx)
{
    if (t == NULL || ssl_ctx == NULL)
        return -1;
    SSL_CTX_set_cert_cb(ssl_ctx, cert_cb, t);
    return 0;
}

static void ssl_error(char *errbuf, size_t errlen, const char *what,
                      const char *path)
{
    unsigned long e = ERR_get_error();
    char why[256] = "";

    if (e)
        ERR_error_string_n(e, why, sizeof(why));
    ERR_clear_error();
    snprintf(errbuf, errlen, "%s %s%s%s", what, path, why[0] ? ": " : "", why);
}

int tls_reload_file(tls_reload *t, const char *path, char *errbuf,
                    size_t errlen)
{
    SSL_CTX *ctx = NULL;
    SSL_CTX *old;
    int rc = -1;

    if (path == NULL || path[0] == '\0') {
        snprintf(errbuf, errlen, "ingest.tls_certificate is empty");
        goto fail;
    }
    ctx = SSL_CTX_new(TLS_server_method());
    if (ctx == NULL) {
        ssl_error(errbuf, errlen, "cannot make a TLS context for", path);
        goto fail;
    }
    if (SSL_CTX_use_certificate_chain_file(ctx, path) != 1) {
        ssl_error(errbuf, errlen, "no certificate chain in", path);
        goto fail;
    }
    if (SSL_CTX_use_PrivateKey_file(ctx, path, SSL_FILETYPE_PEM) != 1) {
        ssl_error(errbuf, errlen, "no private key in", path);
        goto fail;
    }
    if (SSL_CTX_check_private_key(ctx) != 1) {
        ssl_error(errbuf, errlen, "the key does not match the certificate in",
                  path);
        goto fail;
    }
    pthread_mutex_lock(&t->mu);
    old = t->cur;
    t->cur = ctx;
    pthread_mutex_unlock(&t->mu);
    ctx = old; /* freed below: no handshake holds it outside the lock */
    rc = 0;
fail:
    SSL_CTX_free(ctx);
    return rc;
}

void tls_reload_free(tls_reload *t)
{
    if (t == NULL)
        return;
    SSL_CTX_free(t->cur);
    pthread_mutex_destroy(&t->mu);
    free(t);
}
