/* json_depth.h -- nesting depth of a jansson tree, for the harnesses
 * that hold a checker's depth limit to jansson's reading of the text: a
 * scalar is 0, {} and [] are 1. */
#ifndef MILLRACE_FUZZ_JSON_DEPTH_H
#define MILLRACE_FUZZ_JSON_DEPTH_H

#include <jansson.h>

static inline int fuzz_depth(const json_t *v)
{
    int max = 0;
    const char *k;
    json_t *c;
    size_t i;

    if (json_is_object(v)) {
        json_object_foreach((json_t *)v, k, c)
        {
            int d = fuzz_depth(c);
            max = d > max ? d : max;
        }
        return max + 1;
    }
    if (json_is_array(v)) {
        json_array_foreach(v, i, c)
        {
            int d = fuzz_depth(c);
            max = d > max ? d : max;
        }
        return max + 1;
    }
    return 0;
}

#endif
