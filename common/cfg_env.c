/* cfg_env.c -- the environment variables that name no setting: a
 * misspelt MILLRACE_ variable would otherwise be ignored, so each is
 * reported with the closest known name. */
#include "cfg.h"

#include <stdlib.h>
#include <string.h>

/* Edit distance between a and b, stopping early past limit. */
static size_t distance(const char *a, const char *b, size_t limit)
{
    size_t la = strlen(a), lb = strlen(b);
    size_t row[128];

    if (lb >= sizeof(row) / sizeof(row[0]) ||
        (la > lb ? la - lb : lb - la) > limit)
        return limit + 1;
    for (size_t j = 0; j <= lb; j++)
        row[j] = j;
    for (size_t i = 1; i <= la; i++) {
        size_t diag = row[0];
        size_t best;
        row[0] = i;
        best = row[0];
        for (size_t j = 1; j <= lb; j++) {
            size_t up = row[j];
            size_t v = diag + (a[i - 1] != b[j - 1]);
            if (up + 1 < v)
                v = up + 1;
            if (row[j - 1] + 1 < v)
                v = row[j - 1] + 1;
            row[j] = v;
            diag = up;
            if (v < best)
                best = v;
        }
        if (best > limit)
            return limit + 1;
    }
    return row[lb];
}

/* Calls fn with every MILLRACE_ name t knows: each row's, a secret row's
 * with _FILE, and extra's. Stops when fn returns non-zero; returns that. */
static int each_known_env(const cfg_table *t, const char *const *extra,
                          int (*fn)(const char *known, void *arg), void *arg)
{
    char name[96];
    int rc;

    for (size_t i = 0; i < t->n; i++) {
        cfg_env_name(t->rows[i].name, name, sizeof(name) - 5);
        rc = fn(name, arg);
        if (rc)
            return rc;
        if (!t->rows[i].secret)
            continue;
        strcat(name, "_FILE");
        rc = fn(name, arg);
        if (rc)
            return rc;
    }
    for (size_t i = 0; extra && extra[i]; i++) {
        rc = fn(extra[i], arg);
        if (rc)
            return rc;
    }
    return 0;
}

typedef struct env_match {
    const char *name; /* the variable looked up */
    char near[96];    /* the closest known name */
    size_t best;
} env_match;

static int match_env(const char *known, void *arg)
{
    env_match *m = arg;
    size_t d;

    if (strcmp(known, m->name) == 0)
        return 1;
    d = distance(known, m->name, m->best - 1);
    if (d < m->best) {
        m->best = d;
        snprintf(m->near, sizeof(m->near), "%s", known);
    }
    return 0;
}

int cfg_unknown_env(const cfg_table *t, char *const *envp,
                    const char *const *extra, cfg_errors *warns)
{
    size_t before = warns->n;

    for (size_t i = 0; envp && envp[i]; i++) {
        const char *eq = strchr(envp[i], '=');
        char name[96];
        env_match m;
        size_t l = eq ? (size_t)(eq - envp[i]) : strlen(envp[i]);

        if (strncmp(envp[i], "MILLRACE_", 9) != 0)
            continue;
        if (l >= sizeof(name))
            l = sizeof(name) - 1;
        memcpy(name, envp[i], l);
        name[l] = '\0';
        memset(&m, 0, sizeof(m));
        m.name = name;
        m.best = 4; /* suggest names at most 3 edits away */
        if (each_known_env(t, extra, match_env, &m))
            continue;
        if (m.near[0])
            cfg_error_add(warns,
                          "environment variable %s names no setting (did "
                          "you mean %s?); it is ignored",
                          name, m.near);
        else
            cfg_error_add(warns,
                          "environment variable %s names no setting; it is "
                          "ignored",
                          name);
    }
    return (int)(warns->n - before);
}
