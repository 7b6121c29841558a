#!/usr/bin/env bash
# Starts the background worker and the web server; stopping the server (Ctrl-C) stops both.
set -euo pipefail
BIN=.venv/bin
PORT="${PORT:-8000}"
VAR="${VAR_DIR:-var}"
mkdir -p "$VAR"
$BIN/python manage.py run_huey --workers "${WORKER_THREADS:-2}" --quiet --logfile "$VAR/worker.log" >/dev/null 2>&1 &
WORKER=$!
trap 'kill $WORKER 2>/dev/null || true' EXIT INT TERM
echo
echo "Công đoàn số is running at http://127.0.0.1:${PORT}/"
$BIN/python manage.py demo_logins
echo "(background worker log: $VAR/worker.log; Ctrl-C stops both)"
echo
$BIN/gunicorn congdoan.wsgi:application --bind "127.0.0.1:${PORT}" --workers "${WEB_WORKERS:-2}" \
  --access-logfile - --log-level warning
