/* gen_events.c -- `make bench-uploader`'s data: N NDJSON events of about 500
 * bytes, the same N for the same seed, split over P files (one per
 * partition, events dealt out in turn) for kcat -P -l.
 *
 *   gen-events COUNT PARTS OUTPREFIX [SEED]
 *     writes OUTPREFIX.0 .. OUTPREFIX.{PARTS-1}, and prints the number of
 *     bytes written (events plus one newline each)
 *
 * Events look like device telemetry: a random id and session (hex, which
 * does not compress), a few numbers, a time, fields drawn from small sets
 * (which compress well), so gzip sees what it would see in production
 * rather than one event repeated. */
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

static uint64_t rng_state;

static uint64_t rnd(void) /* xorshift64* */
{
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return rng_state * 0x2545F4914F6CDD1DULL;
}

static unsigned pick(unsigned n)
{
    return (unsigned)(rnd() % n);
}

static const char *const types[] = {"reading", "reading",   "reading",
                                    "alert",   "heartbeat", "status"};
static const char *const agents[] = {
    "millrace-sensor/4.2.1 (linux; arm64)",
    "millrace-sensor/4.2.0 (linux; armv7)",
    "millrace-gateway/1.9.3 (linux; x86_64)",
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko)",
    "okhttp/4.12.0",
    "python-requests/2.31.0",
};
static const char *const msgs[] = {
    "door opened by badge %u",
    "threshold exceeded on channel %u, value held for 30 s",
    "periodic reading",
    "battery below 20 percent, estimated %u hours left",
    "reconnected to gateway after %u ms",
    "firmware check: up to date",
    "motion detected in zone %u",
};

static int event(char *buf, size_t cap, uint64_t seq)
{
    char msg[96];
    unsigned dev = pick(20000);
    unsigned ms = (unsigned)(seq % 3600000);

    snprintf(msg, sizeof(msg), msgs[pick(7)], pick(10000));
    return snprintf(
        buf, cap,
        "{\"id\":\"%08x-%04x-4%03x-%04x-%012" PRIx64 "\",\"device\":"
        "\"sensor-%05u\",\"type\":\"%s\",\"ts\":\"2026-11-27T18:%02u:%02u."
        "%03uZ\",\"seq\":%" PRIu64 ",\"temp_c\":%u.%02u,\"humidity\":%u.%u,"
        "\"battery\":0.%02u,\"fw\":\"4.2.%u\",\"tags\":[\"indoor\","
        "\"floor-%u\",\"zone-%c\"],\"loc\":{\"lat\":52.%04u,\"lon\":21.%04u},"
        "\"net\":{\"ip\":\"10.%u.%u.%u\",\"rssi\":-%u,\"session\":\"%016" PRIx64
        "\"},\"http\":{\"method\":\"POST\",\"path\":\"/api/v2/devices/%05u/"
        "readings\",\"status\":%u,\"latency_ms\":%u.%u,\"agent\":\"%s\"},"
        "\"msg\":\"%s\"}",
        (unsigned)rnd(), pick(65536), pick(4096), 0x8000 + pick(16384),
        rnd() & (uint64_t)0xffffffffffff, dev, types[pick(6)], ms / 60000,
        ms / 1000 % 60, ms % 1000, seq, 15 + pick(15), pick(100), 30 + pick(50),
        pick(10), 10 + pick(90), pick(4), 1 + pick(12), 'a' + (int)pick(8),
        pick(10000), pick(10000), pick(256), pick(256), pick(256),
        40 + pick(60), rnd(), dev, pick(8) ? 202u : 503u, pick(200), pick(10),
        agents[pick(6)], msg);
}

int main(int argc, char **argv)
{
    char buf[1024];
    char path[4096];
    FILE **out;
    uint64_t count, bytes = 0;
    int parts;
    int rc = 1;

    if (argc < 4 || argc > 5) {
        fprintf(stderr, "usage: gen-events COUNT PARTS OUTPREFIX [SEED]\n");
        return 2;
    }
    count = strtoull(argv[1], NULL, 10);
    parts = atoi(argv[2]);
    rng_state = argc == 5 ? strtoull(argv[4], NULL, 10) : 42;
    if (rng_state == 0)
        rng_state = 42;
    if (parts < 1) {
        fprintf(stderr, "gen-events: PARTS must be at least 1\n");
        return 2;
    }
    out = calloc((size_t)parts, sizeof(*out));
    if (out == NULL)
        return 1;
    for (int i = 0; i < parts; i++) {
        snprintf(path, sizeof(path), "%s.%d", argv[3], i);
        out[i] = fopen(path, "w");
        if (out[i] == NULL) {
            perror(path);
            goto done;
        }
    }
    for (uint64_t s = 0; s < count; s++) {
        int n = event(buf, sizeof(buf) - 1, s);
        if (n < 0 || (size_t)n >= sizeof(buf) - 1) {
            fprintf(stderr, "gen-events: event %" PRIu64 " too long\n", s);
            goto done;
        }
        buf[n++] = '\n';
        if (fwrite(buf, 1, (size_t)n, out[s % (uint64_t)parts]) != (size_t)n) {
            perror("gen-events: write");
            goto done;
        }
        bytes += (uint64_t)n;
    }
    rc = 0;
    printf("%" PRIu64 "\n", bytes);
done:
    for (int i = 0; i < parts; i++)
        if (out[i] && fclose(out[i]) != 0)
            rc = 1;
    free(out);
    return rc;
}
