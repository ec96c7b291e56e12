/* openloop.c -- the open-loop HTTP/1.1 load generator of `make bench-ingest`:
 * requests leave at a fixed rate whatever the server does, and each one's
 * latency runs from when it was due, not from when it was written, so the
 * queueing a slow server causes is counted (no coordinated omission, as
 * wrk2). One thread, epoll (epoll_pwait2's nanosecond timeouts, or a
 * timerfd on kernels before 5.11); libc only.
 *
 *   openloop -r RATE -d SECONDS -c CONNECTIONS -b BODY_FILE
 *            [-H 'Name: value']... [-w WARMUP_SECONDS] [-t TIMEOUT_SECONDS]
 *            http://HOST:PORT/path
 *
 * Request i is due at t0 + i/RATE (CLOCK_MONOTONIC). When it is due it is
 * written on the idle connection that has waited longest; if none is idle
 * it waits in a FIFO, which holds at most RATE x 1 s requests: beyond that
 * the generator is saturated (the server is far behind) and further due
 * requests are not sent but counted as "dropped". Every request is
 * `POST path` with the body file, Content-Type: application/json unless a
 * -H gives one, Content-Length, keep-alive. A response is read to its end
 * (Content-Length, or the connection's close without one); chunked bodies
 * are not supported and count as bad responses. `Connection: close`, a
 * reset, an EOF or a request older than the timeout (10 s) closes the
 * connection, which is opened again at once; the request is an error, not
 * retried. Requests due in the first WARMUP_SECONDS are sent, then ignored.
 *
 * Prints one JSON line on stdout, every count over the measured requests:
 *   intended      requests due in the measured window (RATE x SECONDS)
 *   sent          written to a connection (intended - dropped)
 *   completed     with a whole response (any status; see "status")
 *   errors        sent without a whole response; of which "timeouts" and
 *                 "bad_responses" (malformed, chunked)
 *   dropped       never sent: the FIFO was full, or still queued at the end
 *   achieved_rps  completed / max(SECONDS, last completion - window start)
 *   p50_ms .. max_ms, mean_ms  latency, completion - due time, from a
 *                 log-linear histogram (<= 0.8% relative error, 1 us ..
 *                 134 s)
 *   late_sends    requests the generator itself noticed more than 1 ms
 *                 after they were due (its own lag; max_lag_ms the worst)
 *   conn_waits    requests that waited in the FIFO for a free connection
 *   conn_errors   failed connects; reconnects: connections opened again
 *   cpu_s         the generator's own CPU time (user + system)
 * Exit status: 0 after a run (errors are in the JSON), 1 when the target
 * cannot be reached at all or setup fails, 2 on bad arguments. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#define NS_PER_S 1000000000LL
#define NS_PER_MS 1000000LL
#define READ_BUF 8192 /* the largest response head */
#define MAX_HEADERS 32
#define MAX_BODY (64 << 20)
#define TICK_NS (10 * NS_PER_MS)   /* timeouts and reconnects checked */
#define RETRY_NS (100 * NS_PER_MS) /* before connecting again after a fail */
#define LATE_NS NS_PER_MS
#define CONNECT_WAIT_NS (5 * NS_PER_S)
#define TIMER_ID UINT64_MAX
#define TIMER_SLACK_NS 10000UL
#define MAX_EVENTS 256

/* Latency histogram in microseconds: one bucket per value below 256, then
 * 128 buckets per power of two, so a bucket is at most 1/128 of its values
 * wide. The last bucket takes everything from 2^27 us (134 s) on; the
 * maximum is kept exactly. */
#define H_SUB 128
#define H_LINEAR 256
#define H_TOP_BIT 27
#define H_BUCKETS (H_LINEAR + (H_TOP_BIT - 8) * H_SUB)

enum conn_state { C_CLOSED, C_CONNECTING, C_IDLE, C_BUSY };
enum parse_state { P_HEAD, P_BODY, P_BODY_EOF };
enum fail_kind { F_IO, F_TIMEOUT, F_BAD };

struct opts {
    double rate;
    double duration;
    double warmup;
    double timeout;
    int conns;
    const char *body_file;
    const char *url;
    const char *headers[MAX_HEADERS];
    int nheaders;
};

struct target {
    char host[256];
    char port[8];
    const char *path;
};

struct hist {
    uint64_t counts[H_BUCKETS];
    uint64_t total;
    uint64_t max_us;
    double sum_us;
};

struct conn {
    int fd;
    enum conn_state state;
    int prev; /* the idle list, oldest first */
    int next;
    int want_out;     /* EPOLLOUT is registered */
    uint32_t gen;     /* which socket of this slot an epoll event is for */
    int64_t req;      /* the request on this connection */
    int64_t sent_ns;  /* when it was written (or connecting), for timeouts */
    int64_t retry_ns; /* when closed: when to connect again */
    size_t wrote;
    enum parse_state ps;
    int status;
    int close_after;
    int64_t body_left;
    size_t len; /* bytes in buf */
    char *buf;
};

struct stats {
    int64_t intended;
    int64_t sent;
    int64_t completed;
    int64_t errors;
    int64_t timeouts;
    int64_t bad;
    int64_t dropped;
    int64_t conn_errors;
    int64_t reconnects;
    int64_t late_sends;
    int64_t conn_waits;
    int64_t max_lag_ns;
    int64_t last_done_ns;
    int64_t status[1000];
    struct hist hist;
};

struct gen {
    double rate;
    int64_t timeout_ns;
    struct sockaddr_in addr;
    char *req; /* the whole request, written as is every time */
    size_t req_len;
    int64_t t0;
    int64_t warm_n; /* requests below this index are the warm-up */
    int64_t total;
    int64_t next_i; /* the next request to become due */
    int64_t *pend;  /* the FIFO of due requests waiting for a connection */
    int64_t pend_cap;
    int64_t pend_head;
    int64_t pend_n;
    struct conn *conns;
    int nconns;
    int idle_head;
    int idle_tail;
    int inflight;
    int ep;
    int tfd; /* -1 while epoll_pwait2 works */
    int64_t armed_ns;
    int64_t next_tick_ns;
    int last_errno; /* of the last failed connect, for the setup message */
    struct stats st;
};

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
    (void)sig;
    stop = 1;
}

static int64_t now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * NS_PER_S + ts.tv_nsec;
}

/* --- histogram ----------------------------------------------------------- */

static size_t hist_index(uint64_t us)
{
    int e;

    if (us < H_LINEAR)
        return (size_t)us;
    if (us >= (1ULL << H_TOP_BIT))
        return H_BUCKETS - 1;
    e = 63 - __builtin_clzll(us);
    return H_LINEAR + (size_t)(e - 8) * H_SUB + ((us >> (e - 7)) - H_SUB);
}

/* The highest value bucket i holds (as HdrHistogram reports). */
static uint64_t hist_value(size_t i)
{
    size_t e;
    size_t sub;

    if (i < H_LINEAR)
        return i;
    e = (i - H_LINEAR) / H_SUB + 8;
    sub = (i - H_LINEAR) % H_SUB;
    return ((uint64_t)(H_SUB + sub + 1) << (e - 7)) - 1;
}

static void hist_add(struct hist *h, int64_t ns)
{
    uint64_t us = ns > 0 ? (uint64_t)ns / 1000 : 0;

    h->counts[hist_index(us)]++;
    h->total++;
    h->sum_us += (double)us;
    if (us > h->max_us)
        h->max_us = us;
}

static double hist_pct_ms(const struct hist *h, double pct)
{
    uint64_t want = (uint64_t)ceil(pct / 100.0 * (double)h->total);
    uint64_t seen = 0;
    size_t i;

    if (h->total == 0)
        return 0;
    if (want < 1)
        want = 1;
    for (i = 0; i < H_BUCKETS; i++) {
        seen += h->counts[i];
        if (seen >= want)
            break;
    }
    if (i == H_BUCKETS || hist_value(i) > h->max_us)
        return (double)h->max_us / 1000.0;
    return (double)hist_value(i) / 1000.0;
}

/* --- HTTP response parsing (no sockets) ---------------------------------- */

static int name_is(const char *p, size_t n, const char *name)
{
    return n == strlen(name) && strncasecmp(p, name, n) == 0;
}

/* A header value, without the spaces around it, contains the token. */
static int value_has(const char *p, size_t n, const char *token)
{
    size_t t = strlen(token);
    size_t i;

    for (i = 0; i + t <= n; i++)
        if (strncasecmp(p + i, token, t) == 0)
            return 1;
    return 0;
}

static int parse_header(struct conn *c, const char *p, size_t n, int64_t *cl)
{
    const char *colon = memchr(p, ':', n);
    const char *v;
    size_t name_len;
    size_t vn;
    char *end;
    char num[24];

    if (colon == NULL)
        return -1;
    name_len = (size_t)(colon - p);
    v = colon + 1;
    vn = n - name_len - 1;
    while (vn > 0 && (*v == ' ' || *v == '\t')) {
        v++;
        vn--;
    }
    while (vn > 0 && (v[vn - 1] == ' ' || v[vn - 1] == '\t'))
        vn--;
    if (name_is(p, name_len, "content-length")) {
        if (vn == 0 || vn >= sizeof(num))
            return -1;
        memcpy(num, v, vn);
        num[vn] = '\0';
        *cl = strtoll(num, &end, 10);
        if (*end != '\0' || *cl < 0)
            return -1;
    } else if (name_is(p, name_len, "transfer-encoding")) {
        if (!value_has(v, vn, "identity"))
            return -1; /* chunked: not supported */
    } else if (name_is(p, name_len, "connection")) {
        if (value_has(v, vn, "close"))
            c->close_after = 1;
        else if (value_has(v, vn, "keep-alive"))
            c->close_after = 0;
    }
    return 0;
}

/* The status line and headers, head_len bytes ending in the empty line. */
static int parse_head(struct conn *c, size_t head_len)
{
    const char *b = c->buf;
    const char *end = b + head_len - 2;
    const char *p;
    const char *eol;
    int64_t cl = -1;
    int i;

    if (head_len < 14 || memcmp(b, "HTTP/1.", 7) != 0 || b[8] != ' ')
        return -1;
    c->status = 0;
    for (i = 9; i < 12; i++) {
        if (b[i] < '0' || b[i] > '9')
            return -1;
        c->status = c->status * 10 + (b[i] - '0');
    }
    if (c->status < 100)
        return -1;
    c->close_after = b[7] == '0'; /* HTTP/1.0 closes unless told otherwise */
    p = memchr(b, '\n', head_len) + 1;
    while (p < end) {
        eol = memchr(p, '\n', (size_t)(end - p) + 1);
        if (parse_header(c, p, (size_t)(eol - p) - (eol[-1] == '\r'), &cl) < 0)
            return -1;
        p = eol + 1;
    }
    if (c->status == 204 || c->status == 304)
        cl = 0;
    c->body_left = cl;
    c->ps = cl >= 0 ? P_BODY : P_BODY_EOF;
    if (cl < 0)
        c->close_after = 1;
    return 0;
}

/* After n new bytes at the end of c->buf: 1 when the response is whole, 0
 * when more is needed, -1 when it is malformed or unsupported. */
static int conn_parse(struct conn *c, size_t n)
{
    const char *hdr_end;
    size_t head_len;
    size_t rest;

    if (c->ps == P_BODY_EOF) {
        c->len = 0;
        return 0;
    }
    if (c->ps == P_BODY) {
        c->len = 0;
        if ((int64_t)n > c->body_left)
            return -1; /* more than the response: nothing was asked */
        c->body_left -= (int64_t)n;
        return c->body_left == 0;
    }
    hdr_end = memmem(c->buf, c->len, "\r\n\r\n", 4);
    if (hdr_end == NULL)
        return c->len == READ_BUF ? -1 : 0;
    head_len = (size_t)(hdr_end - c->buf) + 4;
    if (parse_head(c, head_len) < 0)
        return -1;
    rest = c->len - head_len;
    if (c->status < 200) { /* interim (100 Continue): the real one follows */
        memmove(c->buf, c->buf + head_len, rest);
        c->len = rest;
        c->ps = P_HEAD;
        return rest > 0 ? conn_parse(c, rest) : 0;
    }
    if (c->ps == P_BODY_EOF) {
        c->len = 0;
        return 0;
    }
    c->len = 0;
    if ((int64_t)rest > c->body_left)
        return -1;
    c->body_left -= (int64_t)rest;
    return c->body_left == 0;
}

/* --- connections --------------------------------------------------------- */

static int measured(const struct gen *g, int64_t i)
{
    return i >= g->warm_n;
}

static int64_t due_ns(const struct gen *g, int64_t i)
{
    return g->t0 + (int64_t)((double)i * 1e9 / g->rate);
}

static void idle_push(struct gen *g, int ci)
{
    struct conn *c = &g->conns[ci];

    c->state = C_IDLE;
    c->prev = g->idle_tail;
    c->next = -1;
    if (g->idle_tail >= 0)
        g->conns[g->idle_tail].next = ci;
    else
        g->idle_head = ci;
    g->idle_tail = ci;
}

static void idle_remove(struct gen *g, int ci)
{
    struct conn *c = &g->conns[ci];

    if (c->prev >= 0)
        g->conns[c->prev].next = c->next;
    else
        g->idle_head = c->next;
    if (c->next >= 0)
        g->conns[c->next].prev = c->prev;
    else
        g->idle_tail = c->prev;
    c->prev = -1;
    c->next = -1;
}

static int idle_pop(struct gen *g)
{
    int ci = g->idle_head;

    if (ci >= 0)
        idle_remove(g, ci);
    return ci;
}

static void conn_watch(struct gen *g, struct conn *c, int op, uint32_t events)
{
    struct epoll_event ev;

    memset(&ev, 0, sizeof(ev));
    ev.events = events;
    ev.data.u64 = (uint64_t)c->gen << 32 | (uint64_t)(c - g->conns);
    if (epoll_ctl(g->ep, op, c->fd, &ev) < 0)
        fprintf(stderr, "openloop: epoll_ctl: %s\n", strerror(errno));
    c->want_out = (events & EPOLLOUT) != 0;
}

static void conn_close(struct gen *g, struct conn *c)
{
    if (c->state == C_IDLE)
        idle_remove(g, (int)(c - g->conns));
    if (c->state == C_BUSY)
        g->inflight--;
    if (c->fd >= 0)
        close(c->fd);
    c->fd = -1;
    c->state = C_CLOSED;
}

static void connect_failed(struct gen *g, struct conn *c, int err, int64_t now)
{
    g->st.conn_errors++;
    g->last_errno = err;
    conn_close(g, c);
    c->retry_ns = now + RETRY_NS;
}

static void conn_start(struct gen *g, int ci, int64_t now)
{
    struct conn *c = &g->conns[ci];
    int one = 1;

    c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (c->fd < 0) {
        connect_failed(g, c, errno, now);
        return;
    }
    setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    c->state = C_CONNECTING;
    c->sent_ns = now;
    c->gen++;
    if (connect(c->fd, (struct sockaddr *)&g->addr, sizeof(g->addr)) < 0 &&
        errno != EINPROGRESS) {
        connect_failed(g, c, errno, now);
        return;
    }
    /* Even a loopback connect that succeeded at once reports EPOLLOUT. */
    conn_watch(g, c, EPOLL_CTL_ADD, EPOLLOUT);
}

static void conn_reset(struct gen *g, int ci, int64_t now)
{
    conn_close(g, &g->conns[ci]);
    g->st.reconnects++;
    conn_start(g, ci, now);
}

static void req_fail(struct gen *g, int ci, enum fail_kind kind, int64_t now)
{
    struct conn *c = &g->conns[ci];

    if (measured(g, c->req)) {
        g->st.errors++;
        g->st.timeouts += kind == F_TIMEOUT;
        g->st.bad += kind == F_BAD;
    }
    conn_reset(g, ci, now);
}

static void conn_write(struct gen *g, int ci, int64_t now)
{
    struct conn *c = &g->conns[ci];
    ssize_t n;

    while (c->wrote < g->req_len) {
        n = send(c->fd, g->req + c->wrote, g->req_len - c->wrote, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            if (!c->want_out)
                conn_watch(g, c, EPOLL_CTL_MOD, EPOLLIN | EPOLLOUT);
            return;
        }
        if (n < 0) {
            req_fail(g, ci, F_IO, now);
            return;
        }
        c->wrote += (size_t)n;
    }
    if (c->want_out)
        conn_watch(g, c, EPOLL_CTL_MOD, EPOLLIN);
}

static void conn_send(struct gen *g, int ci, int64_t req, int64_t now)
{
    struct conn *c = &g->conns[ci];

    c->state = C_BUSY;
    c->req = req;
    c->sent_ns = now;
    c->wrote = 0;
    c->ps = P_HEAD;
    c->len = 0;
    g->inflight++;
    if (measured(g, req))
        g->st.sent++;
    conn_write(g, ci, now);
}

static void pend_push(struct gen *g, int64_t i)
{
    g->pend[(g->pend_head + g->pend_n) % g->pend_cap] = i;
    g->pend_n++;
}

static int64_t pend_pop(struct gen *g)
{
    int64_t i = g->pend[g->pend_head];

    g->pend_head = (g->pend_head + 1) % g->pend_cap;
    g->pend_n--;
    return i;
}

static void dispatch(struct gen *g, int64_t now)
{
    while (g->pend_n > 0 && g->idle_head >= 0)
        conn_send(g, idle_pop(g), pend_pop(g), now);
}

static void req_done(struct gen *g, int ci, int64_t now)
{
    struct conn *c = &g->conns[ci];

    if (measured(g, c->req)) {
        g->st.completed++;
        g->st.status[c->status]++;
        hist_add(&g->st.hist, now - due_ns(g, c->req));
        g->st.last_done_ns = now;
    }
    /* A response before the whole request was written leaves the rest of
     * it on the connection. */
    if (c->close_after || c->wrote < g->req_len) {
        conn_reset(g, ci, now);
        return;
    }
    g->inflight--;
    idle_push(g, ci);
    dispatch(g, now);
}

static void conn_connected(struct gen *g, int ci, int64_t now)
{
    struct conn *c = &g->conns[ci];
    int err = 0;
    socklen_t len = sizeof(err);

    if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
        err = errno;
    if (err != 0) {
        connect_failed(g, c, err, now);
        return;
    }
    conn_watch(g, c, EPOLL_CTL_MOD, EPOLLIN);
    idle_push(g, ci);
    dispatch(g, now);
}

static void conn_eof(struct gen *g, int ci, int64_t now)
{
    struct conn *c = &g->conns[ci];

    if (c->state == C_BUSY && c->ps == P_BODY_EOF && c->wrote == g->req_len)
        req_done(g, ci, now); /* closes: the response ended with it */
    else if (c->state == C_BUSY)
        req_fail(g, ci, F_IO, now);
    else
        conn_reset(g, ci, now); /* an idle one the server closed */
}

static void conn_readable(struct gen *g, int ci)
{
    struct conn *c = &g->conns[ci];
    ssize_t n = read(c->fd, c->buf + c->len, READ_BUF - c->len);
    int64_t now = now_ns();
    int r;

    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
        return;
    if (n <= 0) {
        conn_eof(g, ci, now);
        return;
    }
    if (c->state != C_BUSY) { /* bytes nobody asked for */
        conn_reset(g, ci, now);
        return;
    }
    c->len += (size_t)n;
    r = conn_parse(c, (size_t)n);
    if (r < 0)
        req_fail(g, ci, F_BAD, now);
    else if (r > 0)
        req_done(g, ci, now);
}

static void conn_event(struct gen *g, uint64_t id, uint32_t events)
{
    int ci = (int)(id & 0xffffffffu);
    struct conn *c = &g->conns[ci];
    int fd = c->fd;

    /* Events of a socket replaced earlier in the same epoll_wait batch. */
    if (c->fd < 0 || c->gen != (uint32_t)(id >> 32))
        return;
    if (c->state == C_CONNECTING) {
        conn_connected(g, ci, now_ns());
        return;
    }
    if ((events & EPOLLOUT) && c->state == C_BUSY)
        conn_write(g, ci, now_ns());
    if (c->fd != fd || c->fd < 0)
        return; /* closed, maybe opened again, while writing */
    if (events & (EPOLLIN | EPOLLERR | EPOLLHUP))
        conn_readable(g, ci);
}

/* --- the schedule -------------------------------------------------------- */

static void enqueue_due(struct gen *g, int64_t now)
{
    int64_t i;
    int64_t lag;
    int m;

    while (g->next_i < g->total && due_ns(g, g->next_i) <= now) {
        i = g->next_i++;
        m = measured(g, i);
        lag = now - due_ns(g, i);
        if (m) {
            g->st.intended++;
            g->st.late_sends += lag > LATE_NS;
            if (lag > g->st.max_lag_ns)
                g->st.max_lag_ns = lag;
        }
        if (g->pend_n == 0 && g->idle_head >= 0) {
            conn_send(g, idle_pop(g), i, now);
        } else if (g->pend_n == g->pend_cap) {
            g->st.dropped += m;
        } else {
            g->st.conn_waits += m;
            pend_push(g, i);
        }
    }
}

static void housekeeping(struct gen *g, int64_t now)
{
    struct conn *c;
    int ci;

    for (ci = 0; ci < g->nconns; ci++) {
        c = &g->conns[ci];
        if (c->state == C_BUSY && now - c->sent_ns > g->timeout_ns)
            req_fail(g, ci, F_TIMEOUT, now);
        else if (c->state == C_CONNECTING && now - c->sent_ns > g->timeout_ns)
            connect_failed(g, c, ETIMEDOUT, now);
        else if (c->state == C_CLOSED && now >= c->retry_ns)
            conn_start(g, ci, now);
    }
}

/* Without epoll_pwait2 (Linux 5.11) a timerfd wakes epoll_wait. */
static int timer_open(struct gen *g)
{
    struct epoll_event ev;

    g->tfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
    if (g->tfd < 0)
        return -1;
    memset(&ev, 0, sizeof(ev));
    ev.events = EPOLLIN;
    ev.data.u64 = TIMER_ID;
    return epoll_ctl(g->ep, EPOLL_CTL_ADD, g->tfd, &ev);
}

static int timer_wait(struct gen *g, struct epoll_event *ev, int64_t at)
{
    struct itimerspec its;

    if (at != g->armed_ns) {
        memset(&its, 0, sizeof(its));
        its.it_value.tv_sec = at / NS_PER_S;
        its.it_value.tv_nsec = at % NS_PER_S;
        if (timerfd_settime(g->tfd, TFD_TIMER_ABSTIME, &its, NULL) < 0)
            return -1;
        g->armed_ns = at;
    }
    return epoll_wait(g->ep, ev, MAX_EVENTS, -1);
}

/* Waits for socket events until `at` at the latest (CLOCK_MONOTONIC ns)
 * and handles them. epoll_pwait2 takes a timeout in nanoseconds: one
 * system call per wake-up where a timerfd needs three. */
static int poll_events(struct gen *g, int64_t at)
{
    struct epoll_event ev[MAX_EVENTS];
    struct timespec ts;
    int64_t wait = at - now_ns();
    uint64_t ticks;
    int n = -1;
    int k;

    if (wait < 0)
        wait = 0;
    ts.tv_sec = wait / NS_PER_S;
    ts.tv_nsec = wait % NS_PER_S;
    if (g->tfd < 0)
        n = epoll_pwait2(g->ep, ev, MAX_EVENTS, &ts, NULL);
    /* ENOSYS: an old kernel; EPERM: a seccomp filter that predates it. */
    if (n < 0 && (errno == ENOSYS || errno == EPERM) && g->tfd < 0 &&
        timer_open(g) < 0)
        return -1;
    if (g->tfd >= 0)
        n = timer_wait(g, ev, at);
    if (n < 0 && errno != EINTR) {
        fprintf(stderr, "openloop: waiting for events: %s\n", strerror(errno));
        return -1;
    }
    for (k = 0; k < n; k++) {
        if (ev[k].data.u64 == TIMER_ID) {
            if (read(g->tfd, &ticks, sizeof(ticks)) < 0 && errno != EAGAIN)
                return -1;
            continue;
        }
        conn_event(g, ev[k].data.u64, ev[k].events);
    }
    return 0;
}

/* Opens every connection before t0; fails only when none can be opened. */
static int connect_all(struct gen *g)
{
    int64_t deadline = now_ns() + CONNECT_WAIT_NS;
    int connecting;
    int ci;

    for (ci = 0; ci < g->nconns; ci++)
        conn_start(g, ci, now_ns());
    for (;;) {
        connecting = 0;
        for (ci = 0; ci < g->nconns; ci++)
            connecting += g->conns[ci].state == C_CONNECTING;
        if (connecting == 0 || now_ns() > deadline || stop)
            break;
        if (poll_events(g, now_ns() + 100 * NS_PER_MS) < 0)
            return -1;
    }
    return g->idle_head >= 0 ? 0 : -1;
}

static void run(struct gen *g)
{
    int64_t end_ns = due_ns(g, g->total) + g->timeout_ns;
    int64_t now;
    int64_t at;
    int ci;

    for (;;) {
        now = now_ns();
        enqueue_due(g, now);
        if (now >= g->next_tick_ns) {
            housekeeping(g, now);
            g->next_tick_ns = now + TICK_NS;
        }
        if (stop || now >= end_ns)
            break;
        if (g->next_i == g->total && g->pend_n == 0 && g->inflight == 0)
            break;
        at = g->next_tick_ns;
        if (g->next_i < g->total && due_ns(g, g->next_i) < at)
            at = due_ns(g, g->next_i);
        if (poll_events(g, at) < 0)
            break;
    }
    /* What is left never got its answer within the run. */
    for (ci = 0; ci < g->nconns; ci++) {
        if (g->conns[ci].state == C_BUSY && measured(g, g->conns[ci].req)) {
            g->st.errors++;
            g->st.timeouts++;
        }
    }
    while (g->pend_n > 0)
        g->st.dropped += measured(g, pend_pop(g));
}

/* --- setup --------------------------------------------------------------- */

static void usage(FILE *f)
{
    fprintf(f,
            "usage: openloop -r RATE -d SECONDS -c CONNECTIONS -b BODY_FILE\n"
            "                [-H 'Name: value']... [-w WARMUP_SECONDS]\n"
            "                [-t TIMEOUT_SECONDS] http://HOST:PORT/path\n"
            "Open-loop HTTP/1.1 load: POSTs BODY_FILE at RATE requests/s for\n"
            "SECONDS (after WARMUP_SECONDS, default 0, whose results are\n"
            "discarded) over CONNECTIONS keep-alive connections; latency is\n"
            "measured from each request's due time. Responses slower than\n"
            "TIMEOUT_SECONDS (10) are errors. Prints one JSON line.\n"
            "Exit: 0 done, 1 setup failed (cannot connect), 2 bad args.\n");
}

static int parse_num(const char *s, double min, double max, double *out)
{
    char *end;

    errno = 0;
    *out = strtod(s, &end);
    return errno == 0 && end != s && *end == '\0' && *out >= min && *out <= max;
}

static int parse_opts(int argc, char **argv, struct opts *o)
{
    double conns = 0;
    int ch;

    memset(o, 0, sizeof(*o));
    o->timeout = 10;
    for (;;) {
        int ok = 1;

        ch = getopt(argc, argv, "r:d:c:b:H:w:t:h");
        if (ch == -1)
            break;

        if (ch == 'r')
            ok = parse_num(optarg, 0.001, 1e7, &o->rate);
        else if (ch == 'd')
            ok = parse_num(optarg, 0.001, 86400, &o->duration);
        else if (ch == 'c')
            ok = parse_num(optarg, 1, 20000, &conns) && conns == floor(conns);
        else if (ch == 'b')
            o->body_file = optarg;
        else if (ch == 'w')
            ok = parse_num(optarg, 0, 86400, &o->warmup);
        else if (ch == 't')
            ok = parse_num(optarg, 0.001, 3600, &o->timeout);
        else if (ch == 'H' && o->nheaders < MAX_HEADERS)
            o->headers[o->nheaders++] = optarg;
        else if (ch == 'h')
            return 1;
        else if (ch == '?')
            return -1; /* getopt said what */
        else
            ok = 0;
        if (!ok) {
            fprintf(stderr, "openloop: bad -%c %s\n", ch, optarg ? optarg : "");
            return -1;
        }
    }
    o->conns = (int)conns;
    if (optind != argc - 1 || o->rate == 0 || o->duration == 0 ||
        o->conns == 0 || o->body_file == NULL) {
        fprintf(stderr, "openloop: -r, -d, -c, -b and one URL are needed\n");
        return -1;
    }
    o->url = argv[optind];
    return 0;
}

static int parse_url(const char *url, struct target *t)
{
    const char *h = url + 7;
    const char *p;
    size_t hl;
    size_t pl = 0;

    if (strncmp(url, "http://", 7) != 0)
        return -1;
    hl = strcspn(h, ":/");
    p = h + hl;
    if (hl == 0 || hl >= sizeof(t->host))
        return -1;
    memcpy(t->host, h, hl);
    t->host[hl] = '\0';
    strcpy(t->port, "80");
    if (*p == ':') {
        p++;
        pl = strspn(p, "0123456789");
        if (pl == 0 || pl >= sizeof(t->port) || (p[pl] != '/' && p[pl]))
            return -1;
        memcpy(t->port, p, pl);
        t->port[pl] = '\0';
        p += pl;
    }
    t->path = *p == '/' ? p : "/";
    return 0;
}

static int header_named(const char *h, const char *name)
{
    const char *colon = strchr(h, ':');

    return colon != NULL && name_is(h, (size_t)(colon - h), name);
}

static int check_headers(const struct opts *o)
{
    int i;

    for (i = 0; i < o->nheaders; i++) {
        const char *h = o->headers[i];

        if (strchr(h, ':') == NULL || h[0] == ':' || strpbrk(h, "\r\n")) {
            fprintf(stderr, "openloop: -H wants 'Name: value': %s\n", h);
            return -1;
        }
        if (header_named(h, "content-length") ||
            header_named(h, "transfer-encoding")) {
            fprintf(stderr, "openloop: -H %s: set by openloop\n", h);
            return -1;
        }
    }
    return 0;
}

static int has_header(const struct opts *o, const char *name)
{
    int i;

    for (i = 0; i < o->nheaders; i++)
        if (header_named(o->headers[i], name))
            return 1;
    return 0;
}

static char *read_body(const char *path, size_t *len)
{
    FILE *f;
    char *body = NULL;
    long n;

    errno = 0;
    f = fopen(path, "rb");
    if (f == NULL)
        goto fail;
    if (fseek(f, 0, SEEK_END) < 0)
        goto fail;
    n = ftell(f);
    if (n < 0 || n > MAX_BODY || fseek(f, 0, SEEK_SET) < 0)
        goto fail;
    body = malloc((size_t)n + 1);
    if (body == NULL || fread(body, 1, (size_t)n, f) != (size_t)n)
        goto fail;
    fclose(f);
    *len = (size_t)n;
    return body;
fail:
    fprintf(stderr, "openloop: cannot read body file %s: %s\n", path,
            errno ? strerror(errno) : "too large or short read");
    free(body);
    if (f != NULL)
        fclose(f);
    return NULL;
}

static char *build_request(const struct opts *o, const struct target *t,
                           const char *body, size_t body_len, size_t *len)
{
    char *req = NULL;
    FILE *f = open_memstream(&req, len);
    int i;

    if (f == NULL)
        return NULL;
    fprintf(f, "POST %s HTTP/1.1\r\n", t->path);
    if (!has_header(o, "host"))
        fprintf(f, "Host: %s:%s\r\n", t->host, t->port);
    if (!has_header(o, "content-type"))
        fprintf(f, "Content-Type: application/json\r\n");
    for (i = 0; i < o->nheaders; i++)
        fprintf(f, "%s\r\n", o->headers[i]);
    fprintf(f, "Content-Length: %zu\r\n\r\n", body_len);
    fwrite(body, 1, body_len, f);
    if (fclose(f) != 0) {
        free(req);
        return NULL;
    }
    return req;
}

static int resolve(const struct target *t, struct sockaddr_in *addr)
{
    struct addrinfo hints;
    struct addrinfo *res = NULL;
    int rc;

    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_INET;
    hints.ai_socktype = SOCK_STREAM;
    rc = getaddrinfo(t->host, t->port, &hints, &res);
    if (rc != 0) {
        fprintf(stderr, "openloop: %s:%s: %s\n", t->host, t->port,
                gai_strerror(rc));
        return -1;
    }
    memcpy(addr, res->ai_addr, sizeof(*addr));
    freeaddrinfo(res);
    return 0;
}

/* Room for every connection, the epoll and timer fds and stdio. */
static int raise_nofile(int conns)
{
    struct rlimit rl;
    rlim_t want = (rlim_t)conns + 32;

    if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
        return -1;
    if (rl.rlim_cur >= want)
        return 0;
    if (rl.rlim_max < want) {
        fprintf(stderr, "openloop: %d connections need %lu fds, limit %lu\n",
                conns, (unsigned long)want, (unsigned long)rl.rlim_max);
        return -1;
    }
    rl.rlim_cur = want;
    return setrlimit(RLIMIT_NOFILE, &rl);
}

static int gen_init(struct gen *g, const struct opts *o)
{
    int ci;

    g->rate = o->rate;
    g->timeout_ns = (int64_t)(o->timeout * 1e9);
    g->warm_n = llround(o->warmup * o->rate);
    g->total = g->warm_n + llround(o->duration * o->rate);
    g->pend_cap = (int64_t)ceil(o->rate); /* one second's worth */
    g->pend = calloc((size_t)g->pend_cap, sizeof(*g->pend));
    g->nconns = o->conns;
    g->conns = calloc((size_t)o->conns, sizeof(*g->conns));
    g->idle_head = -1;
    g->idle_tail = -1;
    g->ep = epoll_create1(EPOLL_CLOEXEC);
    if (g->pend == NULL || g->conns == NULL || g->ep < 0)
        return -1;
    for (ci = 0; ci < o->conns; ci++) {
        g->conns[ci].fd = -1;
        g->conns[ci].prev = -1;
        g->conns[ci].next = -1;
        g->conns[ci].buf = malloc(READ_BUF);
        if (g->conns[ci].buf == NULL)
            return -1;
    }
    return 0;
}

/* Accepts a half-built generator. */
static void gen_free(struct gen *g)
{
    int ci;

    for (ci = 0; g->conns != NULL && ci < g->nconns; ci++) {
        if (g->conns[ci].fd >= 0)
            close(g->conns[ci].fd);
        free(g->conns[ci].buf);
    }
    free(g->conns);
    free(g->pend);
    free(g->req);
    if (g->ep >= 0)
        close(g->ep);
    if (g->tfd >= 0)
        close(g->tfd);
}

static void print_json(const struct gen *g, const struct opts *o)
{
    const struct stats *s = &g->st;
    const struct hist *h = &s->hist;
    double window = o->duration;
    double elapsed;
    struct rusage ru;
    int i;
    int first = 1;

    elapsed = (double)(s->last_done_ns - due_ns(g, g->warm_n)) / 1e9;
    if (s->completed > 0 && elapsed > window)
        window = elapsed;
    getrusage(RUSAGE_SELF, &ru);
    printf("{\"rate\":%g,\"duration_s\":%g,\"warmup_s\":%g,\"connections\":%d,"
           "\"intended\":%lld,\"sent\":%lld,\"completed\":%lld,"
           "\"errors\":%lld,\"timeouts\":%lld,\"bad_responses\":%lld,"
           "\"dropped\":%lld,\"status\":{",
           o->rate, o->duration, o->warmup, o->conns, (long long)s->intended,
           (long long)s->sent, (long long)s->completed, (long long)s->errors,
           (long long)s->timeouts, (long long)s->bad, (long long)s->dropped);
    for (i = 0; i < 1000; i++) {
        if (s->status[i] == 0)
            continue;
        printf("%s\"%d\":%lld", first ? "" : ",", i, (long long)s->status[i]);
        first = 0;
    }
    printf("},\"achieved_rps\":%.1f,\"mean_ms\":%.3f,\"p50_ms\":%.3f,"
           "\"p90_ms\":%.3f,\"p99_ms\":%.3f,\"p999_ms\":%.3f,\"max_ms\":%.3f,"
           "\"late_sends\":%lld,\"max_lag_ms\":%.3f,\"conn_waits\":%lld,"
           "\"conn_errors\":%lld,\"reconnects\":%lld,\"cpu_s\":%.3f}\n",
           (double)s->completed / window,
           h->total ? h->sum_us / (double)h->total / 1000.0 : 0.0,
           hist_pct_ms(h, 50), hist_pct_ms(h, 90), hist_pct_ms(h, 99),
           hist_pct_ms(h, 99.9), (double)h->max_us / 1000.0,
           (long long)s->late_sends, (double)s->max_lag_ns / 1e6,
           (long long)s->conn_waits, (long long)s->conn_errors,
           (long long)s->reconnects,
           (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
               (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6);
}

int main(int argc, char **argv)
{
    struct opts o;
    struct target t;
    struct gen *g = NULL;
    struct sigaction sa;
    char *body = NULL;
    size_t body_len = 0;
    int rc = 2;
    int r;

    r = parse_opts(argc, argv, &o);
    if (r != 0) {
        usage(r > 0 ? stdout : stderr);
        return r > 0 ? 0 : 2;
    }
    if (parse_url(o.url, &t) < 0) {
        fprintf(stderr, "openloop: URL must be http://HOST[:PORT]/path: %s\n",
                o.url);
        return 2;
    }
    if (check_headers(&o) < 0)
        return 2;
    rc = 1;
    g = calloc(1, sizeof(*g));
    if (g == NULL)
        goto fail;
    g->ep = -1;
    g->tfd = -1;
    body = read_body(o.body_file, &body_len);
    if (body == NULL || resolve(&t, &g->addr) < 0 || raise_nofile(o.conns) < 0)
        goto fail;
    g->req = build_request(&o, &t, body, body_len, &g->req_len);
    if (g->req == NULL || gen_init(g, &o) < 0) {
        fprintf(stderr, "openloop: setup: %s\n", strerror(errno));
        goto fail;
    }
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal; /* no SA_RESTART: epoll_wait returns */
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    /* Wake-ups at most 10 us late, not the default 50 us. */
    prctl(PR_SET_TIMERSLACK, TIMER_SLACK_NS, 0, 0, 0);
    if (connect_all(g) < 0) {
        fprintf(stderr, "openloop: cannot connect to %s:%s: %s\n", t.host,
                t.port, strerror(g->last_errno));
        goto fail;
    }
    g->t0 = now_ns();
    g->next_tick_ns = g->t0 + TICK_NS;
    run(g);
    print_json(g, &o);
    rc = 0;
fail:
    if (g != NULL)
        gen_free(g);
    free(g);
    free(body);
    return rc;
}
