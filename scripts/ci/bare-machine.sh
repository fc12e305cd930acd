#!/usr/bin/env bash
# The bare-machine check (issue 20, "How it is checked"): a machine with only Node.js runs the
# whole system. From a fresh clone after `npm ci`, inside a network namespace whose loopback has
# nothing listening (no Postgres, no Redis, no Docker reachable) and with psql, pg_ctl, postgres,
# redis-server and pgbouncer off the PATH (a pooler is not "nothing but Node.js"):
#   1. `npm start` comes up (embedded Postgres, created now), on the project's Node (24);
#   2. `npm run demo` in the same namespace: its rows equal Stripe's final objects;
#   3. Ctrl-C (SIGINT to npm start's process group, as a terminal sends it): no process is left;
#   4. a second `npm start` reuses the data (the demo's rows are still there), then stops the same way;
#   5. with --with-tests: `npm test` in the namespace (Redis-only tests skip, saying why).
# Prints the time from `npm start` to its banner for both runs (not a pass/fail bound).
#
# Usage (as root: network namespaces need it):
#   scripts/ci/bare-machine.sh [--here] [--with-tests]
#     --here           use this checkout as it is (it must be a fresh clone after `npm ci`, with no
#                      .local/postgres); by default a fresh clone of HEAD is made and `npm ci` run in it
#     --with-tests     also run `npm test` inside the namespace (Postgres only: Redis-only tests skip)
set -euo pipefail

here=false
with_tests=false
for arg in "$@"; do
  case "$arg" in
    --here) here=true ;;
    --with-tests) with_tests=true ;;
    -h | --help)
      sed -n '2,19p' "$0" | sed 's/^# \{0,1\}//'
      exit 0
      ;;
    *)
      echo "bare-machine: unknown argument $arg (see --help)" >&2
      exit 2
      ;;
  esac
done

say() { echo "bare-machine: $*"; }
fail() {
  echo "bare-machine: FAILED: $*" >&2
  exit 1
}

[ "$(id -u)" -eq 0 ] || fail "run as root (ip netns needs it)"
command -v ip > /dev/null || fail "ip (iproute2) is not installed"

source_repo="$(cd "$(dirname "$0")/../.." && pwd)"
work="$(mktemp -d /tmp/bw-bare-machine.XXXXXX)"
# The embedded Postgres runs as the postgres user, which must enter the clone.
chmod 755 "$work"
ns="bw-bare-$$"
start_pgid=""

cleanup() {
  set +e
  if [ -n "$start_pgid" ] && kill -0 -- "-$start_pgid" 2> /dev/null; then kill -KILL -- "-$start_pgid" 2> /dev/null; fi
  if ip netns list 2> /dev/null | grep -qw "$ns"; then
    for pid in $(ip netns pids "$ns" 2> /dev/null); do kill -KILL "$pid" 2> /dev/null; done
    ip netns del "$ns"
  fi
  rm -rf "$work"
}
trap cleanup EXIT

# --- the clone ---------------------------------------------------------------------------------
if [ "$here" = true ]; then
  repo="$source_repo"
  [ -d "$repo/node_modules" ] || fail "--here: $repo has no node_modules (run npm ci first)"
  [ ! -e "$repo/.local/postgres" ] || fail "--here: $repo/.local/postgres exists; the check starts from none (move it away)"
else
  repo="$work/clone"
  say "cloning $(git -C "$source_repo" rev-parse --short HEAD) into $repo"
  git clone --quiet --no-hardlinks "$source_repo" "$repo"
  say "npm ci (outside the namespace: it needs the registry)"
  (cd "$repo" && npm ci --no-audit --no-fund > "$work/npm-ci.log" 2>&1) || {
    tail -20 "$work/npm-ci.log" >&2
    fail "npm ci"
  }
fi

# --- a PATH without psql, pg_ctl, postgres, redis-server, pgbouncer ------------------------------
bin="$work/bin"
mkdir -p "$bin"
IFS=: read -r -a path_dirs <<< "$PATH"
for dir in "${path_dirs[@]}"; do
  [ -d "$dir" ] || continue
  for file in "$dir"/*; do
    name="$(basename "$file")"
    case "$name" in psql | pg_ctl | postgres | redis-server | pg_ctlcluster | initdb | docker | pgbouncer) continue ;; esac
    [ -x "$file" ] && [ ! -e "$bin/$name" ] && ln -s "$file" "$bin/$name"
  done
done
for name in psql pg_ctl postgres redis-server pgbouncer; do
  [ ! -e "$bin/$name" ] || fail "$name is still on the PATH"
done

# --- the namespace: loopback up, nothing listening ----------------------------------------------
ip netns add "$ns"
ip netns exec "$ns" ip link set lo up
listening="$(ip netns exec "$ns" ss -Hltn 2> /dev/null || true)"
[ -z "$listening" ] || fail "something listens in the new namespace: $listening"
ip netns exec "$ns" bash -c 'exec 3<>/dev/tcp/127.0.0.1/5432' 2> /dev/null && fail "Postgres answers on 127.0.0.1:5432 inside the namespace"
ip netns exec "$ns" bash -c 'exec 3<>/dev/tcp/127.0.0.1/6379' 2> /dev/null && fail "Redis answers on 127.0.0.1:6379 inside the namespace"
say "namespace $ns: loopback up, nothing listening; PATH has no psql, pg_ctl, postgres, redis-server, pgbouncer"


# Everything below runs in the namespace with a minimal environment: none of DATABASE_URL,
# REDIS_*, TEST_* set; no Docker socket.
ns_env=(ip netns exec "$ns" env -i PATH="$bin" HOME="${HOME:-/root}" LANG=C.UTF-8 CI="${CI:-}" DOCKER_HOST=unix:///nonexistent/docker.sock)
in_ns() { "${ns_env[@]}" "$@"; }

start_log=""
ready_s=""
# Starts `npm start` in a session of its own (its process group is what a terminal's Ctrl-C hits),
# waits for the banner; sets ready_s to the seconds it took.
start_stack() {
  start_log="$work/start-$1.log"
  local t0 t1
  t0=$(date +%s.%N)
  # A simple command (no function, no subshell): $! is the process that becomes npm, its group's leader.
  "${ns_env[@]}" setsid bash -c "cd '$repo' && exec npm start" > "$start_log" 2>&1 < /dev/null &
  start_pgid=$!
  for _ in $(seq 1 1200); do
    if grep -q 'billing-webhooks is running' "$start_log"; then
      t1=$(date +%s.%N)
      ready_s="$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", b - a }')"
      return 0
    fi
    kill -0 "$start_pgid" 2> /dev/null || {
      tail -30 "$start_log" >&2
      fail "npm start ($1 run) exited before its banner"
    }
    sleep 0.1
  done
  tail -30 "$start_log" >&2
  fail "npm start ($1 run): no banner within 120 s"
}

# Ctrl-C: SIGINT to the whole process group, then nothing of ours may be left in the namespace.
stop_stack() {
  kill -INT -- "-$start_pgid"
  for _ in $(seq 1 600); do
    kill -0 "$start_pgid" 2> /dev/null || break
    sleep 0.1
  done
  kill -0 "$start_pgid" 2> /dev/null && fail "npm start ($1 run) still runs 60 s after SIGINT"
  grep -q '^start: all stopped' "$start_log" || {
    tail -30 "$start_log" >&2
    fail "npm start ($1 run) did not stop cleanly"
  }
  sleep 0.5
  local left=()
  for pid in $(ip netns pids "$ns" 2> /dev/null); do
    left+=("$pid $(tr '\0' ' ' < "/proc/$pid/cmdline" 2> /dev/null)")
  done
  [ "${#left[@]}" -eq 0 ] || fail "processes left after Ctrl-C ($1 run): ${left[*]}"
  start_pgid=""
}

# --- 1. first start: the embedded Postgres is created -------------------------------------------
start_stack first
first="$ready_s"
grep -q 'embedded Postgres (created now)' "$start_log" || fail "the first npm start did not create the embedded Postgres"
grep -Eq "running on Node v$(tr -d 'v \n' < "$repo/.nvmrc")\." "$start_log" || fail "npm start does not run on Node $(cat "$repo/.nvmrc"): $(grep -o 'running on Node [^,]*' "$start_log")"
say "first npm start: banner after ${first} s ($(grep -o 'running on Node [^,]*' "$start_log"); embedded Postgres created)"

# --- 2. the demo, its rows against Stripe's final objects ---------------------------------------
in_ns bash -c "cd '$repo' && npm run demo" > "$work/demo.log" 2>&1 || {
  tail -30 "$work/demo.log" >&2
  fail "npm run demo"
}
in_ns bash -c "cd '$repo' && node_modules/.bin/tsx scripts/ci/demo-rows-match.ts '$work/demo.log'" || fail "the demo's rows differ from Stripe's final objects"

# --- 3. Ctrl-C ------------------------------------------------------------------------------------
stop_stack first
say "Ctrl-C: the apps, then the embedded Postgres stopped; no process left"

# --- 4. second start: the data is reused ----------------------------------------------------------
start_stack second
second="$ready_s"
grep -q 'embedded Postgres (data reused)' "$start_log" || fail "the second npm start did not reuse the data"
in_ns bash -c "cd '$repo' && node_modules/.bin/tsx scripts/ci/demo-rows-match.ts '$work/demo.log'" > /dev/null || fail "the demo's rows are gone after a restart"
stop_stack second
say "second npm start: banner after ${second} s (data reused: the demo's rows are still there); Ctrl-C left nothing"

# --- 5. npm test ----------------------------------------------------------------------------------
if [ "$with_tests" = true ]; then
  say "npm test in the namespace"
  in_ns bash -c "cd '$repo' && npm test" || fail "npm test in the namespace"
fi

say "passed (npm start ready: first ${first} s, second ${second} s)"
