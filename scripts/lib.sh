# Shared steps for scripts/demo, scripts/test and .ci/run. Source it; do not run it.

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${MAILHUB_VENV:-$ROOT/.venv}"

say() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }

# Create .venv and install mailhub with its test tools; reinstall only when pyproject changes.
ensure_venv() {
  if [ ! -x "$VENV/bin/python" ]; then
    say "Creating a virtual environment in $VENV"
    python3 -m venv "$VENV"
  fi
  local stamp="$VENV/.mailhub-installed"
  local want
  want="$(sha256sum "$ROOT/pyproject.toml" | cut -d' ' -f1)"
  if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
    say "Installing mailhub and its test tools"
    "$VENV/bin/python" -m pip install --quiet --upgrade pip
    # --prefer-binary: a release whose wheel is not on the index yet would otherwise come as a
    # source build (Playwright's has no Node.js of its own).
    "$VENV/bin/python" -m pip install --quiet --prefer-binary -e "$ROOT[test]"
    echo "$want" > "$stamp"
  fi
  export PATH="$VENV/bin:$PATH"
}

redis_reachable() {
  python3 - "${REDIS_URL:-redis://127.0.0.1:6379/0}" <<'PY' 2>/dev/null
import socket, sys
from urllib.parse import urlparse
u = urlparse(sys.argv[1])
s = socket.create_connection((u.hostname or "127.0.0.1", u.port or 6379), timeout=1)
s.sendall(b"PING\r\n")
sys.exit(0 if s.recv(16).startswith(b"+PONG") else 1)
PY
}

# Start a local Redis (installing it from Debian if needed) when none answers.
ensure_redis() {
  redis_reachable && return 0
  say "Redis is not reachable; starting a local one"
  if ! command -v redis-server >/dev/null 2>&1; then
    if command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
      apt-get update -qq && apt-get install -y -qq redis-server >/dev/null
    else
      echo "redis-server is not installed: install Redis or set REDIS_URL" >&2
      return 1
    fi
  fi
  mkdir -p "$ROOT/var"
  redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no \
    --dir "$ROOT/var" --logfile "$ROOT/var/redis.log"
  for _ in $(seq 50); do redis_reachable && return 0; sleep 0.1; done
  echo "Redis did not start; see var/redis.log" >&2
  return 1
}

# Debian's Chromium, for the browser tests (Playwright drives it; it downloads nothing).
ensure_chromium() {
  command -v chromium >/dev/null 2>&1 && return 0
  if command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
    say "Installing Debian's chromium for the browser tests"
    apt-get update -qq && apt-get install -y -qq chromium >/dev/null
  fi
}

# The official Node SDK for tests/api/test_node_sdk.py, when node and npm are on the machine
# (the test is skipped without node). Reinstalls only when the lockfile changes.
ensure_node_sdk() {
  command -v node >/dev/null 2>&1 && command -v npm >/dev/null 2>&1 || return 0
  local dir="$ROOT/tests/api/node"
  local stamp="$dir/node_modules/.mailhub-installed"
  local want
  want="$(sha256sum "$dir/package-lock.json" | cut -d' ' -f1)"
  if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
    say "Installing the Node SDK for the API tests"
    npm ci --prefix "$dir" --no-audit --no-fund --loglevel=error >/dev/null
    echo "$want" > "$stamp"
  fi
}
