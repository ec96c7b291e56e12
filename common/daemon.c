/* daemon.c -- what every millrace program does at start and stop: command
 * line, configuration loading with --check-config, signals. */
#include "daemon.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"

volatile sig_atomic_t daemon_stop = 0;

static void on_signal(int sig)
{
    (void)sig;
    daemon_stop = 1;
}

void daemon_install_signals(void)
{
    struct sigaction sa;

    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    sa.sa_handler = SIG_IGN;
    sigaction(SIGPIPE, &sa, NULL);
}

static void usage(FILE *out, const char *prog, const char *summary)
{
    fprintf(out,
            "usage: %s [--config FILE] [--check-config] [--config-doc]\n"
            "%s\n\n"
            "  --config FILE   libconfig settings file (env MILLRACE_CONFIG)\n"
            "  --check-config  validate, print the effective settings with\n"
            "                  secrets masked, and exit\n"
            "  --config-doc    print the settings reference as Markdown\n"
            "  --help, --version\n\n"
            "Every setting can also be set by environment; see "
            "--config-doc.\n",
            prog, summary);
}

int daemon_parse_args(int argc, char **argv, const char *prog,
                      const char *summary, daemon_opts *o)
{
    int i;

    memset(o, 0, sizeof(*o));
    o->config_path = getenv("MILLRACE_CONFIG");
    for (i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            usage(stdout, prog, summary);
            return 0;
        } else if (strcmp(a, "--version") == 0) {
            printf("%s %s\n", prog, MILLRACE_VERSION);
            return 0;
        } else if (strcmp(a, "--check-config") == 0) {
            o->check_config = 1;
        } else if (strcmp(a, "--config-doc") == 0) {
            o->config_doc = 1;
        } else if (strcmp(a, "--config") == 0 && i + 1 < argc) {
            o->config_path = argv[++i];
        } else if (strncmp(a, "--config=", 9) == 0) {
            o->config_path = a + 9;
        } else if (a[0] == '-') {
            fprintf(stderr, "%s: unknown option %s\n", prog, a);
            usage(stderr, prog, summary);
            return 2;
        } else {
            break;
        }
    }
    o->argi = i;
    return -1;
}

int daemon_load_config(cfg_table *t, const daemon_opts *o,
                       void (*validate)(const void *base, cfg_errors *errs),
                       char *const *level_field)
{
    cfg_errors errs = {0};

    if (o->config_doc) {
        cfg_print_doc(t, stdout);
        return 0;
    }
    cfg_load(t, o->config_path, NULL, &errs);
    /* Cross-field checks run even after row errors: list every problem. */
    if (validate)
        validate(t->base, &errs);
    if (errs.n) {
        cfg_errors_print(&errs, stderr);
        fprintf(stderr, "%zu configuration error(s)\n", errs.n);
        cfg_errors_free(&errs);
        return 1;
    }
    if (o->check_config) {
        cfg_print(t, stdout);
        printf("# configuration is valid\n");
        return 0;
    }
    if (level_field && *level_field)
        log_set_level_name(*level_field);
    return -1;
}
