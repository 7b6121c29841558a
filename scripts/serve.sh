#!/usr/bin/env bash
# Starts the background worker and the web server; stopping one (Ctrl-C) stops both.
set -euo pipefail
BIN=.venv/bin
PORT="${PORT:-8000}"
$BIN/python manage.py run_huey --workers 2 &
WORKER=$!
trap 'kill $WORKER 2>/dev/null || true' EXIT INT TERM
echo
echo "Công đoàn số is running at http://127.0.0.1:${PORT}/"
$BIN/python manage.py demo_logins
echo
exec_status=0
$BIN/gunicorn congdoan.wsgi:application --bind "127.0.0.1:${PORT}" --workers "${WEB_WORKERS:-2}" --access-logfile - || exec_status=$?
exit $exec_status
