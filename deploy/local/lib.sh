# Shell functions shared by the stack scripts and the test command: private
# PostgreSQL and Redis servers on loopback, each with its own data directory,
# never a system-wide instance. Source this file; it defines functions only.

# The PostgreSQL server refuses to run as root, so as root we run it (and
# Redis, for symmetry) as this unprivileged system user.
ESCHER_RUN_USER=${ESCHER_RUN_USER:-escher-run}

pg_bindir() {
  local d
  d=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
  [ -n "$d" ] || { echo "PostgreSQL server binaries not found under /usr/lib/postgresql" >&2; return 1; }
  echo "$d"
}

free_port() {
  /usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# Runs a command as the unprivileged user when we are root, as ourselves otherwise.
as_run_user() {
  if [ "$(id -u)" -eq 0 ]; then
    id -u "$ESCHER_RUN_USER" >/dev/null 2>&1 ||
      useradd --system --no-create-home --shell /usr/sbin/nologin "$ESCHER_RUN_USER"
    runuser -u "$ESCHER_RUN_USER" -- "$@"
  else
    "$@"
  fi
}

# The run user must be able to reach a directory under root's tree.
prepare_dir() {
  mkdir -p "$1"
  if [ "$(id -u)" -eq 0 ]; then
    chown "$ESCHER_RUN_USER" "$1"
    local p=$1
    while [ "$p" != / ]; do
      p=$(dirname "$p")
      chmod o+x "$p" 2>/dev/null || true
    done
  fi
}

# pg_start DIR PORT: initialises DIR/data once, starts on 127.0.0.1:PORT with
# its socket in DIR, creates database "escher" owned by user "escher".
pg_start() {
  local dir=$1 port=$2 bin
  bin=$(pg_bindir) || return 1
  as_run_user true # creates the user if needed
  prepare_dir "$dir"
  if [ ! -f "$dir/data/PG_VERSION" ]; then
    as_run_user "$bin/initdb" -D "$dir/data" -U escher --auth=trust -E UTF8 --no-locale >"$dir/initdb.log" 2>&1 ||
      { echo "initdb failed, see $dir/initdb.log" >&2; return 1; }
  fi
  as_run_user "$bin/pg_ctl" -D "$dir/data" -l "$dir/postgresql.log" -w -t 60 \
    -o "-p $port -c listen_addresses=127.0.0.1 -k $dir -c fsync=off" start >/dev/null ||
    { echo "PostgreSQL did not start, see $dir/postgresql.log" >&2; return 1; }
  echo "$port" >"$dir/port"
  as_run_user "$bin/psql" -h 127.0.0.1 -p "$port" -U escher -d postgres -Atqc \
    "SELECT 1 FROM pg_database WHERE datname = 'escher'" | grep -q 1 ||
    as_run_user "$bin/createdb" -h 127.0.0.1 -p "$port" -U escher escher
}

pg_stop() {
  local dir=$1 bin
  bin=$(pg_bindir) || return 1
  [ -f "$dir/data/postmaster.pid" ] || return 0
  as_run_user "$bin/pg_ctl" -D "$dir/data" -m fast -w stop >/dev/null 2>&1 || true
}

pg_status() {
  local dir=$1 bin
  bin=$(pg_bindir) || return 1
  if [ -f "$dir/data/postmaster.pid" ] && as_run_user "$bin/pg_ctl" -D "$dir/data" status >/dev/null 2>&1; then
    echo "postgresql: running on 127.0.0.1:$(cat "$dir/port") data=$dir/data log=$dir/postgresql.log"
  else
    echo "postgresql: stopped (data=$dir/data)"
    return 1
  fi
}

# redis_start DIR PORT: no persistence files outside DIR; loopback only.
redis_start() {
  local dir=$1 port=$2
  prepare_dir "$dir"
  as_run_user redis-server --bind 127.0.0.1 --port "$port" --dir "$dir" --daemonize yes \
    --pidfile "$dir/redis.pid" --logfile "$dir/redis.log" --save "" --appendonly no \
    --protected-mode yes >/dev/null ||
    { echo "Redis did not start, see $dir/redis.log" >&2; return 1; }
  echo "$port" >"$dir/port"
  local i
  for i in $(seq 1 50); do
    redis-cli -h 127.0.0.1 -p "$port" ping >/dev/null 2>&1 && return 0
    sleep 0.1
  done
  echo "Redis did not answer on 127.0.0.1:$port, see $dir/redis.log" >&2
  return 1
}

redis_stop() {
  local dir=$1
  [ -f "$dir/port" ] || return 0
  redis-cli -h 127.0.0.1 -p "$(cat "$dir/port")" shutdown nosave >/dev/null 2>&1 || true
  rm -f "$dir/redis.pid"
}

redis_status() {
  local dir=$1
  if [ -f "$dir/port" ] && redis-cli -h 127.0.0.1 -p "$(cat "$dir/port")" ping >/dev/null 2>&1; then
    echo "redis: running on 127.0.0.1:$(cat "$dir/port") dir=$dir log=$dir/redis.log"
  else
    echo "redis: stopped (dir=$dir)"
    return 1
  fi
}

# sandbox_start DIR BUILD PORT ADMIN_PORT [ARGS...]: escher-sandbox in the
# background with its log and pid in DIR and AWS profiles in DIR/aws; waits
# until the admin endpoint answers.
sandbox_start() {
  local dir=$1 build=$2 port=$3 admin=$4
  shift 4
  mkdir -p "$dir/aws"
  setsid "$build/services/sandbox/escher-sandbox" --port "$port" --admin-port "$admin" \
    --aws-config "$dir/aws" "$@" >>"$dir/sandbox.log" 2>&1 </dev/null &
  echo $! >"$dir/sandbox.pid"
  echo "$port" >"$dir/port"
  echo "$admin" >"$dir/admin-port"
  local i
  for i in $(seq 1 100); do
    curl -fsS "http://127.0.0.1:$admin/healthz" >/dev/null 2>&1 && return 0
    kill -0 "$(cat "$dir/sandbox.pid")" 2>/dev/null || break
    sleep 0.1
  done
  echo "escher-sandbox did not start, see $dir/sandbox.log:" >&2
  tail -n 5 "$dir/sandbox.log" >&2
  return 1
}

sandbox_stop() {
  local dir=$1 pid
  [ -f "$dir/sandbox.pid" ] || return 0
  pid=$(cat "$dir/sandbox.pid")
  if kill -0 "$pid" 2>/dev/null; then
    kill -TERM "$pid" 2>/dev/null || true
    local i
    for i in $(seq 1 50); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.1
    done
  fi
  rm -f "$dir/sandbox.pid"
}

sandbox_status() {
  local dir=$1
  if [ -f "$dir/sandbox.pid" ] && kill -0 "$(cat "$dir/sandbox.pid")" 2>/dev/null &&
    curl -fsS "http://127.0.0.1:$(cat "$dir/admin-port")/healthz" >/dev/null 2>&1; then
    echo "sandbox: running on 127.0.0.1:$(cat "$dir/port") (admin 127.0.0.1:$(cat "$dir/admin-port")) profiles=$dir/aws log=$dir/sandbox.log"
  else
    echo "sandbox: stopped (dir=$dir)"
    return 1
  fi
}

# proc_start DIR NAME CMD...: an Escher daemon in the background (new session,
# stdin closed), stderr and stdout to DIR/NAME.log, pid in DIR/NAME.pid.
proc_start() {
  local dir=$1 name=$2
  shift 2
  mkdir -p "$dir"
  setsid "$@" >>"$dir/$name.log" 2>&1 </dev/null &
  echo $! >"$dir/$name.pid"
}

# proc_stop DIR NAME: SIGTERM, up to 30 s for a graceful stop, then SIGKILL.
proc_stop() {
  local dir=$1 name=$2 pid i
  [ -f "$dir/$name.pid" ] || return 0
  pid=$(cat "$dir/$name.pid")
  if kill -0 "$pid" 2>/dev/null; then
    kill -TERM "$pid" 2>/dev/null || true
    for i in $(seq 1 300); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.1
    done
    kill -KILL "$pid" 2>/dev/null || true
  fi
  rm -f "$dir/$name.pid"
}

# proc_status DIR NAME [DETAIL]: one line saying whether it runs.
proc_status() {
  local dir=$1 name=$2 detail=${3:-}
  if [ -f "$dir/$name.pid" ] && kill -0 "$(cat "$dir/$name.pid")" 2>/dev/null; then
    echo "$name: running (pid $(cat "$dir/$name.pid"))${detail:+ $detail} log=$dir/$name.log"
  else
    echo "$name: stopped (dir=$dir)"
    return 1
  fi
}
