#!/bin/sh
# Check in with a pushlog hub using only curl:  heartbeat.sh NAME [EVERY] [STATUS]
#   NAME    the heartbeat's name (letters, digits, . _ : @ + -)
#   EVERY   expected period, e.g. 1h or 1d (the hub alerts when a success is overdue)
#   STATUS  success (default), start or failure
# Reads PUSHLOG_DSN=http(s)://PUBLISH_KEY@HOST[:PORT][/PREFIX]. Exits non-zero when the hub did not
# accept the check-in (curl's exit code).
set -eu

if [ $# -lt 1 ]; then
    echo "usage: heartbeat.sh NAME [EVERY] [STATUS]" >&2
    exit 2
fi
name=$1
every=${2:-}
status=${3:-success}
dsn=${PUSHLOG_DSN:?heartbeat.sh: set PUSHLOG_DSN=http(s)://KEY@HOST}

scheme=${dsn%%://*}
rest=${dsn#*://}
key=${rest%%@*}
base=${rest#*@}
base=${base%/}

url="$scheme://$base/v1/heartbeats/$name?status=$status"
if [ -n "$every" ]; then
    url="$url&every=$every"
fi
exec curl --fail --silent --show-error --max-time 10 --retry 3 \
    -X POST -H "Authorization: Bearer $key" -o /dev/null "$url"
