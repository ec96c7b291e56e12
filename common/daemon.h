/* daemon.h -- what every millrace program does at start and stop: command
 * line, configuration loading with --check-config, signals. */
#ifndef MILLRACE_DAEMON_H
#define MILLRACE_DAEMON_H

#include <signal.h>

#include "cfg.h"

#define MILLRACE_VERSION "0.1.0"

/* Set by SIGTERM/SIGINT; loops poll it. Nothing else happens in the handler. */
extern volatile sig_atomic_t daemon_stop;

typedef struct daemon_opts {
    const char *config_path; /* --config FILE, or env MILLRACE_CONFIG */
    int check_config;        /* --check-config */
    int config_doc;          /* --config-doc */
    int argi;                /* first argument not consumed */
} daemon_opts;

/* Returns -1 to continue, otherwise the exit status main should return
 * (0 after --help/--version, 2 after a usage error). */
int daemon_parse_args(int argc, char **argv, const char *prog,
                      const char *summary, daemon_opts *o);

/* Loads and validates t; validate (may be NULL) adds cross-field errors.
 * Handles --check-config and --config-doc. Returns -1 to continue, else
 * the exit status (0 or 1). Sets the log level from level_field. */
int daemon_load_config(cfg_table *t, const daemon_opts *o,
                       void (*validate)(const void *base, cfg_errors *errs),
                       char *const *level_field);

void daemon_install_signals(void);

#endif
