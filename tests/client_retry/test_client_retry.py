"""The client's retries of POSTs that start a run (issue 6): sent with an
Idempotency-Key and sent again with the same key while the answer is lost,
other requests sent once. A stand-in escher-api drops answers on purpose.
Standard library only.

usage: test_client_retry.py ESCHER
"""
import http.server
import json
import os
import subprocess
import sys
import tempfile
import threading

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "e2e"))
import e2elib  # noqa: E402
from e2elib import check  # noqa: E402

ESCHER = sys.argv[1]
JOB = "6f1d2c3b-0000-4000-8000-00000000abcd"


class Api(http.server.BaseHTTPRequestHandler):
    """Drops the first `drop` answers (closes the connection, or answers 503
    when `status` says so), then answers 201."""
    seen = []
    drop = 0
    status = None

    def do_POST(self):
        n = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(n).decode(errors="replace")
        Api.seen.append({"path": self.path, "key": self.headers.get("Idempotency-Key"),
                         "body": body})
        if Api.drop > 0:
            Api.drop -= 1
            if Api.status:
                self.send_response(Api.status)
                raw = b'{"error":{"code":"unavailable","message":"try again","request_id":"r1"}}'
                self.send_header("Content-Length", str(len(raw)))
                self.end_headers()
                self.wfile.write(raw)
            else:
                self.close_connection = True
                self.connection.shutdown(2)  # the answer is lost
            return
        raw = json.dumps({"job": JOB, "state": "queued"}).encode()
        self.send_response(201)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(raw)))
        self.end_headers()
        self.wfile.write(raw)

    def log_message(self, *args):
        pass


def main():
    tmp = tempfile.mkdtemp(prefix="escher-retry-")
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Api)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    env = e2elib.clean_env(["ESCHER_", "AWS_"], {
        "HOME": tmp, "ESCHER_URL": f"http://127.0.0.1:{srv.server_address[1]}",
        "ESCHER_TOKEN": "esk_retry_test"})
    target = json.dumps({"accounts": "all", "regions": ["us-east-1"],
                         "selector": {"tags": {"env": ["dev"]}}})

    def escher(*args):
        return subprocess.run([ESCHER, "--output", "json", *args], env=env, capture_output=True,
                              text=True, timeout=60)

    try:
        # Two lost answers, then the job: three sends, one key.
        Api.seen, Api.drop, Api.status = [], 2, None
        r = escher("runs", "start", "--operation", "ec2.stop", "--target", target)
        check(r.returncode == 0 and JOB in r.stdout, "runs start: the job after two lost answers",
              f"{r.returncode} {r.stdout} {r.stderr}")
        keys = [s["key"] for s in Api.seen]
        check(len(keys) == 3 and keys[0] and len(set(keys)) == 1 and len(keys[0]) == 32,
              "runs start: three sends with the same Idempotency-Key", json.dumps(keys))
        check(len({s["body"] for s in Api.seen}) == 1, "runs start: the same body each time")
        # 503 is a lost answer too; a new command is a new key.
        first = keys[0]
        Api.seen, Api.drop, Api.status = [], 1, 503
        r = escher("schedules", "run", "4b1c2f9e-0000-4000-8000-000000000001")
        keys = [s["key"] for s in Api.seen]
        check(r.returncode == 0 and len(keys) == 2 and len(set(keys)) == 1 and keys[0] != first
              and Api.seen[0]["path"].endswith("/run"),
              "schedules run: resent after a 503 with its own key", json.dumps(keys))
        # Lost three times: the client gives up and says why.
        Api.seen, Api.drop, Api.status = [], 3, None
        r = escher("runs", "start", "--operation", "ec2.stop", "--target", target)
        check(r.returncode == 1 and len(Api.seen) == 3 and "escher-api" in r.stderr,
              "runs start: three lost answers, exit 1 naming the server",
              f"{r.returncode} {len(Api.seen)} {r.stderr}")
        # Other POSTs are sent once and carry no key.
        Api.seen, Api.drop, Api.status = [], 1, None
        r = escher("users", "create", "--email", "a@example.com", "--role", "viewer")
        check(r.returncode == 1 and len(Api.seen) == 1 and Api.seen[0]["key"] is None,
              "users create: one send, no key, a lost answer is an error",
              f"{r.returncode} {json.dumps(Api.seen)}")
    finally:
        srv.shutdown()
        srv.server_close()
    return e2elib.report()


if __name__ == "__main__":
    sys.exit(main())
