/* fuzz_validate.c -- request decoding and validation: validate_body on a
 * JSON body (one object or an array of objects) with small limits.
 * Input: one byte of options (fuzz_limits), then the body.
 * Properties: no crash, leak or UB; an accepted request holds exactly the
 * elements jansson decodes (REJECT_DUPLICATES), each compact, parseable
 * and within the limits; a body jansson rejects is invalid_json (or
 * empty, or too_deep when it nests too deep), and one it accepts is never
 * invalid_json. */
#include "validate_check.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The deepest bracket nesting of the text, strings skipped. */
static int text_nesting(const char *p, size_t len)
{
    int depth = 0, max = 0;

    for (size_t i = 0; i < len; i++) {
        if (p[i] == '"') {
            for (i++; i < len && p[i] != '"'; i++)
                i += p[i] == '\\';
        } else if (p[i] == '[' || p[i] == '{') {
            max = ++depth > max ? depth : max;
        } else if (p[i] == ']' || p[i] == '}') {
            depth--;
        }
    }
    return max;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_in in = {data, size};
    ingest_limits lim = fuzz_limits(fuzz_u8(&in));
    size_t len;
    char *body = fuzz_rest(&in, &len);
    event_batch out = {0};
    validate_error err;
    json_error_t je;
    json_t *root;
    int rc;

    memset(&err, 0, sizeof(err));
    rc = validate_body(body, len, BODY_JSON, &lim, &out, &err);
    fuzz_check_answer(rc, &out, &err, &lim);
    /* jansson drops a NUL byte after a number or a literal ({"a":1<NUL>}
     * parses): for the reference, a raw NUL is never JSON. */
    root = memchr(body, '\0', len)
               ? NULL
               : json_loadb(body, len, JSON_REJECT_DUPLICATES, &je);
    if (root == NULL && memchr(body, '\0', len))
        snprintf(je.text, sizeof(je.text), "NUL byte");
    if (root == NULL) {
        FUZZ_CHECK(rc == -1, "accepted what jansson rejects: %s", je.text);
        /* Nesting is measured before parsing (it protects the stack), so
         * invalid text nested too deep is too_deep. */
        FUZZ_CHECK(
            strcmp(err.code, "invalid_json") == 0 ||
                (strcmp(err.code, "empty") == 0 && fuzz_blank(body, len)) ||
                (strcmp(err.code, "too_deep") == 0 &&
                 text_nesting(body, len) > lim.max_depth),
            "jansson: %s; validate: %s", je.text, err.code);
    } else if (rc == -1) {
        FUZZ_CHECK(strcmp(err.code, "invalid_json") != 0,
                   "invalid_json for what jansson accepts: %s", err.detail);
    } else if (json_is_array(root)) {
        FUZZ_CHECK(out.n == json_array_size(root), "%zu events of %zu", out.n,
                   json_array_size(root));
        for (size_t i = 0; i < out.n; i++)
            fuzz_check_event(&out.ev[i], json_array_get(root, i), &lim, i);
    } else {
        FUZZ_CHECK(out.n == 1, "%zu events from one object", out.n);
        fuzz_check_event(&out.ev[0], root, &lim, 0);
    }
    json_decref(root);
    event_batch_clear(&out);
    free(body);
    return 0;
}
