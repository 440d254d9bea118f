#!/usr/bin/env bash
# Runs a command with a real Kafka-protocol broker (tansu, in-memory storage) and a real
# S3-compatible server (moto) on free loopback ports, exporting their addresses as
#   QUARRY_TEST_KAFKA_BROKERS=127.0.0.1:<port>   QUARRY_TEST_S3_ENDPOINT=http://127.0.0.1:<port>
# and stops both afterwards. The tools are installed by the Makefile (targets `tansu`, `moto`).
#   usage: scripts/with-services.sh <command> [args...]
set -euo pipefail
CACHE_DIR="${CACHE_DIR:-$HOME/.cache/quarry}"
TANSU="${TANSU:-$CACHE_DIR/tools/bin/tansu}"
MOTO="${MOTO:-$CACHE_DIR/venv-moto/bin/moto_server}"
LOGS="$(mktemp -d "${TMPDIR:-/tmp}/quarry-services.XXXXXX")"

# a port below the kernel's ephemeral range (see e2e/conftest.py's free_port), checked bindable
free_port() {
  python3 -c '
import random, socket
lo = int(open("/proc/sys/net/ipv4/ip_local_port_range").read().split()[0])
while True:
    p = random.randrange(15000, max(lo, 15001))
    try:
        socket.socket().bind(("127.0.0.1", p))
        print(p)
        break
    except OSError:
        pass'
}
wait_port() { # port name pid
  for _ in $(seq 1 200); do
    if (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; then return 0; fi
    kill -0 "$3" 2>/dev/null || { echo "$2 exited; log:"; cat "$LOGS/$2.log"; return 1; }
    sleep 0.1
  done
  echo "$2 did not listen on :$1; log:"; cat "$LOGS/$2.log"; return 1
}

KAFKA_PORT="$(free_port)"
S3_PORT="$(free_port)"
"$TANSU" broker --storage-engine "memory://tansu/" \
  --listener-url "tcp://127.0.0.1:$KAFKA_PORT" --advertised-listener-url "tcp://127.0.0.1:$KAFKA_PORT" \
  >"$LOGS/tansu.log" 2>&1 &
TANSU_PID=$!
"$MOTO" -H 127.0.0.1 -p "$S3_PORT" >"$LOGS/moto.log" 2>&1 &
MOTO_PID=$!
cleanup() { kill "$TANSU_PID" "$MOTO_PID" 2>/dev/null || true; wait 2>/dev/null || true; }
trap cleanup EXIT
wait_port "$KAFKA_PORT" tansu "$TANSU_PID"
wait_port "$S3_PORT" moto "$MOTO_PID"
echo "services: kafka (tansu) on 127.0.0.1:$KAFKA_PORT, s3 (moto) on 127.0.0.1:$S3_PORT, logs in $LOGS"
export QUARRY_TEST_KAFKA_BROKERS="127.0.0.1:$KAFKA_PORT"
export QUARRY_TEST_S3_ENDPOINT="http://127.0.0.1:$S3_PORT"
"$@"
