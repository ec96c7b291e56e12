/* replay_args.c -- the command line of `uploader replay`: its usage, its
 * options, and the checks that one mode is chosen whole. */
#include "replay_int.h"

#include <getopt.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

static void usage(FILE *f)
{
    fputs(
        "usage: uploader replay [--config FILE] [--topic T] MODE [OPTIONS]\n"
        "\n"
        "Re-reads Kafka and writes the records to the store again, with the\n"
        "live uploader's batching, formats and keys: what is already stored\n"
        "is rewritten identically, what is missing appears. It never\n"
        "writes or changes an hour's _SUCCESS marker: objects it adds to a\n"
        "marked hour are not in that hour's manifest.\n"
        "\n"
        "modes (one):\n"
        "  --partition P --from-offset A --to-offset B   one partition, A..B\n"
        "  --since TIME [--until TIME]   all partitions, by record time\n"
        "                                (RFC 3339 or ms since the epoch)\n"
        "  --from-dlq [--reason R] [--source-partition P]\n"
        "                                re-make the batches of the records\n"
        "                                in the dead-letter topic\n"
        "options:\n"
        "  --prefix X, --bucket B   write there instead (the index is read\n"
        "                           from the configured place)\n"
        "  --dry-run                count what would be written\n"
        "\n"
        "exit: 0 done, 3 some records not written, 2 bad arguments,\n"
        "      1 could not run\n",
        f);
}

int replay_parse_int64(const char *s, int64_t *out)
{
    char *end;
    long long v = strtoll(s, &end, 10);

    if (*s == '\0' || *end != '\0' || v < 0)
        return -1;
    *out = v;
    return 0;
}

static int check_mode(const replay_opts *o);

int replay_parse_args(int argc, char **argv, replay_opts *o)
{
    static const struct option longs[] = {
        {"config", required_argument, NULL, 'c'},
        {"topic", required_argument, NULL, 't'},
        {"partition", required_argument, NULL, 'p'},
        {"from-offset", required_argument, NULL, 'a'},
        {"to-offset", required_argument, NULL, 'b'},
        {"since", required_argument, NULL, 's'},
        {"until", required_argument, NULL, 'u'},
        {"from-dlq", no_argument, NULL, 'd'},
        {"reason", required_argument, NULL, 'r'},
        {"source-partition", required_argument, NULL, 'P'},
        {"prefix", required_argument, NULL, 'x'},
        {"bucket", required_argument, NULL, 'B'},
        {"dry-run", no_argument, NULL, 'n'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0}};
    int64_t v;
    int ch;

    memset(o, 0, sizeof(*o));
    o->partition = -1;
    o->source_partition = -1;
    o->from_offset = o->to_offset = -1;
    o->config = getenv("MILLRACE_CONFIG");
    optind = 1;
    while ((ch = getopt_long(argc, argv, "h", longs, NULL)) != -1) {
        switch (ch) {
        case 'c':
            o->config = optarg;
            break;
        case 't':
            o->topic = optarg;
            break;
        case 'p':
        case 'P':
            if (replay_parse_int64(optarg, &v) < 0 || v > 1000000) {
                fprintf(stderr, "replay: bad partition \"%s\"\n", optarg);
                return REPLAY_BAD_ARGS;
            }
            *(ch == 'p' ? &o->partition : &o->source_partition) = (int)v;
            break;
        case 'a':
        case 'b':
            if (replay_parse_int64(optarg, &v) < 0) {
                fprintf(stderr, "replay: bad offset \"%s\"\n", optarg);
                return REPLAY_BAD_ARGS;
            }
            *(ch == 'a' ? &o->from_offset : &o->to_offset) = v;
            break;
        case 's':
            o->since = optarg;
            break;
        case 'u':
            o->until = optarg;
            break;
        case 'd':
            o->from_dlq = 1;
            break;
        case 'r':
            o->reason = optarg;
            break;
        case 'x':
            o->prefix = optarg;
            break;
        case 'B':
            o->bucket = optarg;
            break;
        case 'n':
            o->dry_run = 1;
            break;
        case 'h':
            usage(stdout);
            return REPLAY_OK;
        default:
            usage(stderr);
            return REPLAY_BAD_ARGS;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "replay: unexpected argument \"%s\"\n", argv[optind]);
        return REPLAY_BAD_ARGS;
    }
    return check_mode(o);
}

/* One mode, whole: -1 when it is, else REPLAY_BAD_ARGS (said why). */
static int check_mode(const replay_opts *o)
{
    int modes =
        (o->partition >= 0 || o->from_offset >= 0 || o->to_offset >= 0) +
        (o->since != NULL || o->until != NULL) + o->from_dlq;
    if (modes != 1) {
        fprintf(stderr, "replay: choose one mode: --partition with "
                        "--from-offset/--to-offset, --since/--until, or "
                        "--from-dlq\n");
        return REPLAY_BAD_ARGS;
    }
    if ((o->partition >= 0 || o->from_offset >= 0 || o->to_offset >= 0) &&
        (o->partition < 0 || o->from_offset < 0 || o->to_offset < 0)) {
        fprintf(stderr, "replay: --partition, --from-offset and --to-offset "
                        "go together\n");
        return REPLAY_BAD_ARGS;
    }
    if (o->from_offset > o->to_offset) {
        fprintf(stderr,
                "replay: --from-offset %" PRId64 " is after "
                "--to-offset %" PRId64 "\n",
                o->from_offset, o->to_offset);
        return REPLAY_BAD_ARGS;
    }
    if ((o->since || o->until) && o->since == NULL) {
        fprintf(stderr, "replay: --until needs --since\n");
        return REPLAY_BAD_ARGS;
    }
    if (!o->from_dlq && (o->reason || o->source_partition >= 0)) {
        fprintf(stderr, "replay: --reason and --source-partition go with "
                        "--from-dlq\n");
        return REPLAY_BAD_ARGS;
    }
    return -1;
}
