/* setup.c -- building the uploader's store, its credentials and its
 * dead-letter producer from its settings; shared by the daemon and by
 * replay. */
#include "setup.h"

#include <stdlib.h>
#include <string.h>

#include "credsrc.h"
#include "kafka.h"
#include "store/localstore.h"
#include "log.h"
#include "store/s3.h"

/* A bucket name that can be the first label of a host name under TLS
 * (no dots: a wildcard certificate covers one label). */
static int dns_safe_bucket(const char *b)
{
    size_t n = strlen(b);

    if (n < 3 || n > 63 || b[0] == '-' || b[n - 1] == '-')
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!((b[i] >= 'a' && b[i] <= 'z') || (b[i] >= '0' && b[i] <= '9') ||
              b[i] == '-'))
            return 0;
    return 1;
}

int setup_path_style(const uploader_config *cfg)
{
    if (cfg->s3.path_style >= 0)
        return cfg->s3.path_style;
    if (cfg->s3.endpoint[0])
        return 1;
    return !dns_safe_bucket(cfg->s3.bucket);
}

#define DEFAULT_REGION "us-east-1"

static const char *plain_getenv(const char *name)
{
    return getenv(name);
}

const char *setup_region(const uploader_config *cfg,
                         const char *(*getenv_fn)(const char *), char *out,
                         size_t outlen)
{
    const char *v;

    if (getenv_fn == NULL)
        getenv_fn = plain_getenv;
    if (cfg->s3.region[0]) {
        snprintf(out, outlen, "%s", cfg->s3.region);
        return "s3.region";
    }
    v = getenv_fn("AWS_DEFAULT_REGION");
    if (v && *v) {
        snprintf(out, outlen, "%s", v);
        return "AWS_DEFAULT_REGION";
    }
    if (credsrc_profile_region(getenv_fn, out, outlen))
        return "the shared profile";
    snprintf(out, outlen, DEFAULT_REGION);
    return "default";
}

static int is_s3(const uploader_config *cfg)
{
    return cfg->uploader.store == UPLOADER_STORE_S3;
}

static creds_provider *make_creds(const uploader_config *cfg, int quiet,
                                  int *err, char *errbuf, size_t errlen)
{
    creds_options o;
    char region[64];

    *err = 0;
    if (!is_s3(cfg))
        return NULL;
    memset(&o, 0, sizeof(o));
    setup_region(cfg, NULL, region, sizeof(region));
    o.access_key = cfg->s3.access_key;
    o.secret_key = cfg->s3.secret_key;
    o.session_token = cfg->s3.session_token;
    o.region = region;
    o.quiet = quiet;
    creds_provider *cp = creds_provider_new(&o, errbuf, errlen);
    *err = cp == NULL;
    return cp;
}

creds_provider *setup_creds(const uploader_config *cfg, int *err, char *errbuf,
                            size_t errlen)
{
    return make_creds(cfg, 0, err, errbuf, errlen);
}

int setup_creds_start(creds_provider *cp, char *errbuf, size_t errlen)
{
    char why[1024];
    int rc = 0;

    /* A failure is logged by the provider, with every source's reason. */
    if (creds_provider_resolve(cp, why, sizeof(why)) != 0) {
        errbuf_set(errbuf, errlen, "no AWS credentials: %s", why);
        rc = 1;
    }
    if (creds_provider_start(cp, errbuf, errlen) != 0)
        return -1;
    return rc;
}

static void print_time(FILE *out, const char *what, time_t t)
{
    struct tm tm;
    char buf[32];

    if (t == 0 || !gmtime_r(&t, &tm))
        return;
    strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", &tm);
    fprintf(out, ", %s %s", what, buf);
}

int setup_print_creds(const uploader_config *cfg, FILE *out)
{
    char region[64], why[1024], errbuf[256];
    const char *from;
    creds_provider *cp;
    creds_status s;
    int err, found;

    if (!is_s3(cfg))
        return 1;
    from = setup_region(cfg, NULL, region, sizeof(region));
    fputs("# region: ", out);
    cfg_print_escaped(out, region, strlen(region));
    fprintf(out, " (%s)\n", from);
    cp = make_creds(cfg, 1, &err, errbuf, sizeof(errbuf));
    if (cp == NULL) {
        fprintf(out, "# credentials: %s\n", errbuf);
        return 0;
    }
    found = creds_provider_resolve(cp, why, sizeof(why)) == 0;
    creds_provider_status(cp, &s);
    if (found) {
        fprintf(out, "# credentials: source %s (%s), access key %s%s",
                creds_source_name(s.source), s.detail, s.access_key,
                s.expiration ? ", temporary" : "");
        print_time(out, "expire", s.expiration);
        print_time(out, "refresh at", s.next_refresh);
        fputc('\n', out);
    } else {
        fprintf(out,
                "# credentials: none available now: %s (the uploader would "
                "start not ready and keep trying)\n",
                why);
    }
    creds_provider_free(cp);
    return found;
}

store *setup_store(const uploader_config *cfg, creds_provider *cp, char *errbuf,
                   size_t errlen)
{
    s3_options o;
    char endpoint[512], region[64];

    if (!is_s3(cfg))
        return localstore_new(cfg->uploader.local_dir, errbuf, errlen);
    memset(&o, 0, sizeof(o));
    setup_region(cfg, NULL, region, sizeof(region));
    if (cfg->s3.endpoint[0]) {
        o.endpoint = cfg->s3.endpoint;
    } else {
        snprintf(endpoint, sizeof(endpoint), "https://s3.%s.amazonaws.com",
                 region);
        o.endpoint = endpoint;
    }
    o.bucket = cfg->s3.bucket;
    o.region = region;
    o.creds = cp;
    o.path_style = setup_path_style(cfg);
    o.connect_timeout_ms = (long)cfg->s3.connect_timeout_ms;
    o.request_timeout_ms = (long)cfg->s3.request_timeout_ms;
    o.sse = uploader_sse_names[cfg->s3.sse];
    o.sse_kms_key_id = cfg->s3.sse_kms_key_id;
    o.storage_class = cfg->s3.storage_class;
    return s3_store_new(&o, errbuf, errlen);
}

void setup_upload_ctx(const uploader_config *cfg, store *st,
                      upload_stats *stats, upload_ctx *u)
{
    memset(u, 0, sizeof(*u));
    u->st = st;
    u->topic = cfg->kafka.topic;
    u->prefix = cfg->s3.prefix;
    u->format = (encode_format)cfg->uploader.format;
    u->content_encoding = cfg->uploader.content_encoding == UPLOADER_CE_FORMAT;
    u->level = (int)cfg->uploader.level;
    u->line_metadata = cfg->uploader.line_metadata;
    u->time_field = cfg->uploader.time_field;
    u->retry_base_ms = cfg->uploader.retry_base_ms;
    u->retry_max_ms = cfg->uploader.retry_max_ms;
    u->stats = stats;
    u->max_record_bytes = (size_t)cfg->uploader.max_record_bytes;
    u->max_depth = (int)cfg->uploader.max_json_depth;
    u->permanent_to_dlq_after =
        cfg->uploader.on_permanent_error == UPLOADER_ON_PERMANENT_DLQ
            ? (int)cfg->uploader.permanent_retries
            : 0;
    u->write_index = cfg->uploader.index;
    u->multipart_threshold = (size_t)cfg->uploader.multipart_threshold;
    u->part_size = (size_t)cfg->uploader.part_size;
}

dlq *setup_dlq(const uploader_config *cfg, char *errbuf, size_t errlen)
{
    static const kafka_prop props[] = {
        {"enable.idempotence", "true"},
        {"acks", "all"},
    };
    rd_kafka_conf_t *conf =
        kafka_conf_build(&cfg->kafka, props, 2, errbuf, errlen);

    if (conf == NULL)
        return NULL;
    return dlq_new(conf, cfg->kafka.topic, errbuf, errlen);
}
