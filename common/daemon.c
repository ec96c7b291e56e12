/* daemon.c -- what every millrace program does at start and stop: command
 * line, configuration loading with --check-config, signals, and SIGHUP's
 * reload of what can change while running. */
#include "daemon.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "log.h"

extern char **environ;

volatile sig_atomic_t daemon_stop = 0;
volatile sig_atomic_t daemon_reload = 0;

/* Names of variables the daemons read that are no setting's. */
static const char *const extra_env[] = {"MILLRACE_CONFIG", NULL};

static void on_signal(int sig)
{
    (void)sig;
    daemon_stop = 1;
}

static void on_hangup(int sig)
{
    (void)sig;
    daemon_reload = 1;
}

void daemon_install_signals(void)
{
    struct sigaction sa;

    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    sa.sa_handler = on_hangup;
    sigaction(SIGHUP, &sa, NULL);
    sa.sa_handler = SIG_IGN;
    sigaction(SIGPIPE, &sa, NULL);
}

static void usage(FILE *out, const char *prog, const char *summary,
                  const char *extra)
{
    fprintf(out,
            "usage: %s [--config FILE] [--check-config] [--config-doc]\n"
            "%s\n\n"
            "  --config FILE   libconfig settings file (env MILLRACE_CONFIG)\n"
            "  --check-config  validate, print the effective settings with\n"
            "                  secrets masked, and exit\n"
            "  --config-doc    print the settings reference as Markdown\n"
            "  --help, --version\n\n"
            "%s"
            "Every setting can also be set by environment; see "
            "--config-doc.\n"
            "SIGTERM stops after draining; SIGHUP re-reads the log settings\n"
            "(and what else can change while running; see "
            "docs/operations.md).\n",
            prog, summary, extra ? extra : "");
}

int daemon_parse_args(int argc, char **argv, const char *prog,
                      const char *summary, const char *usage_extra,
                      daemon_opts *o)
{
    memset(o, 0, sizeof(*o));
    o->config_path = getenv("MILLRACE_CONFIG");
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            usage(stdout, prog, summary, usage_extra);
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
        } else {
            /* A word the daemon does not take must not be skipped: with
             * it, so would be everything after it (--check-config). */
            if (a[0] == '-')
                fprintf(stderr, "%s: unknown option %s\n", prog, a);
            else
                fprintf(stderr, "%s: unexpected argument \"%s\"\n", prog, a);
            fprintf(stderr, "Try '%s --help'.\n", prog);
            return 2;
        }
    }
    return -1;
}

static void apply_log(const log_settings *log)
{
    if (log == NULL)
        return;
    log_set_level((enum log_level)log->level);
    log_set_format((enum log_format)log->format);
}

int daemon_load_config(cfg_table *t, const daemon_opts *o,
                       void (*validate)(const void *base, cfg_errors *errs),
                       const log_settings *log)
{
    cfg_errors errs = {0};
    cfg_errors warns = {0};
    int rc = -1;

    if (o->config_doc) {
        cfg_print_doc(t, stdout);
        return 0;
    }
    cfg_load(t, o->config_path, NULL, &errs);
    /* Cross-field checks run even after row errors: list every problem. */
    if (validate)
        validate(t->base, &errs);
    cfg_unknown_env(t, environ, extra_env, &warns);
    if (errs.n) {
        for (size_t i = 0; i < warns.n; i++)
            fprintf(stderr, "config warning: %s\n", warns.msgs[i]);
        cfg_errors_print(&errs, stderr);
        fprintf(stderr, "%zu configuration error(s)\n", errs.n);
        rc = 1;
    } else if (o->check_config) {
        for (size_t i = 0; i < warns.n; i++)
            fprintf(stderr, "config warning: %s\n", warns.msgs[i]);
        cfg_print(t, stdout);
        printf("# configuration is valid\n");
        rc = 0;
    } else {
        apply_log(log);
        for (size_t i = 0; i < warns.n; i++)
            log_warn("config", "%s", warns.msgs[i]);
    }
    cfg_errors_free(&errs);
    cfg_errors_free(&warns);
    return rc;
}

/* --- SIGHUP ------------------------------------------------------------- */

static int listed(const char *const *names, const char *name)
{
    for (size_t i = 0; names && names[i]; i++)
        if (strcmp(names[i], name) == 0)
            return 1;
    return 0;
}

/* Appends ", text" (or "text" first) to buf. */
static void add_item(char *buf, size_t len, const char *text)
{
    size_t n = strlen(buf);

    snprintf(buf + n, len - n, "%s%s", n ? ", " : "", text);
}

/* The rows that differ from the running settings: applied now (log.*,
 * spec->reloadable) or waiting for a restart (the rest, named in the
 * log). */
static void report_changes(const daemon_reload_spec *spec,
                           const cfg_table *fresh)
{
    char later[1024] = "";

    for (size_t i = 0; i < fresh->n; i++) {
        const char *name = fresh->rows[i].name;
        if (cfg_same_value(spec->live, fresh, i) ||
            strncmp(name, "log.", 4) == 0 || listed(spec->reloadable, name))
            continue;
        add_item(later, sizeof(later), name);
    }
    if (later[0])
        log_warn("reload",
                 "changed, but taking effect only at restart: %s "
                 "(the running values stay)",
                 later);
}

int daemon_reload_now(const daemon_reload_spec *spec)
{
    cfg_table fresh = *spec->live;
    cfg_errors errs = {0};
    const log_settings *log;
    const char *own = NULL;
    char done[512];
    int rc = -1;

    fresh.base = calloc(1, spec->base_size);
    if (fresh.base == NULL) {
        log_error("reload", "out of memory: nothing reloaded");
        return -1;
    }
    cfg_load(&fresh, spec->opts->config_path, NULL, &errs);
    if (spec->validate)
        spec->validate(fresh.base, &errs);
    if (errs.n) {
        for (size_t i = 0; i < errs.n; i++)
            log_error("reload", "%s", errs.msgs[i]);
        log_error("reload",
                  "%zu configuration error(s): nothing reloaded, the "
                  "running settings stay",
                  errs.n);
        goto done;
    }
    log = (const log_settings *)((const char *)fresh.base + spec->log_offset);
    apply_log(log);
    snprintf(done, sizeof(done), "log.level %s, log.format %s",
             log_level_name(), log_format_name());
    if (spec->apply)
        own = spec->apply(fresh.base, spec->arg);
    if (own && own[0])
        add_item(done, sizeof(done), own);
    log_info("reload", "reloaded on SIGHUP: %s", done);
    report_changes(spec, &fresh);
    rc = 0;
done:
    cfg_errors_free(&errs);
    cfg_free(&fresh);
    free(fresh.base);
    return rc;
}

static pthread_t reloader;
static int reloader_running;
static volatile sig_atomic_t reloader_quit;

static void *reloader_main(void *arg)
{
    const daemon_reload_spec *spec = arg;
    const struct timespec tick = {0, 100 * 1000 * 1000};

    while (!daemon_stop && !reloader_quit) {
        nanosleep(&tick, NULL);
        if (!daemon_reload || daemon_stop || reloader_quit)
            continue;
        daemon_reload = 0;
        log_info("reload", "SIGHUP: re-reading the configuration%s%s",
                 spec->opts->config_path ? " from " : "",
                 spec->opts->config_path ? spec->opts->config_path : "");
        daemon_reload_now(spec);
    }
    return NULL;
}

int daemon_reloader_start(const daemon_reload_spec *spec)
{
    reloader_quit = 0;
    if (pthread_create(&reloader, NULL, reloader_main, (void *)spec) != 0)
        return -1;
    reloader_running = 1;
    return 0;
}

void daemon_reloader_stop(void)
{
    if (!reloader_running)
        return;
    reloader_quit = 1;
    pthread_join(reloader, NULL);
    reloader_running = 0;
}
