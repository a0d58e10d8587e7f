#!/usr/bin/env bash
# make run: build roster, make PostgreSQL available, migrate, print the
# dashboard's address (with development sign-in on: any email signs in), a
# development token and a curl line, then serve in the foreground. Ctrl-C
# stops the server, and the private PostgreSQL if this script started it.
#
# `dev.sh token` only prints a fresh development token (make token);
# `dev.sh build` only builds bin/roster (make build).
#
# Settings come from the environment, then from .roster/dev.env (created on
# first run with a random ROSTER_JWT_SECRET; add other ROSTER_* lines there
# to keep them). The environment wins over the file.
set -euo pipefail
# shellcheck source=.ci/postgres.sh
source "$(dirname "${BASH_SOURCE[0]}")/postgres.sh"
cd "$ROSTER_ROOT"

DEV_ENV=$ROSTER_STATE/dev.env
DEV_EMAIL=owner@example.com

random_secret() {
	if command -v openssl >/dev/null 2>&1; then
		openssl rand -hex 32
	else
		od -An -tx1 -N32 /dev/urandom | tr -d ' \n'
	fi
}

# load_dev_env creates .roster/dev.env when missing and exports each of its
# KEY=value lines whose variable is not already set.
load_dev_env() {
	mkdir -p "$ROSTER_STATE"
	if [[ ! -s $DEV_ENV ]]; then
		(
			umask 077
			printf '# Settings of make run, created %s. Local only: never commit it.\nROSTER_JWT_SECRET=%s\n' \
				"$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$(random_secret)" >"$DEV_ENV"
		)
		note "created $DEV_ENV with a random ROSTER_JWT_SECRET"
	fi
	local line key
	while IFS= read -r line || [[ -n $line ]]; do
		[[ $line =~ ^[[:space:]]*([A-Z_][A-Z0-9_]*)=(.*)$ ]] || continue
		key=${BASH_REMATCH[1]}
		[[ -n ${!key:-} ]] || export "$key=${BASH_REMATCH[2]}"
	done <"$DEV_ENV"
}

build() {
	ensure_go
	note "building bin/roster"
	go build -o bin/roster ./cmd/roster
}

# mint prints a token for the account the dashboard's development sign-in
# gives $DEV_EMAIL, so what the token creates shows when signing in there.
mint() {
	bin/roster token --email "$DEV_EMAIL"
}

case ${1:-} in
build)
	build
	exit 0
	;;
token)
	load_dev_env
	build
	mint
	exit 0
	;;
esac

cleanup() {
	local rc=$?
	trap - EXIT INT TERM
	pg_down || true
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

build # first: a broken build should not wait for PostgreSQL
load_dev_env
pg_up
note "applying migrations"
bin/roster migrate
token=$(mint)

addr=${ROSTER_HTTP_ADDR:-127.0.0.1:8080}
host=${addr%:*} port=${addr##*:}
case $host in '' | 0.0.0.0 | '[::]' | '::') host=127.0.0.1 ;; esac
base="http://$host:$port"

# Development sign-in lets anyone sign in as any email, so the server
# allows it on loopback only and never beside a real identity provider:
# make run turns it on unless the settings point elsewhere.
signin="sign in with any email (development sign-in, ROSTER_DEV_LOGIN)"
if [[ -z ${ROSTER_DEV_LOGIN:-} ]]; then
	case $host in
	127.* | localhost | '[::1]' | ::1)
		if [[ -z ${ROSTER_JWKS_URL:-} && -z ${ROSTER_OIDC_ISSUER:-} ]]; then
			export ROSTER_DEV_LOGIN=true
		fi
		;;
	esac
fi
if [[ ${ROSTER_DEV_LOGIN:-} != true ]]; then
	signin="sign in with the identity provider (ROSTER_OIDC_ISSUER), or set ROSTER_DEV_LOGIN=true on a loopback address"
fi

cat <<INFO

Roster is starting on $base; Ctrl-C stops it.

The dashboard: $base/
  Open it in a browser and $signin.
  Invitation mail goes to this terminal's log; its accept_link opens the page that accepts.

Development token for $DEV_EMAIL, the account the dashboard gives that email (valid one hour; make token prints a new one):

TOKEN=$token

Create a property:

curl -s -X POST -H "Authorization: Bearer \$TOKEN" -H 'Content-Type: application/json' -d '{"name":"My site"}' $base/v1/properties

INFO

bin/roster serve
