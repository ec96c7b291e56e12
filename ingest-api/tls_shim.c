/* tls_shim.c -- TLS for Debian 12's civetweb 1.15 on Debian 12's OpenSSL 3,
 * without patching either.
 *
 * That civetweb dlopen()s "libssl.so" and "libcrypto.so" and looks up the
 * OpenSSL 1.1 API with dlsym(). Of the names it looks up OpenSSL 3 lacks
 * one, SSL_get_peer_certificate (a macro for SSL_get1_peer_certificate
 * since 3.0), and civetweb's TLS fails to load for want of it.
 *
 * This file is built into libmillrace-ssl.so with the soname "libssl.so",
 * needing libssl.so.3; libmillrace-crypto.so is empty, with the soname
 * "libcrypto.so", needing libcrypto.so.3 (a runtime system has no
 * unversioned libcrypto.so or libssl.so). ingest-api loads both from its
 * own directory before civetweb loads OpenSSL (http.c): glibc's dlopen()
 * returns an already loaded library whose soname is the name asked for,
 * and dlsym() on it searches the library and then what it needs, so
 * civetweb finds every name. Not part of libingest.a (Makefile). */
#include <openssl/ssl.h>

#undef SSL_get_peer_certificate
X509 *SSL_get_peer_certificate(const SSL *s);

/* OpenSSL 1.1's: the peer's certificate, with a reference the caller frees
 * (civetweb does, with X509_free), as SSL_get1_peer_certificate returns. */
X509 *SSL_get_peer_certificate(const SSL *s)
{
    return SSL_get1_peer_certificate(s);
}
