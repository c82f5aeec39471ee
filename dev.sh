#!/usr/bin/env bash
# jdreview developer entry point.
#   ./dev.sh up     set everything up and run the app on the embedded default (SQLite, no
#                   servers needed) with demo data: web server + a real Celery worker, which
#                   prepares the demo's data as a job once the site is up (extra arguments
#                   go to `manage.py seed_demo`, e.g. --images 600)
#   ./dev.sh test   lint, then the whole test suite (PostgreSQL + Redis, then the
#                   backend-sensitive tests again on the embedded default)
#   ./dev.sh setup  only create/refresh the virtual environment and assets
set -euo pipefail
cd "$(dirname "$0")"
ROOT=$(pwd)
VENV="$ROOT/.venv"
PY="$VENV/bin/python"
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 TOKENIZERS_PARALLELISM=false

say() { printf '\033[1m==> %s\033[0m\n' "$*"; }

setup() {
  if [ ! -x "$PY" ]; then
    say "Creating the virtual environment in .venv"
    python3 -m venv "$VENV"
    "$PY" -m pip install --progress-bar on --upgrade pip
  fi
  local stamp="$VENV/.requirements.sha256" want
  want=$(sha256sum requirements.txt | cut -d' ' -f1)
  if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
    # torch first, pinned: anything that depends on torch would otherwise pull a CUDA build.
    say "Installing torch (CPU build, pinned)"
    "$PY" -m pip install --progress-bar on "$(grep -E '^torch==' requirements.txt)"
    say "Installing the Python dependencies"
    "$PY" -m pip install --progress-bar on -r requirements.txt
    echo "$want" >"$stamp"
  fi
  if [ ! -d node_modules/@lobehub/fluent-emoji-3d/assets ]; then
    say "Installing the product cut-outs (Fluent Emoji 3D, MIT) from npm"
    npm ci --no-audit --no-fund
  fi
}

ensure_chromium() {
  if ! command -v chromium >/dev/null 2>&1; then
    say "Installing Debian's chromium for the browser tests"
    if [ "$(id -u)" = 0 ]; then
      apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
    else
      echo "chromium is missing; install it with: sudo apt-get install chromium" >&2
    fi
  fi
}

ensure_services() {
  # PostgreSQL and Redis for the production-stack half of the suite; started when down.
  if ! pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null; then
    say "Starting PostgreSQL"
    pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql)" main start || true
  fi
  if ! redis-cli -h 127.0.0.1 ping >/dev/null 2>&1; then
    say "Starting Redis"
    mkdir -p /var/lib/redis /var/log/redis
    redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no \
      --dir /var/lib/redis --logfile /var/log/redis/ci.log || true
  fi
  for _ in $(seq 1 30); do
    pg_isready -q -h 127.0.0.1 -p 5432 && redis-cli -h 127.0.0.1 ping >/dev/null 2>&1 && return 0
    sleep 1
  done
  echo "PostgreSQL or Redis did not come up" >&2
  return 1
}

run_pytest() {
  # pytest exits 5 when it collected no tests: that is a failure here, not a pass.
  local rc=0
  "$PY" -m pytest "$@" || rc=$?
  if [ "$rc" = 5 ]; then echo "pytest collected no tests" >&2; return 1; fi
  return "$rc"
}

lint() {
  say "ruff and mypy"
  "$VENV/bin/ruff" check .
  "$VENV/bin/ruff" format --check . >/dev/null || {
    echo "ruff format would reformat files: run .venv/bin/ruff format ." >&2; return 1; }
  "$VENV/bin/mypy" jdreview labeling rewards workers
  say "import contracts (pyproject.toml: ML without Django, apps import downward)"
  "$VENV/bin/lint-imports" --no-cache
}

cmd_test() {
  setup
  ensure_chromium
  ensure_services
  lint
  export JDREVIEW_VAR_DIR="$ROOT/var/test"
  mkdir -p "$JDREVIEW_VAR_DIR"
  local pg_url="${TEST_DATABASE_URL:-postgres://root@127.0.0.1:5432/jdreview}"
  # A test database left behind by an interrupted run (with a straggling connection)
  # would stop pytest-django from recreating it.
  local db
  for db in "test_${pg_url##*/}" "test_${pg_url##*/}_gw0" "test_${pg_url##*/}_gw1"; do
    psql "${pg_url%/*}/postgres" -qc "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null 2>&1 || true
  done
  # Two pytest-xdist workers (one test database each, test_<name>_gw0/1): 559 tests in
  # 261 s against 485 s in one process on this 2-core machine. PYTEST_WORKERS=0 runs serially.
  local workers="${PYTEST_WORKERS:-2}"
  say "Test suite on PostgreSQL + Redis ($workers workers)"
  DATABASE_URL="$pg_url" \
  REDIS_URL="${TEST_REDIS_URL:-redis://127.0.0.1:6379/15}" \
    run_pytest -n "$workers" "$@"
  say "Backend-sensitive tests on the embedded default (SQLite, SQLAlchemy broker)"
  (unset DATABASE_URL REDIS_URL; run_pytest -m backend "$@")
}

cmd_up() {
  setup
  export JDREVIEW_VAR_DIR="${JDREVIEW_VAR_DIR:-$ROOT/var}"
  # The web workers and the Celery worker write their metrics into one folder (/metrics).
  export PROMETHEUS_MULTIPROC_DIR="${PROMETHEUS_MULTIPROC_DIR:-$JDREVIEW_VAR_DIR/prometheus}"
  say "Migrating the database"
  "$PY" manage.py migrate --no-input -v0
  # Accounts and projects only (seconds): the site starts now, the demo's data comes after.
  say "Creating the demo accounts and projects"
  "$PY" manage.py seed_demo --accounts-only "$@"
  local port="${PORT:-8000}"
  say "Starting a Celery worker (queues cpu and gpu)"
  "$VENV/bin/celery" -A jdreview worker -B -s "$JDREVIEW_VAR_DIR/celerybeat-schedule" \
    -Q cpu,gpu -c 2 -l WARNING \
    --without-gossip --without-mingle >"$JDREVIEW_VAR_DIR/worker.log" 2>&1 &
  local worker=$!
  trap 'kill $worker 2>/dev/null || true' EXIT INT TERM
  say "Starting the web server"
  "$VENV/bin/gunicorn" jdreview.wsgi -c jdreview/gunicorn_conf.py -b "127.0.0.1:$port" -w 2 --threads 4 \
    --access-logfile - --log-level warning &
  local web=$!
  trap 'kill $worker $web 2>/dev/null || true' EXIT INT TERM
  say "Waiting for /readyz (database, broker, the worker on both queues, beat, storage, models)"
  if ! wait_ready "http://127.0.0.1:$port/readyz" "${READY_TIMEOUT_S:-180}" "$web"; then
    echo "see $JDREVIEW_VAR_DIR/worker.log for the worker and beat" >&2
    exit 1
  fi
  say "jdreview is at http://127.0.0.1:$port/  (API docs at /api/docs/, admin at /admin/)"
  # The data as a seed_demo job on the worker; the home page shows its progress.
  say "Preparing the demo's data on the worker (progress on the home page)"
  "$PY" manage.py seed_demo --enqueue "$@" || echo "the demo's data was not queued (see above)" >&2
  wait "$web"
}

wait_ready() {
  # Polls the readiness probe until it answers 200, showing what still fails; on timeout,
  # prints each failing check and returns non-zero.
  "$PY" - "$1" "$2" "$3" <<'PY'
import json, os, sys, time, urllib.error, urllib.request

url, limit, server = sys.argv[1], float(sys.argv[2]), int(sys.argv[3])
start, last, body = time.monotonic(), None, {}
while time.monotonic() - start < limit:
    try:
        os.kill(server, 0)
    except ProcessLookupError:
        sys.stderr.write("\nthe web server exited (its output is above)\n")
        sys.exit(1)
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            sys.stderr.write(f"\r  ready after {time.monotonic() - start:.0f} s" + " " * 40 + "\n")
            sys.exit(0)
    except urllib.error.HTTPError as exc:
        body = json.loads(exc.read() or b"{}")
        waiting = ", ".join(body.get("failing", [])) or f"HTTP {exc.code}"
    except (OSError, ValueError):
        waiting = "the web server"
    if waiting != last:
        sys.stderr.write(f"\n  waiting for: {waiting}")
        last = waiting
    sys.stderr.write(".")
    sys.stderr.flush()
    time.sleep(1)
sys.stderr.write(f"\n/readyz did not answer 200 within {limit:.0f} s; failing:\n")
if not body:
    sys.stderr.write("  the web server did not answer\n")
for name, check in body.get("checks", {}).items():
    if not check["ok"]:
        sys.stderr.write(f"  {name}: {check['detail']}\n")
sys.exit(1)
PY
}

case "${1:-}" in
  up) shift; cmd_up "$@" ;;
  test) shift; cmd_test "$@" ;;
  setup) setup ;;
  *) echo "usage: ./dev.sh up [seed_demo args] | test [pytest args] | setup" >&2; exit 2 ;;
esac
