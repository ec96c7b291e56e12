/* daemon.h -- what every millrace program does at start and stop: command
 * line, configuration loading with --check-config, signals, and SIGHUP's
 * reload of what can change while running. */
#ifndef MILLRACE_DAEMON_H
#define MILLRACE_DAEMON_H

#include <signal.h>
#include <stddef.h>

#include "cfg.h"
#include "settings.h"

#define MILLRACE_VERSION "0.1.0"

/* Set by SIGTERM/SIGINT; loops poll it. Nothing else happens in the handler. */
extern volatile sig_atomic_t daemon_stop;

/* Set by SIGHUP; the reloader thread polls it. */
extern volatile sig_atomic_t daemon_reload;

typedef struct daemon_opts {
    const char *config_path; /* --config FILE, or env MILLRACE_CONFIG */
    int check_config;        /* --check-config */
    int config_doc;          /* --config-doc */
} daemon_opts;

/* Returns -1 to continue, otherwise the exit status main should return
 * (0 after --help/--version, 2 after a usage error: an unknown option or
 * any positional argument). usage_extra (may be NULL) is printed after the
 * options in --help. */
int daemon_parse_args(int argc, char **argv, const char *prog,
                      const char *summary, const char *usage_extra,
                      daemon_opts *o);

/* Loads and validates t; validate (may be NULL) adds cross-field errors.
 * Handles --check-config and --config-doc. Returns -1 to continue, else
 * the exit status (0 or 1). Applies log's level and format, and warns
 * about MILLRACE_ variables that name no setting (on stderr with
 * --check-config, in the log otherwise). */
int daemon_load_config(cfg_table *t, const daemon_opts *o,
                       void (*validate)(const void *base, cfg_errors *errs),
                       const log_settings *log);

/* SIGTERM and SIGINT set daemon_stop, SIGHUP sets daemon_reload, SIGPIPE
 * is ignored. */
void daemon_install_signals(void);

/* What SIGHUP re-reads. The file (and environment) are loaded into a
 * fresh copy of the settings and validated as at start; an invalid result
 * changes nothing. Then log.level and log.format are applied, apply (may
 * be NULL) applies the daemon's own part from the fresh settings and
 * returns a short description of what it reloaded (or NULL), and every
 * other changed setting is reported as needing a restart. */
typedef struct daemon_reload_spec {
    cfg_table *live;         /* the settings loaded at start: never changed */
    size_t base_size;        /* sizeof the settings struct */
    const daemon_opts *opts; /* where the file is */
    void (*validate)(const void *base, cfg_errors *errs);
    size_t log_offset; /* of the log_settings in the settings struct */
    const char *const *reloadable; /* NULL-ended names apply handles */
    const char *(*apply)(const void *fresh, void *arg);
    void *arg;
} daemon_reload_spec;

/* Does one reload now (what the reloader thread does on SIGHUP); for tests
 * and the thread. Returns 0, or -1 when the new settings were refused. */
int daemon_reload_now(const daemon_reload_spec *spec);

/* Starts the thread that waits for SIGHUP and reloads; spec is borrowed
 * until daemon_reloader_stop. Returns 0 or -1. */
int daemon_reloader_start(const daemon_reload_spec *spec);

/* Stops and joins the thread; accepts a reloader never started. */
void daemon_reloader_stop(void);

#endif
