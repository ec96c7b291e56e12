/* tlsreload.h -- ingest-api's TLS certificate, replaced while serving: a
 * new certificate read on SIGHUP is presented from the next handshake on,
 * without a restart and without touching connections already open. */
#ifndef MILLRACE_TLSRELOAD_H
#define MILLRACE_TLSRELOAD_H

#include <stddef.h>

typedef struct tls_reload tls_reload;

tls_reload *tls_reload_new(void);

/* civetweb's init_ssl callback calls this with its SSL_CTX, before it
 * loads the certificate of ingest.tls_certificate itself: handshakes then
 * ask t for the certificate to present (the one civetweb loaded until the
 * first tls_reload_file). Returns 0 or -1. */
int tls_reload_attach(tls_reload *t, void *ssl_ctx);

/* Reads path (a PEM file holding the certificate, its chain and its
 * private key, as at start) and, if the key matches the certificate,
 * presents it from the next handshake on. Returns 0, or -1 with errbuf
 * set and the current certificate kept. */
int tls_reload_file(tls_reload *t, const char *path, char *errbuf,
                    size_t errlen);

/* Accepts NULL. Only once no handshake can run (after mg_stop). */
void tls_reload_free(tls_reload *t);

#endif
