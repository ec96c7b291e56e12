/* fuzz_jsoncheck.c -- the uploader's JSON checker, differentially against
 * jansson: jsoncheck_object with jansson's own depth limit (2048) must
 * accept exactly the objects json_loadb (flags 0: duplicates allowed, no
 * JSON_ALLOW_NUL) accepts, but for these documented differences, where
 * jansson refuses valid RFC 8259 text and jsoncheck accepts it:
 *   - the escape \u0000 (jansson needs JSON_ALLOW_NUL; in a key, never);
 *   - escaped lone or mismatched UTF-16 surrogates ("\ud800"): well-formed
 *     JSON text whose meaning RFC 8259 leaves open;
 *   - integers beyond 64 bits and reals beyond a double (1e400): JSON sets
 *     no limit on numbers, and jsoncheck does not convert them;
 * and one where jansson is wrong: it drops a raw NUL byte that follows a
 * number or a literal ({"a":1<NUL>} parses), while jsoncheck refuses it.
 * jsoncheck_field must find every top-level member of such an object
 * written without escapes, and its raw value must mean what jansson says,
 * except with duplicate names: jsoncheck_field returns the first, jansson
 * keeps the last (also documented in jsoncheck.h).
 * Input: one byte (a small depth limit, 1 to 8), then the record.
 * Also: with the small limit jsoncheck refuses exactly the objects nested
 * deeper than it. */
#include "fuzz.h"
#include "json_depth.h"

#include "../../uploader/jsoncheck.h"

#include <jansson.h>

#define JANSSON_MAX_DEPTH 2048

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* jansson refused the text for one of the documented reasons. */
static int documented(const char *why)
{
    static const char *const reasons[] = {
        "\\u0000 is not allowed without JSON_ALLOW_NUL",
        "NUL byte in object key not supported",
        "invalid Unicode '\\u",
        "too big integer",
        "too big negative integer",
        "real number overflow",
    };

    for (size_t i = 0; i < sizeof(reasons) / sizeof(reasons[0]); i++)
        if (strstr(why, reasons[i]) == NULL)
            continue;
        else
            return 1;
    return 0;
}

static void check_fields(const char *p, size_t len, const json_t *obj)
{
    json_error_t je;
    json_t *strict = json_loadb(p, len, JSON_REJECT_DUPLICATES, &je);
    int dups = strict == NULL;
    int escapes = memchr(p, '\\', len) != NULL;
    const char *k;
    json_t *v;

    json_decref(strict);
    json_object_foreach((json_t *)obj, k, v)
    {
        const char *raw;
        size_t rawlen;
        json_t *back;
        int rc = jsoncheck_field(p, len, k, &raw, &rawlen);

        if (rc < 0) {
            FUZZ_CHECK(escapes, "member \"%s\" not found", k);
            continue;
        }
        FUZZ_CHECK(raw >= p && raw + rawlen <= p + len, "value outside");
        if (dups)
            continue;
        back = json_loadb(raw, rawlen, JSON_DECODE_ANY | JSON_ALLOW_NUL, &je);
        FUZZ_CHECK(back != NULL || documented(je.text),
                   "value of \"%s\" does not parse: %.*s (%s)", k, (int)rawlen,
                   raw, je.text);
        FUZZ_CHECK(back == NULL || json_equal(back, v),
                   "value of \"%s\" differs: %.*s", k, (int)rawlen, raw);
        json_decref(back);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_in in = {data, size};
    int small = 1 + fuzz_u8(&in) % 8;
    size_t len;
    char *p = fuzz_rest(&in, &len);
    const char *why = NULL;
    const char *why_small = NULL;
    json_error_t je;
    json_t *ref = NULL;
    int jc, jc_small, ok;

    jc = jsoncheck_object(p, len, JANSSON_MAX_DEPTH, &why);
    FUZZ_CHECK(jc == 0 || (jc == -1 && why != NULL), "rc %d, why %s", jc,
               why ? why : "NULL");
    /* jansson drops a raw NUL after a number: never JSON here. */
    if (memchr(p, '\0', len) == NULL)
        ref = json_loadb(p, len, 0, &je);
    else
        snprintf(je.text, sizeof(je.text), "raw NUL byte");
    ok = json_is_object(ref);
    if (ref != NULL && !ok)
        snprintf(je.text, sizeof(je.text), "not an object");
    if (ok)
        FUZZ_CHECK(jc == 0, "jansson accepts, jsoncheck: %s", why);
    else if (jc == 0)
        FUZZ_CHECK(documented(je.text), "jsoncheck accepts, jansson: %s",
                   je.text);
    jc_small = jsoncheck_object(p, len, small, &why_small);
    if (ok) {
        /* jansson keeps the last of duplicate members: its tree can be
         * shallower than the text ({"a":[],"a":1}). */
        json_t *strict = json_loadb(p, len, JSON_REJECT_DUPLICATES, NULL);
        int d = fuzz_depth(ref);
        FUZZ_CHECK(strict == NULL || (jc_small == 0) == (d <= small),
                   "depth %d, limit %d: rc %d (%s)", d, small, jc_small,
                   why_small ? why_small : "");
        json_decref(strict);
        check_fields(p, len, ref);
    } else if (jc != 0) {
        FUZZ_CHECK(jc_small != 0, "accepted only with the small limit");
    }
    json_decref(ref);
    free(p);
    return 0;
}
