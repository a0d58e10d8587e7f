#!/usr/bin/env bash
# make bench: build roster, make PostgreSQL available, start `roster serve`
# in the background on a database of its own, run `roster bench` against it
# and stop the server when done (or on Ctrl-C). Arguments are passed to
# roster bench (make bench BENCH_ARGS='-scale 0.1 -scenarios spread,hot').
#
# The bench's data set (1,000,000 events at scale 1) goes to the database
# roster_bench, never to make run's roster database, and stays there: the
# next run finds it and skips seeding. Drop the database to start afresh.
# The report goes to .roster/bench/ (bench.json, bench.md), the server's log
# to .roster/bench/server.log.
#
# Settings come from the environment, then from .roster/dev.env (the one
# make run uses, created with a random ROSTER_JWT_SECRET when missing).
# ROSTER_HTTP_ADDR is where the bench's server listens (127.0.0.1:8080);
# ROSTER_LOG_LEVEL is warn unless set, so the log holds the problems rather
# than a line per request.
set -euo pipefail
# shellcheck source=.ci/postgres.sh
source "$(dirname "${BASH_SOURCE[0]}")/postgres.sh"
cd "$ROSTER_ROOT"

PG_DB=${ROSTER_BENCH_DB:-roster_bench} # pg_up creates it when missing; another name keeps two runs apart
BENCH_OUT=$ROSTER_STATE/bench
SERVER_PID=

cleanup() {
	local rc=$?
	trap - EXIT INT TERM
	if [[ -n $SERVER_PID ]] && kill -0 "$SERVER_PID" 2>/dev/null; then
		note "stopping the bench's server (pid $SERVER_PID)"
		kill -TERM "$SERVER_PID" 2>/dev/null || true
		wait "$SERVER_PID" 2>/dev/null || true
	fi
	pg_down || true
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# dev.sh token creates .roster/dev.env when missing and builds bin/roster.
bash .ci/dev.sh token >/dev/null
while IFS= read -r line || [[ -n $line ]]; do
	[[ $line =~ ^[[:space:]]*([A-Z_][A-Z0-9_]*)=(.*)$ ]] || continue
	key=${BASH_REMATCH[1]}
	[[ -n ${!key:-} ]] || export "$key=${BASH_REMATCH[2]}"
done <"$ROSTER_STATE/dev.env"
export ROSTER_LOG_LEVEL=${ROSTER_LOG_LEVEL:-warn}
# The check scenario calls the access-check API as this service.
export ROSTER_CHECK_SERVICES=${ROSTER_CHECK_SERVICES:-roster-bench}

pg_up
addr=${ROSTER_HTTP_ADDR:-127.0.0.1:8080}
host=${addr%:*} port=${addr##*:}
case $host in '' | 0.0.0.0 | '[::]' | '::') host=127.0.0.1 ;; esac
base="http://$host:$port"

# ready reports whether something answers 200 at $base/readyz.
ready() {
	if command -v curl >/dev/null 2>&1; then
		curl -fsS -o /dev/null --max-time 2 "$base/readyz" 2>/dev/null
	else
		local status
		status=$(timeout 2 bash -c 'exec 3<>"/dev/tcp/$0/$1" && printf "GET /readyz HTTP/1.0\r\nHost: %s\r\n\r\n" "$0" >&3 && head -n 1 <&3' "$host" "$port" 2>/dev/null) || return 1
		[[ $status == *" 200 "* ]]
	fi
}

if ready || timeout 2 bash -c 'exec 3<>"/dev/tcp/$0/$1"' "$host" "$port" 2>/dev/null; then
	die "something already listens at $addr (make run?): stop it, or set ROSTER_HTTP_ADDR to a free address"
fi

mkdir -p "$BENCH_OUT"
note "applying migrations to $(redact_url "$ROSTER_PG_URL")"
bin/roster migrate >/dev/null
note "starting roster serve on $addr (log: $BENCH_OUT/server.log)"
# The load tool sends far more than the limits on writes allow one account.
ROSTER_LIMIT_INVITATIONS_PER_ACTOR_HOUR=10000000 ROSTER_LIMIT_INVITATIONS_PER_PROPERTY_DAY=10000000 \
ROSTER_LIMIT_NEW_EMAILS_PER_PROPERTY_DAY=10000000 ROSTER_LIMIT_COMMANDS_PER_ACCOUNT_SECOND=10000000 \
ROSTER_HTTP_ADDR=$addr bin/roster serve >"$BENCH_OUT/server.log" 2>&1 &
SERVER_PID=$!
for ((i = 0; i < 120; i++)); do
	ready && break
	kill -0 "$SERVER_PID" 2>/dev/null || {
		tail -n 20 "$BENCH_OUT/server.log" >&2
		die "roster serve stopped before it was ready"
	}
	sleep 0.5
done
ready || die "roster serve was not ready after a minute (log: $BENCH_OUT/server.log)"

start=$(date +%s)
bin/roster bench -url "$base" -server-pid "$SERVER_PID" -out "$BENCH_OUT" "$@"
note "make bench took $(($(date +%s) - start))s after the set-up"
