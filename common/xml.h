/* xml.h -- reading the flat, machine-written XML that AWS services answer
 * with (S3, STS): an element's text by name, entities decoded. Their text
 * never holds a raw '<', so finding an element by name is enough. Text is
 * unescaped with numeric references too: Go servers such as versitygw
 * write '"' as "&#34;". */
#ifndef MILLRACE_XML_H
#define MILLRACE_XML_H

#include <stddef.h>

/* The text between the first <tag> and the </tag> after it, within len
 * bytes of body (NULL allowed), not decoded. Returns 1 when found. */
int xml_find(const char *body, size_t len, const char *tag, const char **val,
             size_t *vlen);

/* Lenient copy of the first <tag>'s text, "" when there is none: for
 * error messages. Unknown entities stay, control characters become
 * blanks, the text is cut to fit, so out stays one line. */
void xml_field(const char *body, size_t len, const char *tag, char *out,
               size_t outlen);

/* Strict copy of the first <tag>'s text, for keys, ids and credentials:
 * 0, 1 when absent (out is ""), -1 malformed (an unknown entity, a NUL),
 * -2 longer than outlen - 1. */
int xml_value(const char *body, size_t len, const char *tag, char *out,
              size_t outlen);

#endif
