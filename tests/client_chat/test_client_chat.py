"""`escher chat` on a pseudo-terminal against escher-sandbox (issue 6).

A person's session, scripted: ask to stop the dev instances of one region,
read the preview, confirm, and find exactly those instances stopped, with
the local profile's principal in the sandbox's call log and no Escher role.
Then a high-risk plan (a resize: the count must be typed back), a critical
one (refused, even with --yes), history across runs with Ctrl-R, a line
continued with a backslash, and a stand-in server's POST /v1/chat whose
operation plan still runs here with the local credentials.

usage: test_client_chat.py ESCHER ESCHER_SANDBOX
"""
import http.client
import http.server
import json
import os
import re
import socket
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "e2e"))
sys.path.insert(0, os.path.dirname(__file__))
import e2elib  # noqa: E402
from e2elib import check, need  # noqa: E402
from ptyrun import Pty  # noqa: E402

ESCHER, SANDBOX = sys.argv[1], sys.argv[2]
PROMPT = r"escher> "


def admin_post(sbx, path, body):
    conn = http.client.HTTPConnection("127.0.0.1", sbx.admin_port, timeout=30)
    try:
        conn.request("POST", path, json.dumps(body), {"Content-Type": "application/json"})
        resp = conn.getresponse()
        raw = resp.read()
    finally:
        conn.close()
    need(resp.status == 200, f"sandbox admin POST {path}", f"{resp.status} {raw[:300]!r}")
    return json.loads(raw)


def closed_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def tag(inst, key):
    for t in inst.get("tags", []):
        if t.get("Key") == key:
            return t.get("Value")
    return None


def preview_rows(text, account):
    """The preview table's rows: {id: (state, action)}."""
    rows = {}
    for line in text.splitlines():
        cells = re.split(r"\s{2,}", line.strip())
        if len(cells) >= 7 and cells[0] == account:
            rows[cells[2]] = (cells[4], cells[5])
    return rows


class ChatServer(http.server.BaseHTTPRequestHandler):
    """A stand-in escher-api: POST /v1/chat answers with the plan the test
    sets; every request is recorded."""
    seen = []
    answer = None

    def do_POST(self):
        n = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(n).decode(errors="replace")
        ChatServer.seen.append({"path": self.path, "headers": str(self.headers), "body": body})
        made = {"id": "4b1c2f9e-0000-4000-8000-000000000001",
                "next_fire_at": "2026-11-30T19:00:00Z"}
        raw = json.dumps(ChatServer.answer if self.path == "/v1/chat" else made).encode()
        self.send_response({"/v1/chat": 200, "/v1/schedules": 201}.get(self.path, 404))
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(raw)))
        self.end_headers()
        self.wfile.write(raw)

    def log_message(self, *args):
        pass


def main():
    tmp = tempfile.mkdtemp(prefix="escher-chat-")
    aws_dir = os.path.join(tmp, "aws")
    sbx = e2elib.start_sandbox(SANDBOX, tmp, "sandbox",
                               ["--accounts", "2", "--regions", "us-east-1,eu-west-1",
                                "--seed", "11", "--external-id", "chat-test-0001",
                                "--state-delay", "1s", "--aws-config", aws_dir])
    srv = None
    try:
        world = sbx.admin("GET", "/state")
        member = next(a for a in world["accounts"] if not a["is_management"])
        acct = member["id"]
        principal = f"arn:aws:iam::{acct}:user/Administrator"
        secrets = e2elib.sandbox_secrets(aws_dir)
        need(secrets, "the sandbox wrote credentials")
        home = os.path.join(tmp, "home")
        os.makedirs(home)
        env = e2elib.client_env(home, aws_dir, {"TERM": "xterm"})
        base = [ESCHER, "--profile", f"acct-{acct}", "--endpoint-url", sbx.endpoint]

        def instances(state, region=None):
            acc = next(a for a in state["accounts"] if a["id"] == acct)
            return {i["id"]: i for r in acc["regions"] if region in (None, r["name"])
                    for i in r["instances"]}

        def chat(extra_env=None, args=()):
            e = dict(env)
            e.update(extra_env or {})
            p = Pty(base + list(args) + ["chat"], e)
            need(p.expect(PROMPT, 15), "chat: the prompt appears", p.text()[-500:])
            return p

        def finish(p, what):
            rc = p.close()
            text = p.text()
            check(rc == 0, f"{what}: chat exits 0 at end of input", f"{rc} {text[-300:]!r}")
            check(not e2elib.SANITIZER_RE.search(text), f"{what}: no sanitizer report",
                  text[-2000:])

        # ---- 1. stop the dev instances of one region, confirmed with y ----
        e2elib.phase("stop dev instances in us-east-1")
        sbx.admin("DELETE", "/calls")
        before = instances(world)
        east = instances(world, "us-east-1")
        dev = {i: v for i, v in east.items() if tag(v, "env") == "dev"}
        to_stop = {i for i, v in dev.items() if v["state"] == "running"}
        need(to_stop, "the world has running dev instances in us-east-1", str(len(dev)))
        p = chat()
        p.line("how many running dev instances are in us-east-1")
        m = p.expect(r"count\s+(\d+)", 20)
        check(m and int(m.group(1)) == len(to_stop), "a question first: the count is right",
              p.text()[-300:])
        p.expect(PROMPT, 10)
        start = len(p.buf)
        p.line("stop dev instances in us-east-1")
        m = p.expect(r"\[y/N\] ", 30)
        need(m, "stop: the preview asks y/N", p.since(start)[-800:])
        shown = preview_rows(p.since(start), acct)
        check({i for i, (s, a) in shown.items() if a == "stop"} == to_stop,
              "preview: exactly the running dev instances of us-east-1 are to stop",
              f"want {len(to_stop)} got {sum(1 for s, a in shown.values() if a == 'stop')}")
        check(set(shown) == set(dev), "preview: every dev instance of us-east-1 is listed, no other",
              f"want {len(dev)} listed {len(shown)}")
        check(all(s == dev[i]["state"] for i, (s, a) in shown.items() if i in dev),
              "preview: current states as the sandbox has them")
        check(f"{len(to_stop)} resources to change" in p.since(start) and "risk medium" in
              p.since(start), "preview: the count and the risk", p.since(start)[-300:])
        for col in ("ACCOUNT", "REGION", "RESOURCE", "NAME", "STATE", "ACTION", "RISK"):
            check(col in p.since(start), f"preview: column {col}")
        check(not any(c["action"] == "StopInstances" for c in sbx.admin("GET", "/calls")["calls"]),
              "preview: nothing stopped before the answer")
        p.line("y")
        m = p.expect(r"ec2\.stop: (\d+) done, (\d+) with nothing to do, (\d+) failed", 60)
        check(m and int(m.group(1)) == len(to_stop) and m.group(3) == "0",
              "stop: every instance done, none failed", p.text()[-600:])
        check(re.search(rf"\[{len(to_stop)}/{len(to_stop)}\]", p.text()),
              "stop: progress lines count up to the total")
        p.expect(PROMPT, 10)
        time.sleep(1.2)  # the sandbox's state delay: stopping -> stopped
        after = instances(sbx.admin("GET", "/state"))
        check(all(after[i]["state"] == "stopped" for i in to_stop),
              "stop: the instances ended stopped",
              json.dumps({i: after[i]["state"] for i in to_stop if after[i]["state"] != "stopped"}))
        changed = {i for i in before if i not in to_stop and
                   before[i]["state"] != after.get(i, {}).get("state")}
        check(not changed, "stop: every other instance untouched", json.dumps(sorted(changed)))
        calls = sbx.admin("GET", "/calls")["calls"]
        check(calls and all(c["principal_arn"] == principal and c["assumed_role_arn"] is None
                            for c in calls),
              "call log: the local profile's principal on every call, no Escher role",
              json.dumps(sorted({(c["principal_arn"], c["assumed_role_arn"]) for c in calls})))
        stops = [c for c in calls if c["action"] == "StopInstances"]
        stopped_ids = sorted(c["params"].get("InstanceId.1") for c in stops)
        check(stopped_ids == sorted(to_stop) and all(c["region"] == "us-east-1" for c in stops),
              "call log: one StopInstances per target, in us-east-1 only",
              f"{len(stops)} calls for {len(to_stop)} targets")

        # "them": what the run just acted on, no more.
        start = len(p.buf)
        p.line("start them again")
        m = p.expect(r"\[y/N\] ", 30)
        shown = preview_rows(p.since(start), acct)
        check(m and set(shown) == to_stop and "Plan: ec2.start" in p.since(start),
              "'start them again': the preview is exactly the instances just stopped",
              f"want {len(to_stop)} got {len(shown)}")
        p.line("n")
        p.expect(PROMPT, 10)

        # ---- 2. high risk: the count typed back ----
        e2elib.phase("high risk: resize")
        west = instances(world, "eu-west-1")
        victim = next(i for i, v in sorted(west.items()) if v["state"] == "running"
                      and v["type"] != "t3.large")
        sbx.admin("DELETE", "/calls")
        start = len(p.buf)
        p.line(f"resize {victim} in eu-west-1 to t3.large")
        m = p.expect(r"Type 1 \(the number of resources\) to go ahead: ", 30)
        check(m and "risk high" in p.since(start), "resize: high risk asks for the count",
              p.since(start)[-600:])
        p.line("y")
        check(p.expect(r"Not confirmed; nothing ran\.", 10), "resize: y is not the count")
        p.expect(PROMPT, 10)
        mutating = [c["action"] for c in sbx.admin("GET", "/calls")["calls"]
                    if c["action"] not in ("DescribeInstances", "GetCallerIdentity")]
        check(not mutating, "resize: nothing sent after a wrong answer", json.dumps(mutating))
        start = len(p.buf)
        p.line(f"resize {victim} in eu-west-1 to t3.large")
        p.expect(r"to go ahead: ", 30)
        p.line("1")
        m = p.expect(r"ec2\.resize: (\d+) done, \d+ with nothing to do, (\d+) failed", 90)
        check(m and m.group(1) == "1" and m.group(2) == "0", "resize: done after the count",
              p.since(start)[-800:])
        p.expect(PROMPT, 10)
        time.sleep(1.2)
        v = instances(sbx.admin("GET", "/state"))[victim]
        check(v["type"] == "t3.large" and v["state"] == "running",
              "resize: the instance is t3.large and running again", json.dumps(v)[:300])
        calls = sbx.admin("GET", "/calls")["calls"]
        acts = [c["action"] for c in calls if c["action"] in
                ("StopInstances", "ModifyInstanceAttribute", "StartInstances")]
        check(acts == ["StopInstances", "ModifyInstanceAttribute", "StartInstances"],
              "resize: stop, modify, start, once each", json.dumps(acts))

        # Ctrl-C during a long run: the resource in hand ends, no other starts.
        sbx.admin("DELETE", "/calls")
        west_now = instances(sbx.admin("GET", "/state"), "eu-west-1")
        runners = {i for i, v in west_now.items() if v["state"] == "running" and
                   tag(v, "env") == "dev" and v["type"] != "m5.large"}
        need(len(runners) >= 3, "eu-west-1 has three or more running dev instances to resize",
             str(len(runners)))
        start = len(p.buf)
        p.line("resize dev instances in eu-west-1 to m5.large")
        m = p.expect(r"Type (\d+) \(the number of resources\) to go ahead: ", 30)
        need(m, "resize all: asks for the count", p.since(start)[-400:])
        p.line(m.group(1))
        check(p.expect(r"\[1/\d+\] eu-west-1 i-", 60), "resize all: the first resource ends",
              p.since(start)[-400:])
        p.send("\x03")
        m = p.expect(r"ec2\.resize: (\d+) done, (\d+) with nothing to do, (\d+) failed, "
                     r"(\d+) not run \(interrupted\)", 60)
        check(m and int(m.group(1)) + int(m.group(2)) in (1, 2) and m.group(3) == "0" and
              int(m.group(4)) >= 1, "Ctrl-C: the resource in hand finished, the rest not run",
              p.since(start)[-500:])
        check(p.expect(PROMPT, 10), "Ctrl-C: back at the prompt")
        modified = [c["params"].get("InstanceId") for c in sbx.admin("GET", "/calls")["calls"]
                    if c["action"] == "ModifyInstanceAttribute"]
        check(m and len(modified) == int(m.group(1)),
              "Ctrl-C: one ModifyInstanceAttribute per resource done, none after",
              json.dumps(modified))

        # ---- 3. critical: refused ----
        e2elib.phase("critical: refused")
        sbx.admin("DELETE", "/calls")
        start = len(p.buf)
        p.line("delete unattached volumes in us-east-1")
        m = p.expect(r"Refused: ebs\.delete_unattached is critical risk", 30)
        check(m, "delete unattached volumes: refused in chat", p.since(start)[-600:])
        p.expect(PROMPT, 10)
        finish(p, "session 1")
        r = subprocess.run(base + ["--output", "json", "ask", "--yes",
                                   "delete unattached volumes in us-east-1"],
                           env=env, capture_output=True, text=True, timeout=60)
        check(r.returncode == 2 and "Refused" in r.stderr and r.stdout == "",
              "ask --yes: critical refused, exit 2 (said on stderr with json output)",
              f"{r.returncode} {r.stdout[-300:]!r} {r.stderr[-300:]}")
        bad = [c["action"] for c in sbx.admin("GET", "/calls")["calls"]
               if c["action"] in ("CreateSnapshot", "DeleteVolume")]
        check(not bad, "critical: no CreateSnapshot nor DeleteVolume sent", json.dumps(bad))

        # --yes in a script: json results alone on stdout, the preview on stderr.
        sbx.admin("DELETE", "/calls")
        r = subprocess.run(base + ["--output", "json", "ask", "--yes",
                                   f"reboot {victim} in eu-west-1"],
                           env=env, capture_output=True, text=True, timeout=60)
        try:
            res = json.loads(r.stdout)
        except ValueError:
            res = None
        check(r.returncode == 0 and isinstance(res, list) and len(res) == 1 and
              res[0].get("id") == victim and res[0].get("outcome") == "done",
              "ask --yes --output json: the per-resource result alone on stdout",
              f"{r.returncode} {r.stdout[-300:]!r} {r.stderr[-300:]}")
        check("Plan: ec2.reboot" in r.stderr and "Confirmed by --yes (medium risk)" in r.stderr,
              "ask --yes --output json: preview and confirmation on stderr", r.stderr[-300:])
        reboots = [c["params"].get("InstanceId.1") for c in sbx.admin("GET", "/calls")["calls"]
                   if c["action"] == "RebootInstances"]
        check(reboots == [victim], "ask --yes: one RebootInstances", json.dumps(reboots))

        # ---- 4. history across runs, Ctrl-R, continued lines ----
        e2elib.phase("history, Ctrl-R, continued lines")
        p = chat()
        start = len(p.buf)
        p.wait_raw()
        p.send("\x12how many")  # reverse search for last session's question
        time.sleep(0.5)
        p.send("\r")
        m = p.expect(r"count\s+(\d+)", 20)
        check(m and m.group(1) == "0", "Ctrl-R: last session's question found and asked again "
              "(no running dev instance left)", p.since(start)[-400:])
        p.expect(PROMPT, 10)
        start = len(p.buf)
        p.line("list stopped instances \\")
        check(p.expect(r"\.\.\.> ", 10), "a backslash continues on a second prompt")
        p.line("in us-east-1")
        p.expect(PROMPT, 20)
        got = set(re.findall(r"\bi-[0-9a-f]{17}\b", p.since(start)))
        want = {i for i, v in instances(sbx.admin("GET", "/state"), "us-east-1").items()
                if v["state"] == "stopped"}
        check(got == want, "continued line: both halves make one sentence",
              f"want {len(want)} got {len(got)}")
        finish(p, "session 2")
        r = subprocess.run(base + ["--output", "json", "history", "search", "resize"], env=env,
                           capture_output=True, text=True, timeout=30)
        check(r.returncode == 0 and len(json.loads(r.stdout or "[]")) >= 2,
              "history search finds the chat's sentences", r.stdout[-300:])

        # ---- 5. a server that answers: its plan runs here ----
        e2elib.phase("server plan, run locally")
        srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), ChatServer)
        threading.Thread(target=srv.serve_forever, daemon=True).start()
        url = f"http://127.0.0.1:{srv.server_address[1]}"
        target = sorted(to_stop)[:2]
        ChatServer.answer = {
            "text": "Starting the two instances you named.", "engine": "builtin",
            "plan": {"kind": "operation", "operation": "ec2.start", "params": {},
                     "risk": "low",
                     "target": {"accounts": "all", "regions": ["us-east-1"],
                                "selector": {"ids": target}}}}
        sbx.admin("DELETE", "/calls")
        p = chat({"ESCHER_URL": url, "ESCHER_TOKEN": "esk_chat_test"})
        start = len(p.buf)
        p.line("start those two again please")
        check(p.expect(r"Starting the two instances you named\.", 15),
              "server: its text is shown", p.since(start)[-400:])
        p.expect(r"\[y/N\] ", 20)
        p.line("y")
        m = p.expect(r"ec2\.start: (\d+) done", 30)
        check(m and m.group(1) == "2", "server plan: run here after y", p.since(start)[-600:])
        p.expect(PROMPT, 10)
        calls = sbx.admin("GET", "/calls")["calls"]
        starts = sorted(c["params"].get("InstanceId.1") for c in calls
                        if c["action"] == "StartInstances")
        check(starts == target and all(c["principal_arn"] == principal for c in calls),
              "server plan: started with the local principal", json.dumps(starts))
        # A question answered with a mutating plan is not followed.
        ChatServer.answer = dict(ChatServer.answer, text="")
        start = len(p.buf)
        p.line("which instances are running in us-east-1?")
        check(p.expect(r"reads as a question", 15), "server: a mutating plan for a question "
              "is refused", p.since(start)[-400:])
        p.expect(PROMPT, 20)
        # A schedule plan becomes the server's schedule after y; nothing runs here.
        ChatServer.answer = {
            "text": "", "engine": "builtin",
            "plan": {"kind": "schedule", "cron": "0 20 * * 1-5", "time_zone": "Europe/Berlin",
                     "operation": "ec2.stop", "params": {}, "risk": "medium",
                     "target": {"accounts": "all", "regions": ["us-east-1"],
                                "selector": {"tags": {"env": ["dev"]}}}}}
        sbx.admin("DELETE", "/calls")
        start = len(p.buf)
        p.line("stop dev instances every weekday at 8pm Berlin time")
        check(p.expect(r"\[y/N\] ", 15) and "'0 20 * * 1-5' in Europe/Berlin" in p.since(start),
              "schedule: shown with cron and zone, then asked", p.since(start)[-400:])
        p.line("y")
        check(p.expect(r"Created schedule 4b1c2f9e-0000-4000-8000-000000000001; next fire "
                       r"2026-11-30T19:00:00Z", 15), "schedule: created on the server",
              p.since(start)[-400:])
        p.expect(PROMPT, 10)
        made = [json.loads(s["body"]) for s in ChatServer.seen if s["path"] == "/v1/schedules"]
        check(len(made) == 1 and made[0].get("cron") == "0 20 * * 1-5" and
              made[0].get("time_zone") == "Europe/Berlin" and made[0].get("operation") == "ec2.stop"
              and made[0].get("target", {}).get("selector") == {"tags": {"env": ["dev"]}},
              "schedule: POST /v1/schedules with the plan's cron, zone, operation and target",
              json.dumps(made)[:400])
        check(not any(c["action"] == "StopInstances" for c in sbx.admin("GET", "/calls")["calls"]),
              "schedule: nothing stopped now")
        finish(p, "session 3")
        sent = [json.loads(s["body"]) for s in ChatServer.seen if s["path"] == "/v1/chat"]
        check(len(sent) == 3 and all(set(b) == {"message", "context"} for b in sent),
              "server: POST /v1/chat with message and context only", json.dumps(sent)[:400])
        ctx = sent[0].get("context", {}) if sent else {}
        check(ctx.get("default_region") == "us-east-1" and
              set(ctx) <= {"default_region", "time_zone", "account_ids", "recent_resource_ids",
                           "recent_regions"},
              "server: the context is non-secret (region, zone, account ids, recent ids)",
              json.dumps(ctx))
        text = json.dumps(ChatServer.seen)
        check(not any(s in text for s in secrets) and "AWS4-HMAC" not in text,
              "server: no credential material sent")
        # Unreachable: the built-in engine answers, said once.
        dead = f"http://127.0.0.1:{closed_port()}"
        p = chat({"ESCHER_URL": dead, "ESCHER_TOKEN": "esk_chat_test"})
        p.line("how many instances are in eu-west-1")
        check(p.expect(r"count\s+\d+", 20) and "unreachable; answering locally" in p.text(),
              "server down: answered locally, says it is unreachable", p.text()[-400:])
        p.expect(PROMPT, 10)
        # "them" after a listing: what it listed.
        start = len(p.buf)
        p.line("list stopped dev instances in eu-west-1")
        p.expect(PROMPT, 20)
        listed = set(re.findall(r"\bi-[0-9a-f]{17}\b", p.since(start)))
        start = len(p.buf)
        p.line("start them")
        m = p.expect(r"\[y/N\] ", 30)
        shown = preview_rows(p.since(start), acct)
        check(m and listed and set(shown) == listed,
              "'start them' after a listing: the preview is what was listed",
              f"listed {len(listed)} previewed {len(shown)}")
        # Ctrl-C at a confirmation is a no; at the prompt it drops the line.
        p.wait_raw()
        p.send("\x03")
        check(p.expect(r"Not confirmed; nothing ran\.", 10), "Ctrl-C at a confirmation: no")
        p.expect(PROMPT, 10)
        sbx.admin("DELETE", "/calls")
        start = len(p.buf)
        p.wait_raw()
        p.send("stop dev instances in eu-west-1")
        time.sleep(0.3)
        p.send("\x03")
        check(p.expect(PROMPT, 10) and p.proc.poll() is None,
              "Ctrl-C at the prompt: a fresh prompt, the program goes on", p.since(start)[-300:])
        p.line("how many instances are in eu-west-1")
        check(p.expect(r"count\s+\d+", 20), "... and answers the next sentence")
        p.expect(PROMPT, 10)
        check(not any(c["action"] == "StopInstances"
                      for c in sbx.admin("GET", "/calls")["calls"]),
              "Ctrl-C at the prompt: the dropped line ran nothing")
        finish(p, "session 4")
    finally:
        if srv:
            srv.shutdown()
            srv.server_close()
        sbx.proc.stop()
    return e2elib.report()


if __name__ == "__main__":
    try:
        sys.exit(main())
    except e2elib.Stop:
        sys.exit(e2elib.report())
