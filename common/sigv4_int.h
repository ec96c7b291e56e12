/* sigv4_int.h -- what the SigV4 files share (sigv4.c signs,
 * sigv4_canon.c builds the canonical forms); not for other callers. */
#ifndef MILLRACE_SIGV4_INT_H
#define MILLRACE_SIGV4_INT_H

#include <stddef.h>

#include "sigv4.h"

/* A growing string whose allocation failure is sticky, so building a long
 * string needs one check at the end rather than one per piece. */
typedef struct sbuf {
    char *p;
    size_t len;
    size_t cap;
    int oom;
} sbuf;

void sigv4_sb_addn(sbuf *b, const char *s, size_t n);
void sigv4_sb_add(sbuf *b, const char *s);
/* s percent-encoded as a query value. */
void sigv4_sb_add_encoded(sbuf *b, const char *s);
/* The string built (heap, the caller frees), or NULL when any addition
 * ran out of memory. */
char *sigv4_sb_take(sbuf *b);

/* The canonical headers block and the signed header names of hs plus the
 * headers the signer adds (add, may be NULL). 0, or -1 (out of memory, or
 * a name given twice). */
int sigv4_canon_headers(const sigv4_header *hs, size_t n,
                        const sigv4_added *add, size_t n_add, char **block,
                        char **names);

#endif
