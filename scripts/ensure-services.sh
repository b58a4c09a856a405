#!/usr/bin/env bash
# Start the local PostgreSQL and Redis the integration tests use, when they do not answer.
set -u
answers() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

if ! answers 5432; then
  if command -v pg_ctlcluster >/dev/null 2>&1 && [ -d /etc/postgresql ]; then
    echo "starting PostgreSQL"
    pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -n1)" main start || true
  else
    echo "PostgreSQL is not installed here; its tests will be skipped" >&2
  fi
fi
if ! answers 6379; then
  if command -v redis-server >/dev/null 2>&1; then
    echo "starting Redis"
    mkdir -p /var/lib/redis /var/log/redis 2>/dev/null || true
    redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no \
      --dir /var/lib/redis --logfile /var/log/redis/ci.log || true
  else
    echo "Redis is not installed here; its tests will be skipped" >&2
  fi
fi
for _ in $(seq 1 50); do
  answers 5432 && answers 6379 && exit 0
  sleep 0.2
done
exit 0
