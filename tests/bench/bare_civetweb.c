/* bare_civetweb.c -- the ceiling of ingest-api's HTTP tier for
 * `make bench-ingest`: civetweb with ingest-api's options, and one handler
 * that reads the whole body and answers 202 with a JSON body of the same
 * shape, nothing else (no parsing, no Kafka).
 *   bare-civetweb PORT THREADS */
#include <civetweb.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
    (void)sig;
    stop = 1;
}

static int handle(struct mg_connection *c, void *data)
{
    static const char body[] = "{\"accepted\":1}\n";
    char buf[16384];
    char out[256];
    int n;

    (void)data;
    while (mg_read(c, buf, sizeof(buf)) > 0)
        ;
    n = snprintf(out, sizeof(out),
                 "HTTP/1.1 202 Accepted\r\n"
                 "Content-Type: application/json\r\n"
                 "Content-Length: %zu\r\n"
                 "Cache-Control: no-store\r\n"
                 "X-Request-Id: 00000000-0\r\n\r\n%s",
                 sizeof(body) - 1, body);
    mg_write(c, out, (size_t)n);
    return 202;
}

int main(int argc, char **argv)
{
    struct mg_callbacks cb;
    struct mg_context *ctx;
    const char *opts[] = {"listening_ports",
                          argc > 1 ? argv[1] : "127.0.0.1:18600",
                          "num_threads",
                          argc > 2 ? argv[2] : "64",
                          "enable_keep_alive",
                          "yes",
                          "keep_alive_timeout_ms",
                          "5000",
                          "request_timeout_ms",
                          "10000",
                          "connection_queue",
                          "128",
                          "listen_backlog",
                          "1024",
                          "tcp_nodelay",
                          "1",
                          NULL};

    signal(SIGTERM, on_signal);
    signal(SIGINT, on_signal);
    memset(&cb, 0, sizeof(cb));
    ctx = mg_start(&cb, NULL, opts);
    if (ctx == NULL) {
        fprintf(stderr, "bare-civetweb: cannot listen on %s\n", opts[1]);
        return 1;
    }
    mg_set_request_handler(ctx, "/", handle, NULL);
    while (!stop)
        usleep(100 * 1000);
    mg_stop(ctx);
    return 0;
}
