"""Notifications end to end: channels through the API, delivery by the worker.

A local HTTP receiver plays the Slack webhook and the generic webhooks (one
answering 500 once, one 404 for good), a local SMTP server (Python 3.11's
smtpd) the mail relay. Checks: answers never show a secret; the webhook
summary carries a valid HMAC-SHA256 signature over timestamp "." body; the
500 is retried and then delivered; the 404 fails without retry; an ops.run
that ends failed queues one notify.deliver per channel that wants "failed";
pg_dump and the service logs hold neither the Slack URL nor the HMAC key.
"""
import hashlib
import hmac
import http.server
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import warnings

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "api"))
import apitest  # noqa: E402

MASTER_KEY = "7f" * 32
HMAC_KEY = "hmac-key-" + os.urandom(12).hex()
SLACK_SECRET = "XSLACK" + os.urandom(10).hex()


class Receiver:
    """HTTP server recording every POST; answers by path from a script."""

    def __init__(self):
        self.requests = []
        self.script = {}  # path -> list of statuses (last one repeats)
        rec = self

        class H(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                n = int(self.headers.get("Content-Length", "0"))
                body = self.rfile.read(n)
                rec.requests.append((self.path, dict(self.headers), body, time.time()))
                statuses = rec.script.get(self.path, [200])
                status = statuses.pop(0) if len(statuses) > 1 else statuses[0]
                self.send_response(status)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *a):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def got(self, path):
        return [r for r in self.requests if r[0] == path]


def start_smtp():
    """A local SMTP server (smtpd, deprecated but in Python 3.11) recording messages."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import asyncore  # noqa: F401
        import smtpd
    got = []

    class S(smtpd.SMTPServer):
        def process_message(self, peer, mailfrom, rcpttos, data, **kw):
            got.append((mailfrom, rcpttos, data))

    s = S(("127.0.0.1", 0), None)
    port = s.socket.getsockname()[1]
    import asyncore as a
    threading.Thread(target=lambda: a.loop(timeout=0.1), daemon=True).start()
    return port, got


def start_smtp_refusing():
    """A relay that takes the mail and refuses it for good (550)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import smtpd

    class S(smtpd.SMTPServer):
        def process_message(self, peer, mailfrom, rcpttos, data, **kw):
            return "550 5.1.1 mailbox unavailable"

    s = S(("127.0.0.1", 0), None)
    return s.socket.getsockname()[1]  # served by start_smtp's asyncore loop


def start_delay(target_port, delay):
    """A TCP relay to target_port that says nothing for `delay` seconds after
    each connection: an SMTP server slow to greet."""
    lsock = socket.socket()
    lsock.bind(("127.0.0.1", 0))
    lsock.listen(8)

    def pipe(a, b):
        try:
            while True:
                d = a.recv(65536)
                if not d:
                    break
                b.sendall(d)
        except OSError:
            pass
        finally:
            for s in (a, b):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def serve():
        while True:
            c, _ = lsock.accept()

            def one(c=c):
                time.sleep(delay)
                u = socket.create_connection(("127.0.0.1", target_port))
                threading.Thread(target=pipe, args=(u, c), daemon=True).start()
                pipe(c, u)
            threading.Thread(target=one, daemon=True).start()
    threading.Thread(target=serve, daemon=True).start()
    return lsock.getsockname()[1]


def start_worker(binary, db_url):
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("ESCHER_WORKER_") and not k.startswith("AWS_")}
    # The worker's own AWS identity is never used by notify.deliver; any
    # static keys satisfy the chain.
    env.update(AWS_ACCESS_KEY_ID="AKIAIOSFODNN7EXAMPLE",
               AWS_SECRET_ACCESS_KEY="wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
               AWS_EC2_METADATA_DISABLED="true")
    cmd = [binary, "--database-url", db_url,
           "--redis-url", os.environ.get("ESCHER_TEST_REDIS_URL", "redis://127.0.0.1:1"),
           "--endpoint-url", "http://127.0.0.1:1", "--poll-interval", "200ms",
           "--master-key", MASTER_KEY, "--log-level", "debug"]
    p = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                         stderr=subprocess.PIPE, text=True, errors="replace", env=env)
    lines = []
    t = threading.Thread(target=lambda: [lines.append(l) for l in p.stderr], daemon=True)
    t.start()
    return p, lines, t


def run(stack, routes, res, worker_bin):
    c = stack.client
    a = stack.tenants["A"]
    m = a.tokens["manager"]
    recv = Receiver()
    base = f"http://127.0.0.1:{recv.port}"
    smtp_port, mails = start_smtp()
    refusing_port = start_smtp_refusing()
    # The e-mail channel's relay greets 3 s late: the worker's loop must go
    # on with the webhooks meanwhile (SMTP is asynchronous too).
    slow_port = start_delay(smtp_port, 3.0)
    recv.script["/flaky"] = [500, 200]
    recv.script["/gone"] = [404]

    def make(body, what):
        return stack.expect(c.call("POST", "/v1/channels", body, m), 201, what)

    hook = make({"name": "hook", "kind": "webhook", "url": base + "/hook", "hmac_key": HMAC_KEY,
                 "events": ["failed", "partial"]}, "POST /v1/channels: a signed webhook")
    slack_url = f"{base}/services/T000/B000/{SLACK_SECRET}"
    slack = make({"name": "slack", "kind": "slack", "url": slack_url},
                 "POST /v1/channels: a Slack webhook")
    flaky = make({"name": "flaky", "kind": "webhook", "url": base + "/flaky",
                  "hmac_key": HMAC_KEY, "events": ["succeeded"]}, "a webhook answering 500 once")
    gone = make({"name": "gone", "kind": "webhook", "url": base + "/gone",
                 "hmac_key": HMAC_KEY, "events": ["succeeded"]}, "a webhook answering 404")
    mail = make({"name": "mail", "kind": "email", "smtp_url": f"smtp://127.0.0.1:{slow_port}",
                 "from": "escher@example.com", "to": ["ops@example.com"], "password": "smtp-pass",
                 "username": "escher", "events": ["failed"]}, "an e-mail channel")
    refused = make({"name": "refused", "kind": "email",
                    "smtp_url": f"smtp://127.0.0.1:{refusing_port}", "from": "escher@example.com",
                    "to": ["nobody@example.com"], "events": ["succeeded"]},
                   "an e-mail channel whose relay refuses")
    res.check(slack["config"] == {"host": f"127.0.0.1:{recv.port}"} and slack["secret_set"],
              "the Slack channel shows only the URL's host and secret_set", str(slack))
    res.check(hook["config"]["url"] == base + "/hook" and hook["secret_set"]
              and hook["events"] == ["failed", "partial"], "the webhook's answer", str(hook))
    listing = c.call("GET", "/v1/channels", token=a.tokens["viewer"])
    res.check(listing.status == 200 and len(listing.json["items"]) == 6,
              "a viewer lists the 6 channels", listing.short())
    text = json.dumps(listing.json)
    res.check(SLACK_SECRET not in text and HMAC_KEY not in text and "smtp-pass" not in text,
              "no secret in GET /v1/channels")
    bad = c.call("POST", "/v1/channels", {"name": "x", "kind": "slack", "url": slack_url,
                                          "hmac_key": HMAC_KEY}, m)
    res.check(bad.status == 400 and "hmac_key" in bad.message, "a field of another kind is refused",
              bad.short())
    bad = c.call("POST", "/v1/channels", {"name": "x", "kind": "slack", "url": "ftp://x" + SLACK_SECRET}, m)
    res.check(bad.status == 400 and SLACK_SECRET not in bad.message,
              "a bad Slack URL is refused without quoting it", bad.short())
    p = c.call("PATCH", f"/v1/channels/{gone['id']}", {"events": ["succeeded", "failed"]}, m)
    res.check(p.status == 200 and p.json["events"] == ["succeeded", "failed"], "PATCH events", p.short())
    tst = c.call("POST", f"/v1/channels/{slack['id']}/test", None, m)
    res.check(tst.status == 202, "POST /v1/channels/{id}/test queues a test", tst.short())
    db = stack.db
    audit = db.value("SELECT count(*) FROM audit_log WHERE action LIKE 'channels.%'")
    res.check(int(audit) == 8, "every channel mutation is audited", audit)

    # A "succeeded" run notification queued directly, as job_notify_enqueue would.
    run_summary = {"job": "00000000-0000-4000-8000-000000000001", "state": "succeeded",
                   "operation": "ec2.stop", "schedule": None, "dry_run": False,
                   "counts": {"resources": 1, "errors": 0},
                   "resources": [{"account": "111111111111", "region": "us-east-1",
                                  "id": "i-0123", "outcome": "stopped"}],
                   "resources_total": 1, "errors": []}
    for ch in (flaky, gone, refused):
        db.value("INSERT INTO jobs (tenant_id, kind, payload, created_by) VALUES"
                 " (:'v1', 'notify.deliver', :'v2'::jsonb, 'test') RETURNING id", a.id,
                 json.dumps({"channel": ch["id"], "event": "succeeded", "run": run_summary}))
    # An ops.run whose only account is not registered ends failed at once:
    # its end queues notify.deliver for hook, mail, gone and slack (every
    # event by default), the channels that want failed.
    run_id = db.value("INSERT INTO jobs (tenant_id, kind, payload, created_by) VALUES"
                      " (:'v1', 'ops.run', :'v2'::jsonb, 'test') RETURNING id", a.id,
                      json.dumps({"operation": "ec2.stop",
                                  "target": {"accounts": ["111111111111"], "regions": ["us-east-1"],
                                             "selector": {"state": "running"}}}))

    wp, wlines, wt = start_worker(worker_bin, db.url)
    deadline = time.time() + 60
    while time.time() < deadline:
        pending = db.value("SELECT count(*) FROM jobs WHERE state IN ('queued', 'leased')")
        n = db.value("SELECT count(*) FROM jobs WHERE kind = 'notify.deliver'")
        if pending == "0" and int(n) >= 7:
            break
        time.sleep(0.3)
    rows = db.rows("SELECT kind, state, attempts, coalesce(last_error, ''), payload->>'channel',"
                   " coalesce(idempotency_key, '') FROM jobs ORDER BY created_at")
    by_channel = {}
    for r in rows:
        if r[0] == "notify.deliver":
            by_channel.setdefault(r[4], []).append(r)
    run_row = [r for r in rows if r[0] == "ops.run"]
    res.check(run_row and run_row[0][1] == "failed", "the ops.run ended failed", str(run_row))
    queued = [r for r in rows if r[5].startswith(f"notify:{run_id}:")]
    res.check(sorted(r[4] for r in queued) == sorted([hook["id"], mail["id"], gone["id"], slack["id"]]),
              "the run's end queued one notify.deliver per channel wanting 'failed'", str(rows))

    # The webhook got the summary with a valid signature.
    got = recv.got("/hook")
    res.check(len(got) == 1, "the webhook got one delivery", str(len(got)))
    if got:
        _, h, body, at = got[0]
        ts = h.get("X-Escher-Timestamp", "")
        want = "sha256=" + hmac.new(HMAC_KEY.encode(), ts.encode() + b"." + body,
                                    hashlib.sha256).hexdigest()
        res.check(h.get("X-Escher-Signature") == want, "X-Escher-Signature is HMAC-SHA256 of"
                  " timestamp.body", f"{h.get('X-Escher-Signature')} != {want}")
        res.check(ts.isdigit() and abs(int(ts) - at) < 30, "X-Escher-Timestamp is now", ts)
        doc = json.loads(body)
        res.check(doc["event"] == "failed" and doc["run"]["job"] == run_id
                  and doc["run"]["operation"] == "ec2.stop" and doc["channel"]["id"] == hook["id"]
                  and h.get("X-Escher-Delivery") == doc["delivery"],
                  "the summary names the event, run, operation and channel", body.decode()[:500])
    sl = recv.got(f"/services/T000/B000/{SLACK_SECRET}")
    texts = sorted(json.loads(r[2])["text"] for r in sl)
    res.check(len(sl) == 2 and "test notification" in texts[1]
              and texts[0].startswith("Escher: ec2.stop run failed"),
              "the Slack webhook got the test and the run's end as {\"text\": ...}", str(texts))
    fl = recv.got("/flaky")
    fj = by_channel.get(flaky["id"], [])
    res.check(len(fl) == 2 and fj and fj[0][1] == "succeeded" and fj[0][2] == "2",
              "a 500 is retried, then delivered (2 attempts)", f"{len(fl)} requests, {fj}")
    gj = [r for r in by_channel.get(gone["id"], []) if r[5] == ""]
    res.check(gj and gj[0][1] == "failed" and gj[0][2] == "1" and "404" in gj[0][3],
              "a 404 fails for good after one attempt", str(gj))
    res.check(len(mails) == 1 and mails[0][1] == ["ops@example.com"]
              and b"Subject: Escher: ec2.stop run failed" in mails[0][2],
              "the e-mail went out over SMTP with its subject", str(mails)[:500])
    rj = [r for r in by_channel.get(refused["id"], []) if r[5] == ""]
    res.check(rj and rj[0][1] == "failed" and rj[0][2] == "1" and "not retried" in rj[0][3]
              and "SMTP reply 550" in rj[0][3],
              "a relay's 550 fails for good after one attempt", str(rj))
    # The slow relay held the mail 3 s; the webhooks of the same run's end
    # were delivered meanwhile, not after it.
    ends = dict(db.rows("SELECT payload->>'channel', extract(epoch FROM finished_at)::text"
                        " FROM jobs WHERE kind = 'notify.deliver' AND idempotency_key LIKE"
                        " 'notify:%%'"))
    t_mail, t_hook = float(ends.get(mail["id"], 0)), float(ends.get(hook["id"], 0))
    res.check(t_mail and t_hook and t_mail - t_hook > 2.0,
              "SMTP does not hold the worker's loop: the webhook was done while the relay was "
              "silent", f"mail {t_mail:.2f}, webhook {t_hook:.2f}")

    wp.send_signal(signal.SIGTERM)
    try:
        rc = wp.wait(30)
    except subprocess.TimeoutExpired:
        wp.kill()
        rc = wp.wait()
    wt.join(5)
    wlog = "".join(wlines)
    res.check(rc == 0, "escher-worker exits 0 on SIGTERM", f"{rc}\n{wlog[-3000:]}")
    res.check(apitest.SANITIZER_RE.search(wlog) is None, "no sanitizer report from the worker",
              wlog[-3000:])
    dump = subprocess.run(["/usr/bin/pg_dump", db.url], capture_output=True, text=True)
    res.check(dump.returncode == 0 and "notification_channels" in dump.stdout, "pg_dump works",
              dump.stderr[-500:])
    for secret, what in ((SLACK_SECRET, "the Slack URL"), (HMAC_KEY, "the HMAC key"),
                         ("smtp-pass", "the SMTP password")):
        res.check(secret not in dump.stdout, f"pg_dump does not hold {what}")
        res.check(secret not in wlog, f"the worker's log does not hold {what}")
        res.check(secret not in stack.server.stderr(), f"the API's log does not hold {what}")


def main():
    if len(sys.argv) != 3:
        raise SystemExit(f"usage: {sys.argv[0]} ESCHER_API ESCHER_WORKER")
    api, worker = sys.argv[1], sys.argv[2]
    sys.argv = sys.argv[:2]
    apitest.main("test_notify", "notify", lambda s, r, res: run(s, r, res, worker),
                 server_args=("--master-key", MASTER_KEY))


if __name__ == "__main__":
    main()
