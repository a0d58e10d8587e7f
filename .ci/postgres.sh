#!/usr/bin/env bash
# Makes a PostgreSQL server available to Roster and says which one it chose.
#
# dev.sh and test.sh source this file and call pg_up / pg_down. Run directly:
#   .ci/postgres.sh start    make sure a server runs, print the roster database URL
#   .ci/postgres.sh stop     stop the private server (never any other)
#   .ci/postgres.sh status   say which server pg_up would use
#   .ci/postgres.sh clean    stop the private server and delete its data
#
# pg_up takes the first that works:
#   1. ROSTER_PG_URL when set, as is;
#   2. a server at 127.0.0.1:5432 that lets user postgres in without a
#      password (ROSTER_PG_PROBE_HOST and ROSTER_PG_PROBE_PORT move the probe;
#      tests of this script point it at a port where nothing listens);
#   3. a private server with its data in .roster/pg, listening on
#      127.0.0.1:55432 (ROSTER_PG_PRIVATE_PORT), trust authentication, after
#      installing PostgreSQL with apt-get if no initdb is found.
# It exports ROSTER_PG_URL (the roster database, created when missing) and
# ROSTER_PG_SERVER_URL (the server's maintenance database).
#
# pg_down stops the private server only if a script started it (not
# `start` above, which leaves it for you) and no other make run or make
# test still uses it; the last one out stops it.

# shellcheck source=.ci/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

PG_PROBE_HOST=${ROSTER_PG_PROBE_HOST:-127.0.0.1}
PG_PROBE_PORT=${ROSTER_PG_PROBE_PORT:-5432}
PG_PRIVATE_PORT=${ROSTER_PG_PRIVATE_PORT:-55432}
PG_DB=roster
PG_LINK=$ROSTER_STATE/pg # data/, run/ (socket), server.log; may link elsewhere
PG_USING_PRIVATE=0
# Two lock files, used when flock(1) is there: fd 9 holds .roster/pg.lock
# while a script starts the private server, so two starting at once do not
# both run initdb; fd 8 holds a shared lock on .roster/pg.users for as long as
# a script uses the server, so pg_down can tell whether it is the last user.

# pg_bin prints the path of a PostgreSQL program: from PATH, else from the
# newest /usr/lib/postgresql/*/bin (where Debian keeps initdb and pg_ctl).
pg_bin() {
	local p
	if p=$(command -v "$1" 2>/dev/null); then
		printf '%s\n' "$p"
		return 0
	fi
	p=$(compgen -G "/usr/lib/postgresql/*/bin/$1" | sort -V | tail -n 1) || true
	[[ -n $p ]] && printf '%s\n' "$p"
}

# pg_probe reports whether a PostgreSQL server accepts connections at host
# port; without pg_isready, whether anything listens there.
pg_probe() {
	local isready
	if isready=$(pg_bin pg_isready); then
		"$isready" -q -h "$1" -p "$2" -t 3
	else
		timeout 3 bash -c 'exec 3<>"/dev/tcp/$0/$1"' "$1" "$2" 2>/dev/null
	fi
}

pg_need_psql() {
	[[ -n ${PG_PSQL:-} ]] && return 0
	PG_PSQL=$(pg_bin psql) || {
		apt_install postgresql-client
		PG_PSQL=$(pg_bin psql) || die "psql is still missing after installing postgresql-client"
	}
}

# pg_sql runs one statement against url and prints the result unaligned.
# -w: never prompt for a password, CI has no terminal.
pg_sql() {
	pg_need_psql
	PGCONNECT_TIMEOUT=5 "$PG_PSQL" -X -w -q -v ON_ERROR_STOP=1 -tA -d "$1" -c "$2" </dev/null
}

pg_url() { # host port database
	local host=$1
	[[ $host == *:* ]] && host="[$host]"
	printf 'postgres://postgres@%s:%s/%s' "$host" "$2" "$3"
}

redact_url() { sed -E 's#(//[^:/@]*):[^@/]*@#\1:xxxxx@#' <<<"$1"; }

pg_create_db() { # server-url
	local has
	has=$(pg_sql "$1" "SELECT 1 FROM pg_database WHERE datname = '$PG_DB'") || die "cannot query $(redact_url "$1")"
	[[ $has == 1 ]] && return 0
	# Another script may create it at the same moment: recheck on failure.
	if pg_sql "$1" "CREATE DATABASE $PG_DB" >/dev/null 2>&1; then
		note "PostgreSQL: created database $PG_DB"
	elif [[ $(pg_sql "$1" "SELECT 1 FROM pg_database WHERE datname = '$PG_DB'") != 1 ]]; then
		die "cannot create database $PG_DB on $(redact_url "$1")"
	fi
}

pg_export() { # host port
	ROSTER_PG_URL=$(pg_url "$1" "$2" "$PG_DB")
	ROSTER_PG_SERVER_URL=$(pg_url "$1" "$2" postgres)
	export ROSTER_PG_URL ROSTER_PG_SERVER_URL
}

# pg_as_owner runs a command as the owner of the private server's files:
# ourselves, or the postgres OS user when we are root, because initdb and
# pg_ctl refuse to run as root. It runs from / so the postgres user never
# needs to enter our working directory.
pg_as_owner() {
	if ! is_root; then
		"$@"
	elif command -v runuser >/dev/null 2>&1; then
		(cd / && runuser -u postgres -- "$@")
	else
		(cd / && su -s /bin/sh postgres -c "$(printf '%q ' "$@")")
	fi
}

pg_ensure_os_user() {
	is_root || return 0
	id -u postgres >/dev/null 2>&1 && return 0
	note "creating the postgres OS user to own the private server"
	useradd --system --user-group --home-dir /var/lib/postgresql --no-create-home --shell /bin/sh postgres
}

# pg_find_bins sets PG_BIN to the directory of initdb and pg_ctl of one
# version; with "install", installs PostgreSQL when there is none.
pg_find_bins() {
	local initdb
	if ! initdb=$(pg_bin initdb); then
		[[ ${1:-} == install ]] || return 1
		apt_install postgresql
		initdb=$(pg_bin initdb) || die "PostgreSQL was installed but initdb is not found"
	fi
	PG_BIN=$(dirname "$(readlink -f "$initdb")")
	[[ -x $PG_BIN/pg_ctl ]] || die "no pg_ctl next to $initdb"
	if [[ -x $PG_BIN/psql ]]; then PG_PSQL=$PG_BIN/psql; fi
}

# pg_locate sets PG_HOME, PG_DATA, PG_SOCK and PG_LOG of the private server.
pg_locate() {
	PG_HOME=$(readlink -f "$PG_LINK")
	PG_DATA=$PG_HOME/data
	PG_SOCK=$PG_HOME/run
	PG_LOG=$PG_HOME/server.log
}

# pg_prepare_home creates the private server's directory, owned by whoever
# runs it. When we are root and the postgres user cannot reach .roster (a
# repository under /root, say), the data lives in /var/tmp behind a symlink.
pg_prepare_home() {
	mkdir -p "$ROSTER_STATE"
	pg_ensure_os_user
	if [[ ! -e $PG_LINK ]]; then
		if is_root && ! pg_as_owner test -x "$ROSTER_STATE"; then
			local alt
			alt=/var/tmp/roster-pg-$(printf '%s' "$ROSTER_ROOT" | sha256sum | cut -c1-12)
			mkdir -p "$alt"
			ln -s "$alt" "$PG_LINK"
			note "the postgres user cannot enter $ROSTER_STATE: the private server's data goes to $alt"
		else
			mkdir -p "$PG_LINK"
		fi
	fi
	pg_locate
	if is_root; then chown postgres:postgres "$PG_HOME"; fi
	chmod 700 "$PG_HOME"
	pg_as_owner mkdir -p "$PG_SOCK"
}

pg_private_running() {
	[[ -f $PG_DATA/PG_VERSION ]] && pg_as_owner "$PG_BIN/pg_ctl" status -D "$PG_DATA" >/dev/null 2>&1
}

# pg_private_start makes sure the private server runs, sets PG_PORT and
# leaves the start lock (fd 9) held for the caller to release.
pg_private_start() {
	pg_find_bins install
	pg_prepare_home
	if command -v flock >/dev/null 2>&1; then
		exec 9>"$ROSTER_STATE/pg.lock"
		flock -w 120 9 || die "another script has been starting PostgreSQL for 2 minutes"
	fi

	local want have
	want=$("$PG_BIN/pg_ctl" --version | sed -E 's/.* ([0-9]+).*/\1/')
	if [[ -f $PG_DATA/PG_VERSION ]]; then
		have=$(<"$PG_DATA/PG_VERSION")
		[[ $have == "$want" ]] || die "the private server's data ($PG_LINK) is PostgreSQL $have but the programs are $want: run make clean"
	else
		note "PostgreSQL: initialising a private server in $PG_LINK"
		pg_as_owner "$PG_BIN/initdb" -D "$PG_DATA" -U postgres -A trust -E UTF8 --no-locale --no-sync \
			>"$PG_HOME/initdb.log" 2>&1 || die "initdb failed, see $PG_HOME/initdb.log"
	fi

	if pg_private_running; then
		PG_PORT=$(sed -n 4p "$PG_DATA/postmaster.pid")
		note "PostgreSQL: using the private server already running at 127.0.0.1:$PG_PORT"
	else
		if pg_probe 127.0.0.1 "$PG_PRIVATE_PORT"; then
			die "port $PG_PRIVATE_PORT is taken by another server: set ROSTER_PG_PRIVATE_PORT to a free port"
		fi
		# Unix socket paths are limited to 107 bytes; we connect over TCP
		# anyway, so a deep checkout just goes without the socket.
		local sockdir=$PG_SOCK
		((${#sockdir} + 20 <= 107)) || sockdir=
		# The server must not inherit our lock descriptors, or it would hold
		# the locks for as long as it runs.
		pg_as_owner "$PG_BIN/pg_ctl" start -D "$PG_DATA" -l "$PG_LOG" -w -t 60 \
			-o "-h 127.0.0.1 -p $PG_PRIVATE_PORT -k '$sockdir' -c max_connections=300 -c synchronous_commit=off" \
			>/dev/null 8>&- 9>&- || {
			tail -n 20 "$PG_LOG" >&2 || true
			die "the private PostgreSQL did not start (log: $PG_LOG)"
		}
		PG_PORT=$PG_PRIVATE_PORT
		# The marker tells pg_down a script started it, so scripts stop it.
		touch "$PG_HOME/auto-stop"
		note "PostgreSQL: started a private server at 127.0.0.1:$PG_PORT (data in $PG_LINK, log in $PG_LOG)"
	fi

	local i
	for ((i = 0; i < 60; i++)); do
		pg_sql "$(pg_url 127.0.0.1 "$PG_PORT" postgres)" 'SELECT 1' >/dev/null 2>&1 && break
		sleep 0.5
	done
	pg_create_db "$(pg_url 127.0.0.1 "$PG_PORT" postgres)"
	# The caller releases the start lock (fd 9) once it has registered as a
	# user, so a pg_down elsewhere cannot stop the server in between.
}

# pg_private_stop stops the private server if it runs; it never touches any
# other server.
pg_private_stop() {
	[[ -e $PG_LINK ]] || return 0
	pg_locate
	[[ -f $PG_DATA/PG_VERSION ]] || return 0
	pg_find_bins || die "cannot find pg_ctl to stop the private server"
	if pg_private_running; then
		note "PostgreSQL: stopping the private server at $PG_LINK"
		pg_as_owner "$PG_BIN/pg_ctl" stop -D "$PG_DATA" -m fast -w -t 60 >/dev/null
	fi
	rm -f "$PG_HOME/auto-stop"
}

# pg_up makes a server available and exports its URLs (see the top).
pg_up() {
	if [[ -n ${ROSTER_PG_URL:-} ]]; then
		export ROSTER_PG_SERVER_URL=${ROSTER_PG_SERVER_URL:-$ROSTER_PG_URL}
		note "PostgreSQL: using ROSTER_PG_URL=$(redact_url "$ROSTER_PG_URL")"
		return 0
	fi
	if pg_probe "$PG_PROBE_HOST" "$PG_PROBE_PORT"; then
		local server
		server=$(pg_url "$PG_PROBE_HOST" "$PG_PROBE_PORT" postgres)
		if pg_sql "$server" 'SELECT 1' >/dev/null 2>&1; then
			pg_create_db "$server"
			pg_export "$PG_PROBE_HOST" "$PG_PROBE_PORT"
			note "PostgreSQL: using the server running at $PG_PROBE_HOST:$PG_PROBE_PORT"
			return 0
		fi
		note "PostgreSQL: the server at $PG_PROBE_HOST:$PG_PROBE_PORT does not let user postgres in without a password; using a private one (or set ROSTER_PG_URL)"
	else
		note "PostgreSQL: nothing answers at $PG_PROBE_HOST:$PG_PROBE_PORT; using a private server"
	fi
	pg_private_start
	pg_export 127.0.0.1 "$PG_PORT"
	PG_USING_PRIVATE=1
	if command -v flock >/dev/null 2>&1; then
		exec 8>>"$ROSTER_STATE/pg.users"
		flock -s 8
	fi
	exec 9>&-
}

# pg_down stops the private server when a script started it and this is
# its last user; otherwise it leaves every server as it found it.
pg_down() {
	[[ $PG_USING_PRIVATE == 1 ]] || return 0
	PG_USING_PRIVATE=0
	[[ -f $PG_HOME/auto-stop ]] || return 0
	if command -v flock >/dev/null 2>&1; then
		exec 9>"$ROSTER_STATE/pg.lock"
		flock -w 120 9 || true
		if ! flock -xn 8; then
			note "PostgreSQL: the private server is still used by another make run or make test; left running"
			exec 8>&- 9>&-
			return 0
		fi
	fi
	pg_private_stop
	exec 8>&- 9>&-
}

pg_main() {
	case ${1:-} in
	start)
		pg_up
		if [[ $PG_USING_PRIVATE == 1 ]]; then
			# Started by hand: no script stops it when it finishes.
			rm -f "$PG_HOME/auto-stop"
			note "PostgreSQL: the private server keeps running; stop it with make pg-stop"
		fi
		printf '%s\n' "$ROSTER_PG_URL"
		;;
	stop) pg_private_stop ;;
	status)
		if [[ -n ${ROSTER_PG_URL:-} ]]; then
			echo "ROSTER_PG_URL is set: $(redact_url "$ROSTER_PG_URL")"
		elif pg_probe "$PG_PROBE_HOST" "$PG_PROBE_PORT"; then
			echo "a server answers at $PG_PROBE_HOST:$PG_PROBE_PORT"
		else
			echo "nothing answers at $PG_PROBE_HOST:$PG_PROBE_PORT: make run and make test use a private server"
		fi
		if [[ -e $PG_LINK ]] && pg_locate && pg_find_bins && pg_private_running; then
			echo "the private server runs at 127.0.0.1:$(sed -n 4p "$PG_DATA/postmaster.pid") (data in $PG_LINK)"
		else
			echo "the private server is not running"
		fi
		;;
	clean)
		pg_private_stop
		if [[ -L $PG_LINK ]]; then rm -rf "$(readlink -f "$PG_LINK")"; fi
		rm -rf "$PG_LINK" "$ROSTER_STATE/pg.lock" "$ROSTER_STATE/pg.users"
		note "removed the private server's data"
		;;
	*)
		echo "usage: $0 start|stop|status|clean" >&2
		exit 2
		;;
	esac
}

if [[ ${BASH_SOURCE[0]} == "$0" ]]; then
	set -euo pipefail
	pg_main "$@"
fi
