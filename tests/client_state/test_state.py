"""escher's local state database (services/client/client_state.c).

argv: ESCHER_BINARY. Every case runs the real client with its own
XDG_DATA_HOME and checks the database with Python's sqlite3 module.
Standard library only.
"""
import hashlib
import json
import os
import signal
import sqlite3
import stat
import subprocess
import sys
import tempfile
import time

ESCHER = sys.argv[1]
FAILURES = []


def check(cond, what):
    print(("ok   " if cond else "FAIL ") + what)
    if not cond:
        FAILURES.append(what)


def run(home, *args):
    env = dict(os.environ, XDG_DATA_HOME=home, XDG_CONFIG_HOME=os.path.join(home, "config"))
    env.pop("ESCHER_URL", None)
    env.pop("ESCHER_TOKEN", None)
    return subprocess.run([ESCHER, *args], env=env, capture_output=True, text=True, timeout=60)


def db_path(home):
    return os.path.join(home, "escher", "state.db")


def count_rows(path):
    c = sqlite3.connect("file:%s?mode=ro" % path, uri=True, timeout=10)
    try:
        return c.execute("SELECT count(*) FROM chat_history").fetchone()[0]
    finally:
        c.close()


def test_add_list_search(tmp):
    home = os.path.join(tmp, "basic")
    r = run(home, "state", "path")
    check(r.returncode == 0 and r.stdout.strip() == db_path(home), "state path names $XDG_DATA_HOME/escher/state.db")
    # --data-dir (and ESCHER_DATA_DIR) win over the XDG directory.
    other = os.path.join(tmp, "elsewhere")
    r = run(home, "--data-dir", other, "history", "add", "--role", "user", "kept elsewhere")
    check(r.returncode == 0 and os.path.exists(os.path.join(other, "state.db")) and
          not os.path.exists(db_path(home)), "--data-dir DIR keeps the state in DIR/state.db")
    r = run(home, "--data-dir", other, "state", "path")
    check(r.stdout.strip() == os.path.join(other, "state.db"), "state path names --data-dir's file")
    env = dict(os.environ, ESCHER_DATA_DIR=other, XDG_DATA_HOME=home, HOME=home)
    r = subprocess.run([ESCHER, "history", "search", "elsewhere"], env=env, capture_output=True,
                       text=True, timeout=60)
    check(r.returncode == 0 and "kept elsewhere" in r.stdout, "ESCHER_DATA_DIR reads the same file")
    for role, text in [("user", "stop the dev instances in Frankfurt"),
                       ("assistant", "3 instances stopped in eu-central-1"),
                       ("user", "how many buckets are public?")]:
        r = run(home, "history", "add", "--role", role, text)
        check(r.returncode == 0, "history add %s: rc %d %s" % (role, r.returncode, r.stderr.strip()))
    st = os.stat(db_path(home))
    check(stat.S_IMODE(st.st_mode) == 0o600, "state.db is 0600 (got %o)" % stat.S_IMODE(st.st_mode))
    dm = stat.S_IMODE(os.stat(os.path.dirname(db_path(home))).st_mode)
    check(dm == 0o700, "escher data directory is 0700 (got %o)" % dm)

    r = run(home, "history", "list", "--output", "json")
    rows = json.loads(r.stdout) if r.returncode == 0 else []
    check([x["text"] for x in rows] == ["stop the dev instances in Frankfurt",
                                       "3 instances stopped in eu-central-1",
                                       "how many buckets are public?"],
          "history list gives every message oldest first")
    check([x["role"] for x in rows] == ["user", "assistant", "user"], "history list keeps the roles")
    check(all(x["at"].endswith("Z") and "T" in x["at"] for x in rows), "times are ISO-8601 UTC")
    r = run(home, "history", "list", "--limit", "1", "--output", "json")
    check(r.returncode == 0 and [x["id"] for x in json.loads(r.stdout)] == [3], "--limit 1 gives the newest")

    r = run(home, "history", "search", "instances", "--output", "json")
    got = [x["id"] for x in json.loads(r.stdout)] if r.returncode == 0 else None
    check(got == [1, 2], "search 'instances' finds messages 1 and 2 (got %s)" % got)
    r = run(home, "history", "search", "PUBLIC", "--output", "json")
    got = [x["id"] for x in json.loads(r.stdout)] if r.returncode == 0 else None
    check(got == [3], "search is case-insensitive (got %s)" % got)
    r = run(home, "history", "search", "eu-central-1", "--output", "json")
    got = [x["id"] for x in json.loads(r.stdout)] if r.returncode == 0 else None
    check(got == [2], "punctuation in the word is searched for, not parsed (got %s)" % got)
    r = run(home, "history", "search", 'a"b', "--output", "json")
    check(r.returncode == 0 and json.loads(r.stdout) == [], "a quote in the word finds nothing, no error")
    r = run(home, "history", "search", "volcano")
    check(r.returncode == 0 and "volcano" not in r.stdout, "a word in no message lists nothing")

    r = run(home, "history", "add", "--role", "system", "x")
    check(r.returncode == 2, "history add --role system is a usage error (exit 2)")
    r = run(home, "history", "list", "--limit", "zero")
    check(r.returncode == 2, "--limit zero is a usage error (exit 2)")

    os.chmod(db_path(home), 0o644)
    r = run(home, "history", "list")
    check(r.returncode == 0 and "readable by others" in r.stderr, "a database others can read is warned about")
    os.chmod(db_path(home), 0o600)

    c = sqlite3.connect(db_path(home))
    check(c.execute("PRAGMA journal_mode").fetchone()[0] == "wal", "the database is in WAL mode")
    check(c.execute("PRAGMA user_version").fetchone()[0] >= 1, "the schema is versioned")
    tables = {r[0] for r in c.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    check({"chat_history", "estate", "settings"} <= tables, "chat_history, estate and settings exist")
    cols = [r[1] for r in c.execute("PRAGMA table_info(estate)")]
    check(cols == ["account", "region", "resource_type", "resource_id", "name", "state", "data", "fetched_at"],
          "estate has its columns (got %s)" % cols)
    c.close()


def test_sigkill(tmp):
    """A client killed (SIGKILL) while committing row after row keeps every
    committed row and leaves a database that opens and passes integrity_check."""
    home = os.path.join(tmp, "kill")
    check(run(home, "history", "add", "--role", "user", "first").returncode == 0, "seed row written")
    for round_ in range(3):
        env = dict(os.environ, XDG_DATA_HOME=home)
        p = subprocess.Popen([ESCHER, "history", "add", "--role", "assistant", "--repeat", "100000000",
                              "row %d" % round_], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline = time.time() + 60
        before = 0
        # Let it write for a while, reading the count as it goes: the last
        # count read is committed before the kill.
        target = 50 + 40 * round_
        while time.time() < deadline and p.poll() is None:
            before = count_rows(db_path(home))
            if before >= target:
                break
            time.sleep(0.01)
        before = count_rows(db_path(home))
        check(p.poll() is None, "round %d: the writer is still writing when killed" % round_)
        p.send_signal(signal.SIGKILL)
        p.wait()
        p.stderr.close()
        c = sqlite3.connect(db_path(home))
        ok = c.execute("PRAGMA integrity_check").fetchone()[0]
        after = c.execute("SELECT count(*) FROM chat_history").fetchone()[0]
        c.close()
        check(ok == "ok", "round %d: integrity_check after SIGKILL is ok (%s)" % (round_, ok))
        check(before <= after and before > 1, "round %d: committed rows kept (%d before kill, %d after)"
              % (round_, before, after))
        r = run(home, "history", "list", "--limit", "1", "--output", "json")
        check(r.returncode == 0, "round %d: escher opens the database after the kill: %s" % (round_, r.stderr.strip()))
        r = run(home, "history", "search", "first", "--output", "json")
        check(r.returncode == 0 and len(json.loads(r.stdout)) == 1, "round %d: search still works" % round_)
    r = run(home, "history", "add", "--role", "user", "after the kills")
    check(r.returncode == 0, "writes work after the kills")


DAMAGED = "is damaged ("
DAMAGED_TAIL = "move it aside to start afresh \u2014 history in it is not lost until you delete it"


def test_damaged(tmp):
    home = os.path.join(tmp, "damaged")
    os.makedirs(os.path.join(home, "escher"))
    path = db_path(home)
    with open(path, "wb") as f:
        f.write(b"this is not an SQLite database\n" * 200 + bytes(range(256)) * 8)
    os.chmod(path, 0o600)
    before = hashlib.sha256(open(path, "rb").read()).hexdigest()
    for args in (["history", "list"], ["history", "add", "--role", "user", "hello"],
                 ["history", "search", "hello"]):
        r = run(home, *args)
        check(r.returncode == 1, "%s on a damaged file exits 1 (got %d)" % (" ".join(args), r.returncode))
        want = "escher: the local state database %s %s" % (path, DAMAGED)
        check(r.stderr.startswith(want) and DAMAGED_TAIL in r.stderr,
              "%s says the database is damaged: %r" % (" ".join(args), r.stderr.strip()))
    after = hashlib.sha256(open(path, "rb").read()).hexdigest()
    check(before == after, "the damaged file is left byte for byte unchanged")
    check(os.path.exists(path), "the damaged file is not deleted")

    # A real database whose pages were overwritten (the header survives).
    home2 = os.path.join(tmp, "damaged2")
    run(home2, "history", "add", "--role", "user", "x" * 3000, "--repeat", "50")
    p2 = db_path(home2)
    with open(p2, "r+b") as f:
        f.seek(4096)
        f.write(b"\xff" * 4096 * 6)
    before = hashlib.sha256(open(p2, "rb").read()).hexdigest()
    r = run(home2, "history", "search", "x")
    check(r.returncode == 1 and DAMAGED in r.stderr and DAMAGED_TAIL in r.stderr,
          "overwritten pages: damaged message and exit 1 (rc %d: %r)" % (r.returncode, r.stderr.strip()))
    check(hashlib.sha256(open(p2, "rb").read()).hexdigest() == before, "the overwritten file is left unchanged")


def test_locked(tmp):
    home = os.path.join(tmp, "locked")
    check(run(home, "history", "add", "--role", "user", "hello").returncode == 0, "database created")
    c = sqlite3.connect(db_path(home), isolation_level=None)
    c.execute("BEGIN EXCLUSIVE")
    c.execute("INSERT INTO settings (key, value) VALUES ('held', 'yes')")
    t0 = time.time()
    r = run(home, "history", "add", "--role", "user", "blocked")
    want = ("escher: the local state database %s is locked by another escher process; retry\n"
            % db_path(home))
    check(r.returncode == 1 and r.stderr == want, "a held write lock gives the locked message, exit 1: %r" % r.stderr)
    check(time.time() - t0 < 30, "it gives up after the busy timeout")
    c.execute("ROLLBACK")
    c.close()
    r = run(home, "history", "add", "--role", "user", "unblocked")
    check(r.returncode == 0, "once the lock is released the write succeeds")
    check(count_rows(db_path(home)) == 2, "the refused write left nothing behind")


def main():
    with tempfile.TemporaryDirectory(prefix="escher-state-") as tmp:
        test_add_list_search(tmp)
        test_sigkill(tmp)
        test_damaged(tmp)
        test_locked(tmp)
    if FAILURES:
        print("%d failure(s)" % len(FAILURES))
        return 1
    print("all ok")
    return 0


if __name__ == "__main__":
    sys.exit(main())
