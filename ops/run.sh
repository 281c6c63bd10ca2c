#!/usr/bin/env bash
# Run the app in the foreground: Daphne on 127.0.0.1:$PORT, plus the Kafka relay, the outbox
# sweeper and the hakwon scheduler beside it. Ctrl-C (or SIGTERM) stops all of them.
# Expects Kafka, Redis, topics and migrations to be ready (`make run` does that first).
set -euo pipefail
cd "$(dirname "$0")/.."
PORT=${PORT:-8000}
HOST=${HOST:-127.0.0.1}
PY=.venv/bin/python
# Local development, asked for explicitly: the settings default to DEBUG off (a deployment).
export DEBUG=${DEBUG:-true}
pids=()

stop_all() {
  trap - INT TERM EXIT
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  wait || true
}
trap stop_all INT TERM EXIT

$PY manage.py kafka_relay & pids+=($!)
$PY manage.py outbox_sweeper & pids+=($!)
$PY manage.py hakwon_tick --loop & pids+=($!)
# Daphne's access log (which writes query strings, tokens included) is off: the app writes its own.
$PY -m daphne --verbosity 0 -b "$HOST" -p "$PORT" zzalu.asgi:application & pids+=($!)

echo "Zzalu Realtime is up: http://$HOST:$PORT/  (API docs: http://$HOST:$PORT/api/docs/)"
echo "Demo member: demo / zzalu-demo-1234. Ctrl-C stops everything."
# Exit (and stop the others) as soon as any one of them dies.
wait -n
