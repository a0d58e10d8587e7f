#!/usr/bin/env bash
# make test: go vet and the race-enabled test suite against a real PostgreSQL.
#
# Tests get their server from ROSTER_TEST_PG_URL (infra/pgtest makes one
# migrated database per test on it). When it is unset, pg_up finds or starts
# a server (see postgres.sh) and a private server it started is stopped again
# at the end. The exit code is the first failing step's.
# Broker tests get a NATS server with JetStream from ROSTER_TEST_NATS_URL; when
# it is unset, nats_up finds or starts one (see nats.sh), stopped again at the
# end if it started it.
# Browser tests (the dashboard, cmd/roster) drive Debian's chromium; it is
# installed with apt-get when missing, and then the run requires them
# (ROSTER_REQUIRE_BROWSER=1). Where it cannot be installed they are skipped,
# and this script and the tests say so.
#   ROSTER_TEST_TIMEOUT   go test -timeout (default 15m)
#   ROSTER_TEST_PKGS      packages to test (default ./...)
#   ROSTER_TEST_RUN       go test -run (default: every test)
set -euo pipefail
# shellcheck source=.ci/postgres.sh
source "$(dirname "${BASH_SOURCE[0]}")/postgres.sh"
# shellcheck source=.ci/nats.sh
source "$(dirname "${BASH_SOURCE[0]}")/nats.sh"
cd "$ROSTER_ROOT"

cleanup() {
	local rc=$?
	trap - EXIT INT TERM
	nats_down || rc=$((rc ? rc : 1))
	pg_down || rc=$((rc ? rc : 1))
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

ensure_go

# The race detector needs cgo, so a C compiler; install one where we may.
race=-race
if [[ $(go env CGO_ENABLED) != 1 ]] || ! command -v "$(go env CC)" >/dev/null 2>&1; then
	if command -v apt-get >/dev/null 2>&1 && can_be_root; then
		apt_install gcc libc6-dev
	else
		warn "no C compiler for the race detector: testing without -race"
		race=
	fi
fi

if [[ -n ${ROSTER_TEST_PG_URL:-} ]]; then
	note "PostgreSQL: using ROSTER_TEST_PG_URL=$(redact_url "$ROSTER_TEST_PG_URL")"
else
	pg_up
	export ROSTER_TEST_PG_URL=$ROSTER_PG_SERVER_URL
fi

if [[ -n ${ROSTER_TEST_NATS_URL:-} ]]; then
	note "NATS: using ROSTER_TEST_NATS_URL=$ROSTER_TEST_NATS_URL"
else
	nats_up
	export ROSTER_TEST_NATS_URL=$ROSTER_NATS_URL
fi

# chromium_path prints the browser the tests would use, if any.
chromium_path() {
	if [[ -n ${ROSTER_TEST_CHROMIUM:-} ]]; then
		printf '%s\n' "$ROSTER_TEST_CHROMIUM"
		return 0
	fi
	command -v chromium 2>/dev/null || command -v chromium-browser 2>/dev/null
}

if ! chromium_path >/dev/null; then
	if command -v apt-get >/dev/null 2>&1 && can_be_root; then
		# The page's text needs a font; chromium only recommends one.
		(apt_install chromium fonts-dejavu-core) || warn "chromium could not be installed"
	fi
fi
if browser=$(chromium_path); then
	note "browser tests: $browser"
	export ROSTER_TEST_CHROMIUM=$browser ROSTER_REQUIRE_BROWSER=1
else
	warn "NO CHROMIUM: it is not installed and cannot be here; the dashboard's browser tests will be SKIPPED"
fi

pkgs=${ROSTER_TEST_PKGS:-./...}
run=()
if [[ -n ${ROSTER_TEST_RUN:-} ]]; then run=(-run "$ROSTER_TEST_RUN"); fi
note "go vet $pkgs"
# shellcheck disable=SC2086 # pkgs may name several packages
go vet $pkgs
note "go test $race -count=1 -timeout ${ROSTER_TEST_TIMEOUT:-15m} ${run[*]} $pkgs"
# shellcheck disable=SC2086
go test $race -count=1 -timeout "${ROSTER_TEST_TIMEOUT:-15m}" "${run[@]}" $pkgs
