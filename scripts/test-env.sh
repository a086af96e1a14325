#!/usr/bin/env bash
# Everything the test suite needs beyond Python packages, on a fresh Debian machine:
# PostgreSQL and MariaDB running locally, Java 17 for Spark SQL (the test session starts its own local Spark Thrift
# server from the pyspark package in requirements-spark.txt), and Debian's chromium for the real-browser test.
# Idempotent: does nothing that is already done.
set -euo pipefail

if command -v pg_isready >/dev/null && ! pg_isready -h 127.0.0.1 -p 5432 -q 2>/dev/null; then
    echo "starting PostgreSQL"
    pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql)" main start
fi
if command -v mysqladmin >/dev/null && ! mysqladmin ping -h 127.0.0.1 -u root --silent 2>/dev/null; then
    echo "starting MariaDB"
    start-stop-daemon --start --oknodo --background --exec /usr/sbin/mariadbd
fi
for _ in $(seq 1 60); do
    ok=1
    command -v pg_isready >/dev/null && { pg_isready -h 127.0.0.1 -p 5432 -q 2>/dev/null || ok=0; }
    command -v mysqladmin >/dev/null && { mysqladmin ping -h 127.0.0.1 -u root --silent 2>/dev/null || ok=0; }
    [ "$ok" = 1 ] && break
    sleep 1
done

if ! command -v java >/dev/null; then
    echo "installing Java 17 for Spark SQL"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq openjdk-17-jre-headless >/dev/null
fi

if [ ! -x /usr/bin/chromium ]; then
    echo "installing Debian's chromium for the browser test"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
fi

# The pages' icons are emoji: without a colour emoji font the browser test's screenshots show empty boxes.
if [ ! -e /usr/share/fonts/truetype/noto/NotoColorEmoji.ttf ]; then
    echo "installing an emoji font for the browser test's screenshots"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq fonts-noto-color-emoji >/dev/null
fi
