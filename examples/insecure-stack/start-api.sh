#!/bin/sh
set -e
exec uvicorn app:api --host 0.0.0.0 --port 8000 --forwarded-allow-ips='*' --reload
