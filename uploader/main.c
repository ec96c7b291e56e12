/* main.c -- uploader: consumes the events topic with a fixed worker pool and
 * writes each batch to S3 (or a local directory) exactly once. */
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "config.h"
#include "consumer.h"
#include "daemon.h"
#include "dlq.h"
#include "health.h"
#include "kafka.h"
#include "store/localstore.h"
#include "log.h"
#include "replay.h"
#include "store/s3.h"
#include "setup.h"

static void validate_cb(const void *base, cfg_errors *errs)
{
    uploader_config_validate(base, errs);
}

/* SIGHUP's part of the uploader: the credential chain runs again, so the
 * files it reads (shared credentials and config, a web identity token, a
 * container authorization token) are read again now rather than at the
 * next renewal. On failure the credentials held stay while they are valid.
 * Keys given as settings (and their _FILE forms) are read at start only. */
static const char *reload_uploader(const void *fresh, void *arg)
{
    creds_provider *cp = arg;
    char why[1024];

    (void)fresh;
    if (cp == NULL)
        return NULL;
    if (creds_provider_resolve(cp, why, sizeof(why)) != 0) {
        log_error("reload",
                  "AWS credentials not renewed: %s (those held stay while "
                  "valid)",
                  why);
        return NULL;
    }
    return "AWS credentials";
}

/* The line that says what this uploader reads and where it writes. */
static void log_started(const uploader_config *cfg, const store *st)
{
    int local = cfg->uploader.store == UPLOADER_STORE_LOCAL;

    log_info("main",
             "uploader %s: topic %s on %s, group %s, %lld workers, queue "
             "%lld, store %s%s%s%s, batches close at %lld records, %lld "
             "bytes or %lld ms",
             MILLRACE_VERSION, cfg->kafka.topic, cfg->kafka.brokers,
             cfg->uploader.group, cfg->uploader.workers, cfg->uploader.queue,
             store_name(st), local ? " " : " bucket ",
             local ? cfg->uploader.local_dir : cfg->s3.bucket,
             local                   ? ""
             : setup_path_style(cfg) ? " (path-style)"
                                     : " (virtual-hosted)",
             cfg->uploader.max_records, cfg->uploader.max_bytes,
             cfg->uploader.max_age_ms);
}

#define USAGE_COMMANDS                                                         \
    "command:\n"                                                               \
    "  uploader replay MODE [OPTIONS]\n"                                       \
    "                  re-read a range of Kafka (partition and offsets, a\n"   \
    "                  time range, or the dead-letter topic) and write it\n"   \
    "                  to the store again with the same keys; see\n"           \
    "                  'uploader replay --help'\n\n"

int main(int argc, char **argv)
{
    uploader_config cfg;
    cfg_table table;
    daemon_opts opts;
    upload_stats stats;
    store *st = NULL;
    creds_provider *cp = NULL;
    consumer *c = NULL;
    dlq *dq = NULL;
    health *h = NULL;
    daemon_reload_spec reload;
    char errbuf[512];
    int rc, err;

    if (argc > 1 && strcmp(argv[1], "replay") == 0)
        return replay_main(argc - 1, argv + 1);
    memset(&cfg, 0, sizeof(cfg));
    memset(&stats, 0, sizeof(stats));
    rc = daemon_parse_args(argc, argv, "uploader",
                           "Writes the events topic to S3 in batches.",
                           USAGE_COMMANDS, &opts);
    if (rc >= 0)
        return rc;
    uploader_config_table(&table, &cfg);
    rc = daemon_load_config(&table, &opts, validate_cb, &cfg.log);
    if (rc == 0 && opts.check_config && !opts.config_doc &&
        s3_global_init() == 0) {
        /* Which credentials the uploader would sign with, here and now. */
        setup_print_creds(&cfg, stdout);
        s3_global_cleanup();
    }
    if (rc >= 0)
        goto out;
    rc = 1;
    daemon_install_signals();
    if (s3_global_init() < 0) {
        log_error("main", "libcurl initialisation failed");
        goto out;
    }
    cp = setup_creds(&cfg, &err, errbuf, sizeof(errbuf));
    if (err) {
        log_error("main", "credentials: %s", errbuf);
        goto out;
    }
    if (cp && setup_creds_start(cp, errbuf, sizeof(errbuf)) < 0) {
        log_error("main", "credentials: %s", errbuf);
        goto out;
    }
    st = setup_store(&cfg, cp, errbuf, sizeof(errbuf));
    if (st == NULL) {
        log_error("main", "store: %s", errbuf);
        goto out;
    }
    dq = setup_dlq(&cfg, errbuf, sizeof(errbuf));
    if (dq == NULL) {
        log_error("main", "dead-letter producer: %s", errbuf);
        goto out;
    }
    c = consumer_new(&cfg, st, dq, &stats, errbuf, sizeof(errbuf));
    if (c == NULL) {
        log_error("main", "consumer: %s", errbuf);
        goto out;
    }
    h = health_start(cfg.uploader.listen, c, dq, &stats, cp, errbuf,
                     sizeof(errbuf));
    if (h == NULL) {
        log_error("main", "health: %s", errbuf);
        goto out;
    }
    log_started(&cfg, st);
    memset(&reload, 0, sizeof(reload));
    reload.live = &table;
    reload.base_size = sizeof(cfg);
    reload.opts = &opts;
    reload.validate = validate_cb;
    reload.log_offset = offsetof(uploader_config, log);
    reload.apply = reload_uploader;
    reload.arg = cp;
    if (daemon_reloader_start(&reload) < 0)
        log_warn("main", "no SIGHUP reloader thread: SIGHUP is ignored");
    rc = consumer_run(c) == 0 ? 0 : 1;
    log_info("main", "stopped");
out:
    daemon_reloader_stop();
    health_stop(h);
    consumer_free(c);
    dlq_free(dq);
    store_destroy(st);
    creds_provider_free(cp); /* after the store that borrowed it */
    s3_global_cleanup();
    cfg_free(&table);
    return rc;
}
