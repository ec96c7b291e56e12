/* kafka.c -- librdkafka configuration shared by both daemons: bootstrap,
 * pass-through properties, logging into our log format. */
#include "kafka.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "kafkasec.h"
#include "log.h"
#include "mskiam.h"

int kafka_conf_set(rd_kafka_conf_t *conf, const char *name, const char *value,
                   char *errbuf, size_t errlen)
{
    char why[256];

    if (rd_kafka_conf_set(conf, name, value, why, sizeof(why)) !=
        RD_KAFKA_CONF_OK) {
        /* librdkafka's reason quotes no value; ours must not either when
         * it is a credential. */
        snprintf(errbuf, errlen, "kafka property %s=%s: %s", name,
                 kafkasec_sensitive(name) ? "********" : value, why);
        return -1;
    }
    return 0;
}

static void kafka_log_cb(const rd_kafka_t *rk, int level, const char *fac,
                         const char *buf)
{
    enum log_level lvl = level <= 3   ? LOG_ERROR
                         : level <= 4 ? LOG_WARN
                         : level <= 6 ? LOG_INFO
                                      : LOG_DEBUG;
    (void)rk;
    log_msg(lvl, "kafka", "%s: %s", fac, buf);
}

int kafka_conf_apply_properties(rd_kafka_conf_t *conf, const char *properties,
                                char *errbuf, size_t errlen)
{
    const char *cur = properties;
    char item[1024];
    int i = 0;

    while (cfg_list_next(&cur, item, sizeof(item))) {
        char *eq = strchr(item, '=');
        i++;
        if (item[0] == '\0')
            continue;
        if (eq == NULL) {
            /* Not quoted: it may be a mistyped "sasl.password: ..." */
            snprintf(errbuf, errlen,
                     "kafka.properties item %d: expected name=value", i);
            return -1;
        }
        *eq = '\0';
        if (kafka_conf_set(conf, item, eq + 1, errbuf, errlen) < 0)
            return -1;
    }
    return 0;
}

rd_kafka_conf_t *kafka_conf_build(const kafka_settings *ks,
                                  const kafka_prop *props, size_t n,
                                  char *errbuf, size_t errlen)
{
    rd_kafka_conf_t *conf = kafka_conf_new(ks, errbuf, errlen);

    if (conf == NULL)
        return NULL;
    for (size_t i = 0; i < n; i++) {
        if (kafka_conf_set(conf, props[i].name, props[i].value, errbuf,
                           errlen) < 0)
            goto fail;
    }
    if (kafka_conf_apply_properties(conf, ks->properties, errbuf, errlen) < 0)
        goto fail;
    return conf;
fail:
    rd_kafka_conf_destroy(conf);
    return NULL;
}

static int value_allowed(const char *v, const char *const *allowed)
{
    for (; *allowed; allowed++)
        if (strcasecmp(v, *allowed) == 0)
            return 1;
    return 0;
}

int kafka_properties_guard(const char *properties, const kafka_guard *guards,
                           size_t n, cfg_errors *errs)
{
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    char why[512];
    int bad = 0;

    for (size_t i = 0; i < n; i++)
        if (kafka_conf_set(conf, guards[i].name, guards[i].preset, why,
                           sizeof(why)) < 0)
            goto done;
    if (kafka_conf_apply_properties(conf, properties, why, sizeof(why)) < 0)
        goto done;
    for (size_t i = 0; i < n; i++) {
        char v[64];
        size_t vlen = sizeof(v);
        if (rd_kafka_conf_get(conf, guards[i].name, v, &vlen) !=
            RD_KAFKA_CONF_OK)
            continue;
        if (value_allowed(v, guards[i].allowed))
            continue;
        cfg_error_add(errs,
                      "kafka.properties sets %s=%s: %s (refused; allowed: "
                      "%s)",
                      guards[i].name, v, guards[i].why, guards[i].allowed[0]);
        bad++;
    }
done:
    rd_kafka_conf_destroy(conf);
    return bad;
}

rd_kafka_t *kafka_new(rd_kafka_type_t type, rd_kafka_conf_t *conf, char *errbuf,
                      size_t errlen)
{
    char mech[32];
    size_t n = sizeof(mech);
    int oauth = rd_kafka_conf_get(conf, "sasl.mechanisms", mech, &n) ==
                    RD_KAFKA_CONF_OK &&
                strcmp(mech, "OAUTHBEARER") == 0;
    rd_kafka_t *rk = rd_kafka_new(type, conf, errbuf, errlen);
    char why[256];

    /* An OAUTHBEARER set up by operators' properties alone (OIDC) has no
     * SASL queue of ours: nothing to start then. */
    if (rk && oauth && mskiam_client_started(rk, why, sizeof(why)) != 0)
        log_debug("kafka", "%s", why);
    return rk;
}

rd_kafka_conf_t *kafka_conf_new(const kafka_settings *ks, char *errbuf,
                                size_t errlen)
{
    rd_kafka_conf_t *conf = rd_kafka_conf_new();

    rd_kafka_conf_set_log_cb(conf, kafka_log_cb);
    kafkasec_redact_secrets(ks);
    if (kafka_conf_set(conf, "bootstrap.servers", ks->brokers, errbuf, errlen) <
        0)
        goto fail;
    if (kafkasec_apply(conf, ks, errbuf, errlen) < 0)
        goto fail;
    return conf;
fail:
    rd_kafka_conf_destroy(conf);
    return NULL;
}

static long long max_message_bytes_of(rd_kafka_event_t *ev, char *why,
                                      size_t whylen)
{
    const rd_kafka_DescribeConfigs_result_t *r;
    const rd_kafka_ConfigResource_t **res;
    const rd_kafka_ConfigEntry_t **entries;
    size_t n = 0;
    size_t ne = 0;

    r = rd_kafka_event_DescribeConfigs_result(ev);
    res = r ? rd_kafka_DescribeConfigs_result_resources(r, &n) : NULL;
    if (n != 1) {
        snprintf(why, whylen, "DescribeConfigs: no answer for the topic");
        return -1;
    }
    if (rd_kafka_ConfigResource_error(res[0])) {
        snprintf(why, whylen, "DescribeConfigs: %s",
                 rd_kafka_ConfigResource_error_string(res[0]));
        return -1;
    }
    entries = rd_kafka_ConfigResource_configs(res[0], &ne);
    for (size_t i = 0; i < ne; i++) {
        const char *v = rd_kafka_ConfigEntry_value(entries[i]);
        if (strcmp(rd_kafka_ConfigEntry_name(entries[i]),
                   "max.message.bytes") == 0 &&
            v && atoll(v) > 0)
            return atoll(v);
    }
    snprintf(why, whylen, "DescribeConfigs: no max.message.bytes");
    return -1;
}

long long kafka_topic_max_message_bytes(rd_kafka_t *rk, const char *topic,
                                        int timeout_ms, char *why,
                                        size_t whylen)
{
    rd_kafka_ConfigResource_t *res =
        rd_kafka_ConfigResource_new(RD_KAFKA_RESOURCE_TOPIC, topic);
    rd_kafka_AdminOptions_t *opt =
        rd_kafka_AdminOptions_new(rk, RD_KAFKA_ADMIN_OP_DESCRIBECONFIGS);
    rd_kafka_queue_t *q = rd_kafka_queue_new(rk);
    rd_kafka_event_t *ev = NULL;
    long long v = -1;
    char err[256];

    if (rd_kafka_AdminOptions_set_request_timeout(opt, timeout_ms, err,
                                                  sizeof(err))) {
        snprintf(why, whylen, "DescribeConfigs: %s", err);
        goto done;
    }
    rd_kafka_DescribeConfigs(rk, &res, 1, opt, q);
    ev = rd_kafka_queue_poll(q, timeout_ms + 1000);
    if (ev == NULL)
        snprintf(why, whylen, "DescribeConfigs: no answer in %d ms",
                 timeout_ms);
    else if (rd_kafka_event_error(ev))
        snprintf(why, whylen, "DescribeConfigs: %s",
                 rd_kafka_event_error_string(ev));
    else
        v = max_message_bytes_of(ev, why, whylen);
done:
    if (ev)
        rd_kafka_event_destroy(ev);
    rd_kafka_queue_destroy(q);
    rd_kafka_AdminOptions_destroy(opt);
    rd_kafka_ConfigResource_destroy(res);
    return v;
}
