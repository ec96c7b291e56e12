/* cfg_print.c -- showing a loaded table: --check-config's effective
 * values (secrets and credential-like pass-through items masked) and the
 * Markdown reference of docs/configuration.md. */
#include "cfg.h"

#include <ctype.h>
#include <string.h>

/* The length of the name of a list item "name=value" whose name says it
 * holds a credential (a pass-through librdkafka property: sasl.password,
 * ssl.key.password, sasl.oauthbearer.client.secret, ssl.key.pem), so that
 * its value is masked; else 0. */
size_t cfg_sensitive_item(const char *item)
{
    static const char *const words[] = {"password", "secret", "token", "pem",
                                        "oauthbearer.config"};
    const char *eq = strchr(item, '=');
    char name[256];
    size_t n;

    if (eq == NULL || (size_t)(eq - item) >= sizeof(name))
        return 0;
    n = (size_t)(eq - item);
    for (size_t i = 0; i < n; i++)
        name[i] = (char)tolower((unsigned char)item[i]);
    name[n] = '\0';
    for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++)
        if (strstr(name, words[i]))
            return n;
    return 0;
}

/* The body of a libconfig string literal: quotes, backslashes and control
 * bytes escaped, so that a value stays on its line (a newline in a value
 * printed as is would make a line of its own: a fake setting, or a secret
 * seemingly shown). */
void cfg_print_escaped(FILE *out, const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];

        if (c == '"' || c == '\\')
            fprintf(out, "\\%c", c);
        else if (c == '\n')
            fputs("\\n", out);
        else if (c == '\r')
            fputs("\\r", out);
        else if (c == '\t')
            fputs("\\t", out);
        else if (c < 0x20 || c == 0x7f)
            fprintf(out, "\\x%02x", c);
        else
            fputc(c, out);
    }
}

static void print_quoted(FILE *out, const char *s)
{
    fputc('"', out);
    cfg_print_escaped(out, s, strlen(s));
    fputc('"', out);
}

static void print_value(const cfg_table *t, const cfg_row *r, FILE *out)
{
    const void *f = (const char *)t->base + r->offset;

    switch (r->type) {
    case CFG_ENUM:
        fprintf(out, "\"%s\"", cfg_choice_name(r, *(const int *)f));
        break;
    case CFG_STR:
    case CFG_LIST: {
        const char *s = *(char *const *)f;
        if (r->secret)
            fputs(s && s[0] ? "\"********\"" : "\"\"", out);
        else if (r->type == CFG_LIST) {
            const char *cur = s;
            char item[512];
            int first = 1;
            fputc('[', out);
            while (cfg_list_next(&cur, item, sizeof(item))) {
                size_t masked = cfg_sensitive_item(item);
                if (!first)
                    fputs(", ", out);
                if (masked) {
                    fputc('"', out);
                    cfg_print_escaped(out, item, masked);
                    fputs("=********\"", out);
                } else
                    print_quoted(out, item);
                first = 0;
            }
            fputc(']', out);
        } else
            print_quoted(out, s ? s : "");
        break;
    }
    case CFG_INT:
    case CFG_SIZE:
        fprintf(out, "%lld", *(const long long *)f);
        break;
    case CFG_BOOL:
        fputs(*(const int *)f ? "true" : "false", out);
        break;
    case CFG_AUTO_BOOL:
        fputs(*(const int *)f < 0 ? "\"auto\""
              : *(const int *)f   ? "true"
                                  : "false",
              out);
        break;
    }
}

void cfg_print(const cfg_table *t, FILE *out)
{
    static const char *const srcs[] = {"default", "file", "env"};

    for (size_t i = 0; i < t->n; i++) {
        fprintf(out, "%s = ", t->rows[i].name);
        print_value(t, &t->rows[i], out);
        if (t->src[i] == CFG_SRC_ENV)
            fprintf(out, "  # env %s\n", t->src_env[i]);
        else
            fprintf(out, "  # %s\n", srcs[t->src[i]]);
    }
}

/* The environment cell: the derived variable, the extra one, and for a
 * secret row both again with _FILE. */
static void print_doc_env(const cfg_row *r, FILE *out)
{
    char env[64];

    cfg_env_name(r->name, env, sizeof(env));
    fprintf(out, "`%s`", env);
    if (r->env)
        fprintf(out, ", `%s`", r->env);
    if (!r->secret)
        return;
    fprintf(out, ", `%s_FILE`", env);
    if (r->env)
        fprintf(out, ", `%s_FILE`", r->env);
}

void cfg_print_doc(const cfg_table *t, FILE *out)
{
    static const char *const types[] = {"string",         "integer", "size",
                                        "boolean",        "enum",    "list",
                                        "boolean or auto"};

    fputs("| setting | type | default | environment | description |\n"
          "|---|---|---|---|---|\n",
          out);
    char names[256];

    for (size_t i = 0; i < t->n; i++) {
        const cfg_row *r = &t->rows[i];
        int has_def = r->def && r->def[0];

        fprintf(out, "| `%s` | %s | %s%s%s | ", r->name, types[r->type],
                has_def ? "`" : "", has_def ? r->def : "(empty)",
                has_def ? "`" : "");
        print_doc_env(r, out);
        fprintf(out, " | %s", r->desc);
        if (r->type == CFG_ENUM)
            fprintf(out, " One of `%s`.",
                    cfg_choices_text(r->choices, names, sizeof(names)));
        if (r->secret)
            fprintf(out,
                    " Secret: masked; or read from the file named by "
                    "`%s%s` (or a `_FILE` variable).",
                    r->name, CFG_FILE_SUFFIX);
        fputs(" |\n", out);
    }
}
