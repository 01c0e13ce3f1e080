/* Load generator for escher-sandbox: signed EC2 DescribeInstances pages
 * (MaxResults=50) over kept-alive connections, as fast as the sandbox
 * answers.
 *
 * Every request carries a real SigV4 signature (lib/aws's signer) that the
 * sandbox verifies; a batch is signed before the clock starts, one per
 * (account, region) pair cycled, and replayed (AWS too accepts a signature
 * for 15 minutes). Every request of the batch is checked once (200, a full
 * page of instances) before the clock starts; the timed run then only
 * counts bytes: it reads each answer's headers for the status and
 * Content-Length and discards the body, so that the client stays far from
 * its core's limit and the rate is the sandbox's.
 *
 *   bench_sandbox PORT CREDENTIALS ACCOUNTS REGIONS REQUESTS CONNECTIONS
 *                 [SERVER_PID [ALL_ACCOUNTS]]
 *
 * CREDENTIALS: the sandbox's --aws-config credentials file; ACCOUNTS: a
 * file of account ids (profiles acct-<id>), one a line; REGIONS: a comma
 * list. SERVER_PID: the sandbox's process, whose CPU time (from /proc) over
 * the timed run is reported with the client's own. ALL_ACCOUNTS: accounts
 * whose every region is described in full once before the run (warming
 * the sandbox's rendering cache over the whole world, for its memory).
 * Prints key=value lines, the last "rate=<req/s>". Exit 1 when any answer
 * is not 200 or a page is not full. */
#include "aws/sigv4.h"
#include "core/strbuf.h"
#include "core/timeutil.h"
#include "core/xmalloc.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#define BODY      "Action=DescribeInstances&MaxResults=50&Version=2016-11-15"
#define BODY_ALL  "Action=DescribeInstances&Version=2016-11-15"
#define CONTENT   "application/x-www-form-urlencoded; charset=utf-8"
#define MAX_BATCH 4096
#define PAGE      50

typedef struct key {
    char *account;
    char *id;
    char *secret;
} key;

/* ---- input ---- */

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "bench_sandbox: cannot open %s\n", path);
        exit(2);
    }
    strbuf sb = STRBUF_INIT;
    char buf[65536];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, f)) > 0)
        strbuf_append(&sb, buf, n);
    fclose(f);
    return strbuf_detach(&sb);
}

/* The value of `name` in INI section [profile], or NULL. */
static char *ini_get(const char *text, const char *profile, const char *name)
{
    char header[128];
    snprintf(header, sizeof header, "[%s]\n", profile);
    const char *sec = strstr(text, header);
    if (!sec)
        return NULL;
    const char *end = strstr(sec + 1, "\n[");
    size_t nlen = strlen(name);
    for (const char *p = sec + strlen(header); p && *p && (!end || p < end);) {
        if (strncmp(p, name, nlen) == 0) {
            const char *v = p + nlen;
            while (*v == ' ' || *v == '=')
                v++;
            return xstrndup(v, strcspn(v, "\n"));
        }
        p = strchr(p, '\n');
        if (p)
            p++;
    }
    return NULL;
}

static key *load_keys(const char *creds_path, const char *accounts_path, size_t *n)
{
    char *creds = slurp(creds_path), *accts = slurp(accounts_path);
    key *keys = NULL;
    *n = 0;
    char *save = NULL;
    for (char *id = strtok_r(accts, "\n", &save); id; id = strtok_r(NULL, "\n", &save)) {
        char profile[64];
        snprintf(profile, sizeof profile, "acct-%s", id);
        char *kid = ini_get(creds, profile, "aws_access_key_id");
        char *sec = ini_get(creds, profile, "aws_secret_access_key");
        if (!kid || !sec) {
            fprintf(stderr, "bench_sandbox: no credentials for profile %s\n", profile);
            exit(2);
        }
        keys = xreallocarray(keys, *n + 1, sizeof *keys);
        keys[*n] = (key){xstrdup(id), kid, sec};
        (*n)++;
    }
    free(creds);
    free(accts);
    return keys;
}

/* ---- requests ---- */

/* One signed request as the bytes to write. */
static char *sign_request(const key *k, const char *region, int port, const char *body, size_t *len)
{
    char host[64];
    snprintf(host, sizeof host, "127.0.0.1:%d", port);
    http_headers h = HTTP_HEADERS_INIT, add = HTTP_HEADERS_INIT;
    http_headers_add(&h, "Host", host);
    http_headers_add(&h, "Content-Type", CONTENT);
    aws_creds creds = {.access_key_id = k->id, .secret_access_key = k->secret};
    sigv4_request req = {"POST", "/", "", &h, body, strlen(body), NULL};
    sigv4_config cfg = {.creds = &creds,
                        .region = region,
                        .service = "ec2",
                        .when = timeutil_now(),
                        .normalize_path = true,
                        .double_encode = true};
    err e;
    if (!sigv4_sign_headers(&req, &cfg, &add, NULL, NULL, &e)) {
        fprintf(stderr, "bench_sandbox: signing: %s\n", e.message);
        exit(2);
    }
    strbuf sb = STRBUF_INIT;
    strbuf_puts(&sb, "POST / HTTP/1.1\r\n");
    for (size_t i = 0; i < h.count; i++)
        strbuf_printf(&sb, "%s: %s\r\n", h.items[i].name, h.items[i].value);
    for (size_t i = 0; i < add.count; i++)
        strbuf_printf(&sb, "%s: %s\r\n", add.items[i].name, add.items[i].value);
    strbuf_printf(&sb, "Content-Length: %zu\r\n\r\n%s", strlen(body), body);
    http_headers_free(&h);
    http_headers_free(&add);
    *len = sb.len;
    return strbuf_detach(&sb);
}

/* ---- CPU time ---- */

/* utime + stime of process pid in seconds, from /proc; -1 when unreadable. */
static double proc_cpu_seconds(long pid)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%ld/stat", pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    char buf[1024];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    const char *p = strrchr(buf, ')'); /* the command name may hold spaces */
    unsigned long long ut = 0, st = 0;
    if (!p || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut, &st) != 2)
        return -1;
    return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
}

static double self_cpu_seconds(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
           (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

/* ---- connections ---- */

typedef struct conn {
    int fd;
    const char *out; /* request being written */
    size_t out_len, out_off;
    strbuf in;
    size_t need; /* bytes of the whole answer once the headers are read; 0: unknown */
    size_t got;  /* bytes of the answer read, counted rather than kept (timed run) */
    int status;
} conn;

static int connect_to(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0) {
        fprintf(stderr, "bench_sandbox: cannot connect to 127.0.0.1:%d: %s\n", port,
                strerror(errno));
        exit(2);
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    return fd;
}

/* Parses the status and Content-Length once the headers are in; true when
 * the whole answer has arrived. */
static bool answer_complete(conn *c)
{
    if (c->need == 0) {
        const char *end = strstr(strbuf_str(&c->in), "\r\n\r\n");
        if (!end)
            return false;
        c->status = atoi(c->in.buf + 9);
        const char *cl = strcasestr(c->in.buf, "\r\nContent-Length:");
        size_t body = cl && cl < end ? strtoul(cl + 17, NULL, 10) : 0;
        c->need = (size_t)(end - c->in.buf) + 4 + body;
    }
    return c->in.len >= c->need;
}

/* Sends one request and reads its answer, blocking: for the checks. */
static int round_trip(conn *c, const char *req, size_t len, strbuf *body)
{
    for (size_t off = 0; off < len;) {
        ssize_t n = write(c->fd, req + off, len - off);
        if (n <= 0) {
            fprintf(stderr, "bench_sandbox: write: %s\n", strerror(errno));
            exit(2);
        }
        off += (size_t)n;
    }
    strbuf_reset(&c->in);
    c->need = 0;
    char buf[65536];
    while (!answer_complete(c)) {
        ssize_t n = read(c->fd, buf, sizeof buf);
        if (n <= 0) {
            fprintf(stderr, "bench_sandbox: the sandbox closed the connection\n");
            exit(2);
        }
        strbuf_append(&c->in, buf, (size_t)n);
    }
    const char *start = strstr(c->in.buf, "\r\n\r\n") + 4;
    strbuf_reset(body);
    strbuf_append(body, start, c->need - (size_t)(start - c->in.buf));
    return c->status;
}

static size_t count(const char *s, const char *what)
{
    size_t n = 0;
    for (const char *p = s; (p = strstr(p, what)) != NULL; p += strlen(what))
        n++;
    return n;
}

int main(int argc, char **argv)
{
    if (argc < 7 || argc > 9) {
        fprintf(stderr, "usage: bench_sandbox PORT CREDENTIALS ACCOUNTS REGIONS REQUESTS "
                        "CONNECTIONS [SERVER_PID [ALL_ACCOUNTS]]\n");
        return 2;
    }
    long server_pid = argc > 7 ? atol(argv[7]) : 0;
    int port = atoi(argv[1]);
    size_t nkeys;
    key *keys = load_keys(argv[2], argv[3], &nkeys);
    char *regions[16];
    size_t nregions = 0;
    char *rsave = NULL;
    for (char *r = strtok_r(argv[4], ",", &rsave); r && nregions < 16;
         r = strtok_r(NULL, ",", &rsave))
        regions[nregions++] = r;
    long total = atol(argv[5]);
    int nconns = atoi(argv[6]);
    if (nkeys == 0 || nregions == 0 || total < 1 || nconns < 1) {
        fprintf(stderr, "bench_sandbox: nothing to do\n");
        return 2;
    }

    /* Sign the batch: every (account, region) pair once, up to MAX_BATCH. */
    size_t npairs = nkeys * nregions;
    size_t nbatch = npairs < MAX_BATCH ? npairs : MAX_BATCH;
    char **batch = xcalloc(nbatch, sizeof *batch);
    size_t *lens = xcalloc(nbatch, sizeof *lens);
    uint64_t t0 = timeutil_mono_ns();
    for (size_t i = 0; i < nbatch; i++)
        batch[i] = sign_request(&keys[i / nregions], regions[i % nregions], port, BODY, &lens[i]);
    double sign_us = (double)(timeutil_mono_ns() - t0) / 1e3 / (double)nbatch;

    /* Check every request of the batch once: 200 and a full page. */
    conn probe = {.fd = connect_to(port)};
    strbuf body = STRBUF_INIT;
    size_t instances = 0, bytes = 0;
    for (size_t i = 0; i < nbatch; i++) {
        int st = round_trip(&probe, batch[i], lens[i], &body);
        if (st != 200) {
            fprintf(stderr, "bench_sandbox: answer %d for account %s region %s:\n%.600s\n", st,
                    keys[i / nregions].account, regions[i % nregions], strbuf_str(&body));
            return 1;
        }
        size_t n = count(strbuf_str(&body), "<instanceId>");
        if (n < PAGE) {
            fprintf(stderr,
                    "bench_sandbox: account %s region %s answered %zu instances, not a full page "
                    "of %d\n",
                    keys[i / nregions].account, regions[i % nregions], n, PAGE);
            return 1;
        }
        instances += n;
        bytes += body.len;
    }

    /* Every region of every account described in full once: the sandbox
     * then holds the whole world's rendering, as it would after a sweep. */
    size_t warm_pairs = 0, warm_instances = 0;
    double warm_s = 0;
    if (argc > 8) {
        size_t nall;
        key *all = load_keys(argv[2], argv[8], &nall);
        uint64_t w0 = timeutil_mono_ns();
        for (size_t i = 0; i < nall * nregions; i++) {
            size_t len;
            char *req =
                sign_request(&all[i / nregions], regions[i % nregions], port, BODY_ALL, &len);
            int st = round_trip(&probe, req, len, &body);
            free(req);
            if (st != 200) {
                fprintf(stderr, "bench_sandbox: warm-up answer %d for account %s:\n%.600s\n", st,
                        all[i / nregions].account, strbuf_str(&body));
                return 1;
            }
            warm_instances += count(strbuf_str(&body), "<instanceId>");
            warm_pairs++;
        }
        warm_s = (double)(timeutil_mono_ns() - w0) / 1e9;
        for (size_t i = 0; i < nall; i++) {
            free(all[i].account);
            free(all[i].id);
            free(all[i].secret);
        }
        free(all);
    }
    close(probe.fd);
    strbuf_free(&probe.in);

    /* The timed run: nconns connections, each always with one request out. */
    int ep = epoll_create1(0);
    conn *conns = xcalloc((size_t)nconns, sizeof *conns);
    long sent = 0, done = 0, failed = 0;
    for (int i = 0; i < nconns; i++) {
        conns[i].fd = connect_to(port);
        struct epoll_event ev = {.events = EPOLLIN, .data.ptr = &conns[i]};
        epoll_ctl(ep, EPOLL_CTL_ADD, conns[i].fd, &ev);
    }
    size_t received = 0;
    double server0 = server_pid ? proc_cpu_seconds(server_pid) : -1;
    double client0 = self_cpu_seconds();
    t0 = timeutil_mono_ns();
    for (int i = 0; i < nconns && sent < total; i++) {
        size_t b = (size_t)(sent++ % (long)nbatch);
        if (write(conns[i].fd, batch[b], lens[b]) != (ssize_t)lens[b]) {
            fprintf(stderr, "bench_sandbox: short write\n");
            return 2;
        }
    }
    char buf[1 << 16];
    struct epoll_event evs[256];
    while (done < sent) {
        int n = epoll_wait(ep, evs, 256, 10000);
        if (n <= 0) {
            fprintf(stderr, "bench_sandbox: no answer for 10 s (%ld of %ld done)\n", done, sent);
            return 1;
        }
        for (int i = 0; i < n; i++) {
            conn *c = evs[i].data.ptr;
            ssize_t r = read(c->fd, buf, sizeof buf);
            if (r <= 0) {
                fprintf(stderr, "bench_sandbox: connection closed by the sandbox\n");
                return 1;
            }
            /* Only the headers are kept; the body is counted. */
            if (c->need == 0)
                strbuf_append(&c->in, buf, (size_t)r);
            c->got += (size_t)r;
            if (c->need == 0 && !answer_complete(c))
                continue;
            if (c->got < c->need)
                continue;
            if (c->got > c->need) {
                fprintf(stderr, "bench_sandbox: %zu bytes beyond the answer's length\n",
                        c->got - c->need);
                return 1;
            }
            if (c->status != 200)
                failed++;
            done++;
            received += c->got;
            strbuf_reset(&c->in);
            c->need = c->got = 0;
            if (sent < total) {
                size_t b = (size_t)(sent++ % (long)nbatch);
                if (write(c->fd, batch[b], lens[b]) != (ssize_t)lens[b]) {
                    fprintf(stderr, "bench_sandbox: short write\n");
                    return 2;
                }
            }
        }
    }
    double secs = (double)(timeutil_mono_ns() - t0) / 1e9;
    double server_cpu = server0 >= 0 ? proc_cpu_seconds(server_pid) - server0 : -1;
    double client_cpu = self_cpu_seconds() - client0;
    printf("pairs=%zu batch=%zu sign_us=%.1f instances_per_page=%.1f bytes_per_answer=%zu\n",
           npairs, nbatch, sign_us, (double)instances / (double)nbatch, bytes / nbatch);
    if (warm_pairs)
        printf("warm_pairs=%zu warm_instances=%zu warm_seconds=%.2f\n", warm_pairs, warm_instances,
               warm_s);
    printf("requests=%ld connections=%d failed=%ld seconds=%.3f mib_received=%.0f\n", done, nconns,
           failed, secs, (double)received / 1048576.0);
    printf("client_cpu_seconds=%.2f client_busy_pct=%.0f\n", client_cpu, 100.0 * client_cpu / secs);
    if (server_cpu >= 0)
        printf("server_cpu_seconds=%.2f server_busy_pct=%.0f server_us_per_request=%.1f "
               "rate_per_server_cpu_second=%.0f\n",
               server_cpu, 100.0 * server_cpu / secs, 1e6 * server_cpu / (double)done,
               (double)done / server_cpu);
    printf("rate=%.0f\n", (double)done / secs);

    for (int i = 0; i < nconns; i++) {
        close(conns[i].fd);
        strbuf_free(&conns[i].in);
    }
    close(ep);
    free(conns);
    for (size_t i = 0; i < nbatch; i++)
        free(batch[i]);
    free(batch);
    free(lens);
    for (size_t i = 0; i < nkeys; i++) {
        free(keys[i].account);
        free(keys[i].id);
        free(keys[i].secret);
    }
    free(keys);
    strbuf_free(&body);
    sigv4_cache_clear();
    return failed ? 1 : 0;
}
