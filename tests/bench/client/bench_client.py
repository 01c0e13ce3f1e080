"""The escher client's two figures (issue 6), called by tests/bench/client.sh.

1. Start-up: `escher chat` spawned on a pseudo-terminal (HOME, XDG_* in a
   temporary directory, no server, no AWS settings) until its prompt
   "escher> " (CLIENT_CHAT_PROMPT) appears; median of STARTUP_RUNS, each in
   a fresh state directory (the first start, which creates the SQLite state),
   and again with the state left by an earlier start.
2. Listing: one member account of escher-sandbox holding TOTAL instances,
   TOTAL/4 in each of 4 regions, every answer delayed 20 ms (PUT /faults);
   `escher ask "list instances in <the 4 regions>" --output json` against
   a loop of `/usr/bin/aws ec2 describe-instances --region R` over the same
   regions with the same profile (the sandbox's --aws-config files). Every
   round checks that both listed exactly the instance ids of GET /state,
   and fails otherwise. One untimed round first; then ROUNDS timed rounds,
   the two sides alternating; medians.

usage: bench_client.py ESCHER ESCHER_SANDBOX TOTAL ROUNDS STARTUP_RUNS [--no-latency-round]
Standard library only (/usr/bin/python3). Ends with the line
    client: <ms> ms (<ratio>x vs aws ec2 describe-instances loop, ...)
"""
import copy
import http.client
import json
import os
import pty
import select
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

REGIONS = ["us-east-1", "us-west-2", "eu-west-1", "eu-central-1"]
SENTENCE = "list instances in us-east-1, us-west-2, eu-west-1 and eu-central-1"
PROMPT = b"escher> "  # CLIENT_CHAT_PROMPT in services/client/client_chat.h
STARTUP_BOUND_MS = 50.0
LATENCY_MS = 20
AWS = "/usr/bin/aws"


class Fail(Exception):
    pass


def clean_env(extra):
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("ESCHER_", "AWS_", "XDG_"))}
    env.update(extra)
    return env


# ---- the sandbox ------------------------------------------------------------------


class Sandbox:
    def __init__(self, binary, tmp, name, args):
        self.log_path = os.path.join(tmp, f"{name}.log")
        self.log = open(self.log_path, "wb")
        cmd = [binary, "--listen", "127.0.0.1", "--port", "0", "--admin-port", "0",
               "--log-level", "info", "--no-throttle", *args]
        self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=self.log,
                                     stderr=subprocess.STDOUT, env=clean_env({}))
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            with open(self.log_path, "rb") as f:
                for line in f:
                    try:
                        obj = json.loads(line)
                    except ValueError:
                        continue
                    if obj.get("msg") == "listening":
                        self.port, self.admin_port = obj["port"], obj["admin_port"]
                        self.endpoint = f"http://127.0.0.1:{self.port}"
                        return
            if self.proc.poll() is not None:
                break
            time.sleep(0.02)
        self.stop()
        with open(self.log_path, errors="replace") as f:
            raise Fail(f"escher-sandbox did not start: {' '.join(cmd)}\n{f.read()[-3000:]}")

    def admin(self, method, path, body=None):
        conn = http.client.HTTPConnection("127.0.0.1", self.admin_port, timeout=60)
        try:
            data = json.dumps(body).encode() if body is not None else None
            conn.request(method, path, body=data,
                         headers={"Content-Type": "application/json"} if data else {})
            resp = conn.getresponse()
            raw = resp.read()
        finally:
            conn.close()
        if resp.status != 200:
            raise Fail(f"sandbox admin {method} {path}: {resp.status} {raw[:300]!r}")
        return json.loads(raw)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()


def make_world(sandbox_bin, tmp, total):
    """A generated one-member world whose member holds exactly total/4
    instances in each of REGIONS (the generated ones, then clones of them
    with fresh ids and Name tags). Returns (world file, account id)."""
    gen = os.path.join(tmp, "generated.json")
    s = Sandbox(sandbox_bin, tmp, "sandbox-gen",
                ["--accounts", "1", "--regions", ",".join(REGIONS), "--seed", "1",
                 "--save-world", gen])
    s.stop()
    with open(gen) as f:
        world = json.load(f)
    member = next(a for a in world["accounts"] if not a.get("is_management"))
    per_region = total // len(REGIONS)
    serial = 0
    for region in member["regions"]:
        if region["name"] not in REGIONS:
            continue
        originals = region["instances"][:per_region]
        if not originals:
            raise Fail(f"the generated world has no instance in {region['name']} to clone")
        region["instances"] = list(originals)
        while len(region["instances"]) < per_region:
            clone = copy.deepcopy(originals[serial % len(originals)])
            serial += 1
            clone["id"] = f"i-{0xc1000000000000000 + serial:017x}"
            clone["tags"] = [t for t in clone["tags"] if t["Key"] != "Name"]
            clone["tags"].append({"Key": "Name", "Value": f"bench-{serial}"})
            region["instances"].append(clone)
    path = os.path.join(tmp, "world.json")
    with open(path, "w") as f:
        json.dump(world, f)
    return path, member["id"]


def state_ids(sandbox, account):
    """The instance ids of account in REGIONS according to GET /state."""
    state = sandbox.admin("GET", "/state")
    acct = next(a for a in state["accounts"] if a["id"] == account)
    return sorted(i["id"] for r in acct["regions"] if r["name"] in REGIONS
                  for i in r["instances"])


# ---- the two listings -------------------------------------------------------------


def run_client(escher, env, sandbox, profile):
    cmd = [escher, "--profile", profile, "--endpoint-url", sandbox.endpoint, "--output", "json",
           "ask", SENTENCE]
    t0 = time.perf_counter()
    p = subprocess.run(cmd, env=env, stdin=subprocess.DEVNULL, capture_output=True)
    ms = (time.perf_counter() - t0) * 1000
    if p.returncode != 0:
        raise Fail(f"escher ask exited {p.returncode}: {p.stderr.decode(errors='replace')[-2000:]}")
    try:
        ids = [i["id"] for i in json.loads(p.stdout)]
    except (ValueError, KeyError, TypeError) as e:
        raise Fail(f"escher ask: not a JSON list of instances ({e}): {p.stdout[:300]!r}")
    return ms, ids


def run_aws_loop(env, sandbox, profile):
    ms = 0.0
    ids = []
    for region in REGIONS:
        cmd = [AWS, "--profile", profile, "--endpoint-url", sandbox.endpoint, "--output", "json",
               "ec2", "describe-instances", "--region", region]
        t0 = time.perf_counter()
        p = subprocess.run(cmd, env=env, stdin=subprocess.DEVNULL, capture_output=True)
        ms += (time.perf_counter() - t0) * 1000
        if p.returncode != 0:
            raise Fail(f"aws in {region} exited {p.returncode}: "
                       f"{p.stderr.decode(errors='replace')[-2000:]}")
        try:
            doc = json.loads(p.stdout)
            ids += [i["InstanceId"] for r in doc["Reservations"] for i in r["Instances"]]
        except (ValueError, KeyError, TypeError) as e:
            raise Fail(f"aws in {region}: unexpected answer ({e}): {p.stdout[:300]!r}")
    return ms, ids


def same(name, ids, want):
    if sorted(ids) != want:
        extra = len(set(ids) - set(want))
        missing = len(set(want) - set(ids))
        raise Fail(f"{name} listed {len(ids)} instances ({len(set(ids))} distinct, {extra} not "
                   f"in GET /state, {missing} of GET /state missing); want exactly {len(want)}")


def describe_calls(sandbox):
    calls = sandbox.admin("GET", "/calls?limit=100000")["calls"]
    return sum(1 for c in calls if c["action"] == "DescribeInstances")


def listing(escher, sandbox, profile, env, want, rounds):
    """One untimed round, then rounds timed ones; both sides checked every
    round. Returns (client ms list, aws ms list, client calls, aws calls)."""
    client_ms, aws_ms = [], []
    sandbox.admin("DELETE", "/calls")
    _, ids = run_client(escher, env, sandbox, profile)
    same("escher ask", ids, want)
    client_calls = describe_calls(sandbox)
    sandbox.admin("DELETE", "/calls")
    _, ids = run_aws_loop(env, sandbox, profile)
    same("the aws loop", ids, want)
    aws_calls = describe_calls(sandbox)
    for _ in range(rounds):
        ms, ids = run_client(escher, env, sandbox, profile)
        same("escher ask", ids, want)
        client_ms.append(ms)
        ms, ids = run_aws_loop(env, sandbox, profile)
        same("the aws loop", ids, want)
        aws_ms.append(ms)
    return client_ms, aws_ms, client_calls, aws_calls


# ---- start-up to the first prompt ---------------------------------------------------


def chat_startup(escher, home):
    """Milliseconds from spawn to the prompt on a pseudo-terminal; then
    'exit', which must end the program with 0."""
    env = clean_env({"HOME": home, "XDG_DATA_HOME": os.path.join(home, ".local", "share"),
                     "XDG_STATE_HOME": os.path.join(home, ".local", "state"),
                     "XDG_CONFIG_HOME": os.path.join(home, ".config"),
                     "TERM": "xterm",
                     "AWS_EC2_METADATA_DISABLED": "true"})
    master, slave = pty.openpty()
    t0 = time.perf_counter()
    p = subprocess.Popen([escher, "chat"], stdin=slave, stdout=slave, stderr=slave, env=env,
                         start_new_session=True, close_fds=True)
    os.close(slave)
    seen = b""
    ms = None
    deadline = time.monotonic() + 30
    try:
        while time.monotonic() < deadline:
            r, _, _ = select.select([master], [], [], 1)
            if not r:
                continue
            try:
                chunk = os.read(master, 65536)
            except OSError:
                chunk = b""
            if not chunk:
                break
            seen += chunk
            if PROMPT in seen:
                ms = (time.perf_counter() - t0) * 1000
                break
        if ms is None:
            raise Fail(f"escher chat showed no prompt: {seen[-1000:]!r}")
        os.write(master, b"exit\n")
        while True:  # drain until the program closes the terminal
            r, _, _ = select.select([master], [], [], 10)
            if not r:
                break
            try:
                if not os.read(master, 65536):
                    break
            except OSError:
                break
        rc = p.wait(30)
        if rc != 0:
            raise Fail(f"escher chat exited {rc} after 'exit': {seen[-1000:]!r}")
        if b"Sanitizer" in seen or b"runtime error:" in seen:
            raise Fail(f"escher chat: sanitizer report: {seen[-2000:]!r}")
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
        os.close(master)
    return ms


def startup(escher, tmp, runs):
    fresh = []
    for n in range(runs):
        home = os.path.join(tmp, f"home-{n}")
        os.makedirs(home)
        fresh.append(chat_startup(escher, home))
    again = [chat_startup(escher, os.path.join(tmp, "home-0")) for _ in range(runs)]
    return fresh, again


# ---- main ----------------------------------------------------------------------------


def plural(n, word):
    return f"{n} {word}" + ("" if n == 1 else "s")


def fmt(xs):
    return (f"median {statistics.median(xs):.1f} ms (min {min(xs):.1f}, max {max(xs):.1f}, "
            f"{plural(len(xs), 'run')})")


def main():
    escher, sandbox_bin = sys.argv[1], sys.argv[2]
    total, rounds, startup_runs = int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
    zero_round = "--no-latency-round" not in sys.argv[6:]
    if total % len(REGIONS):
        raise Fail(f"TOTAL must be a multiple of {len(REGIONS)}, got {total}")
    if not os.access(AWS, os.X_OK):
        raise Fail(f"{AWS} is missing: deploy/local/deps.sh installs awscli")
    tmp = tempfile.mkdtemp(prefix="escher-bench-client-")
    sandbox = None
    try:
        # 1. Start-up.
        fresh, again = startup(escher, tmp, startup_runs)
        print(f"  escher chat to its prompt, fresh state directory (creates the SQLite state): "
              f"{fmt(fresh)}")
        print(f"  escher chat to its prompt, existing state:                                 "
              f"{fmt(again)}")

        # 2. Listing.
        world, account = make_world(sandbox_bin, tmp, total)
        aws_dir = os.path.join(tmp, "aws")
        sandbox = Sandbox(sandbox_bin, tmp, "sandbox", ["--world", world, "--aws-config", aws_dir])
        profile = f"acct-{account}"
        want = state_ids(sandbox, account)
        if len(want) != total or len(set(want)) != total:
            raise Fail(f"GET /state has {len(want)} instances in the account, want {total}")
        home = os.path.join(tmp, "home-list")
        os.makedirs(home)
        env = clean_env({"HOME": home, "XDG_DATA_HOME": os.path.join(home, ".local", "share"),
                         "XDG_STATE_HOME": os.path.join(home, ".local", "state"),
                         "XDG_CONFIG_HOME": os.path.join(home, ".config"),
                         "AWS_CONFIG_FILE": os.path.join(aws_dir, "config"),
                         "AWS_SHARED_CREDENTIALS_FILE": os.path.join(aws_dir, "credentials"),
                         "AWS_EC2_METADATA_DISABLED": "true", "AWS_PAGER": ""})
        print(f"  world: account {account}, {total} instances ({total // len(REGIONS)} in each of "
              f"{', '.join(REGIONS)}), checked with GET /state")
        if zero_round:
            c0, a0, _, _ = listing(escher, sandbox, profile, env, want, rounds)
            print(f"  no added latency: escher ask {statistics.median(c0):.0f} ms, aws loop "
                  f"{statistics.median(a0):.0f} ms (medians of {plural(rounds, 'round')})")
        faults = sandbox.admin("PUT", "/faults",
                               {"latency": {"fixed_ms": LATENCY_MS, "jitter_ms": 0}})
        if faults.get("latency", {}).get("fixed_ms") != LATENCY_MS:
            raise Fail(f"PUT /faults did not set the latency: {faults}")
        c, a, ccalls, acalls = listing(escher, sandbox, profile, env, want, rounds)
        cm, am = statistics.median(c), statistics.median(a)
        print(f"  {LATENCY_MS} ms added to every answer (PUT /faults), "
              f"{plural(rounds, 'timed round')} after one untimed, each checked against "
              f"GET /state ({total} ids):")
        print(f"    escher ask \"{SENTENCE}\" --output json: {fmt(c)}; "
              f"{ccalls} DescribeInstances calls")
        print(f"    aws ec2 describe-instances --region R, for R in the 4 regions: {fmt(a)}; "
              f"{acalls} DescribeInstances calls")
        pages = -(-ccalls // len(REGIONS))
        print(f"    added latency in escher ask's {ccalls} calls: {ccalls * LATENCY_MS} ms when "
              f"made one after another, {pages * LATENCY_MS} ms with the {len(REGIONS)} regions "
              f"side by side ({plural(pages, 'page')} each)")
        print(f"startup: {statistics.median(fresh):.1f} ms to the first prompt "
              f"({statistics.median(fresh) / STARTUP_BOUND_MS:.2f}x vs {STARTUP_BOUND_MS:.0f} ms "
              f"bound; fresh state directory)")
        print(f"client: {cm:.0f} ms ({cm / am:.2f}x vs aws ec2 describe-instances loop, "
              f"{total} instances in 4 regions, {LATENCY_MS} ms latency)")
        return 0
    finally:
        if sandbox:
            sandbox.stop()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    try:
        sys.exit(main())
    except Fail as e:
        print(f"bench_client: {e}", file=sys.stderr)
        sys.exit(1)
