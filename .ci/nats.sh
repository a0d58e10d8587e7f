#!/usr/bin/env bash
# Makes a NATS server with JetStream available to Roster's tests and says
# which one it chose.
#
# test.sh sources this file and calls nats_up / nats_down. Run directly:
#   .ci/nats.sh start    make sure a server runs, print its URL
#   .ci/nats.sh stop     stop the private server (never any other)
#   .ci/nats.sh status   say which server nats_up would use
#   .ci/nats.sh clean    stop the private server and delete its data
#
# nats_up takes the first that works:
#   1. a NATS server with JetStream at 127.0.0.1:4222 (ROSTER_NATS_PROBE_HOST
#      and ROSTER_NATS_PROBE_PORT move the probe);
#   2. a private server with its store in .roster/nats, listening on
#      127.0.0.1:54222 (ROSTER_NATS_PRIVATE_PORT), after installing Debian's
#      nats-server with apt-get if none is found.
# It exports ROSTER_NATS_URL (nats://host:port).
#
# nats_down stops the private server only if a script started it (not
# `start` above, which leaves it for you) and no other make test still uses
# it; the last one out stops it.

# shellcheck source=.ci/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

NATS_PROBE_HOST=${ROSTER_NATS_PROBE_HOST:-127.0.0.1}
NATS_PROBE_PORT=${ROSTER_NATS_PROBE_PORT:-4222}
NATS_PRIVATE_PORT=${ROSTER_NATS_PRIVATE_PORT:-54222}
NATS_HOME=$ROSTER_STATE/nats # store/, server.log, server.pid, auto-stop
NATS_PID=$NATS_HOME/server.pid
NATS_USING_PRIVATE=0
# Lock files, used when flock(1) is there: fd 6 holds .roster/nats.lock while
# a script starts or stops the private server; fd 7 holds a shared lock on
# .roster/nats.users for as long as a script uses it, so nats_down can tell
# whether it is the last user.

# nats_bin prints the path of nats-server: from PATH, else where Debian puts it.
nats_bin() {
	command -v nats-server 2>/dev/null && return 0
	[[ -x /usr/sbin/nats-server ]] && printf '%s\n' /usr/sbin/nats-server
}

# nats_probe reports whether a NATS server with JetStream answers at host
# port: a NATS server greets every client with an INFO line that says
# "jetstream":true when JetStream is on.
nats_probe() {
	local info
	info=$(timeout 3 bash -c 'exec 3<>"/dev/tcp/$0/$1" && head -n 1 <&3' "$1" "$2" 2>/dev/null) || return 1
	[[ $info == INFO* ]] || return 1
	[[ $info == *'"jetstream":true'* ]] || {
		NATS_PROBE_WHY="a NATS server without JetStream"
		return 1
	}
}

nats_private_running() {
	[[ -f $NATS_PID ]] && kill -0 "$(<"$NATS_PID")" 2>/dev/null
}

# nats_private_start makes sure the private server runs, and leaves the
# start lock (fd 6) held for the caller to release.
nats_private_start() {
	local bin
	bin=$(nats_bin) || {
		apt_install nats-server
		bin=$(nats_bin) || die "nats-server was installed but is not found"
	}
	mkdir -p "$NATS_HOME/store"
	if command -v flock >/dev/null 2>&1; then
		exec 6>"$ROSTER_STATE/nats.lock"
		flock -w 60 6 || die "another script has been starting NATS for a minute"
	fi
	if nats_private_running; then
		note "NATS: using the private server already running at 127.0.0.1:$NATS_PRIVATE_PORT"
		return 0
	fi
	if nats_probe 127.0.0.1 "$NATS_PRIVATE_PORT"; then
		die "port $NATS_PRIVATE_PORT is taken by another server: set ROSTER_NATS_PRIVATE_PORT to a free port"
	fi
	# Detached, and without our lock descriptors, or it would hold the
	# locks for as long as it runs.
	setsid "$bin" -js -a 127.0.0.1 -p "$NATS_PRIVATE_PORT" -sd "$NATS_HOME/store" \
		-l "$NATS_HOME/server.log" -P "$NATS_PID" </dev/null >/dev/null 2>&1 6>&- 7>&- 8>&- 9>&- &
	local i
	for ((i = 0; i < 60; i++)); do
		nats_probe 127.0.0.1 "$NATS_PRIVATE_PORT" && break
		sleep 0.5
	done
	nats_probe 127.0.0.1 "$NATS_PRIVATE_PORT" || {
		tail -n 20 "$NATS_HOME/server.log" >&2 || true
		die "the private NATS server did not start (log: $NATS_HOME/server.log)"
	}
	# The marker tells nats_down a script started it, so scripts stop it.
	touch "$NATS_HOME/auto-stop"
	note "NATS: started a private server at 127.0.0.1:$NATS_PRIVATE_PORT (store in $NATS_HOME/store)"
}

# nats_private_stop stops the private server if it runs, by the pid it
# wrote; it never touches any other server.
nats_private_stop() {
	rm -f "$NATS_HOME/auto-stop"
	nats_private_running || return 0
	local pid i
	pid=$(<"$NATS_PID")
	note "NATS: stopping the private server (pid $pid)"
	kill -TERM "$pid" 2>/dev/null || true
	for ((i = 0; i < 60; i++)); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.5
	done
	if kill -0 "$pid" 2>/dev/null; then
		warn "NATS: pid $pid did not stop in 30s: killing it"
		kill -KILL "$pid" 2>/dev/null || true
	fi
	rm -f "$NATS_PID"
}

# nats_up makes a server available and exports ROSTER_NATS_URL.
nats_up() {
	NATS_PROBE_WHY="nothing"
	if nats_probe "$NATS_PROBE_HOST" "$NATS_PROBE_PORT"; then
		ROSTER_NATS_URL="nats://$NATS_PROBE_HOST:$NATS_PROBE_PORT"
		export ROSTER_NATS_URL
		note "NATS: using the server with JetStream running at $NATS_PROBE_HOST:$NATS_PROBE_PORT"
		return 0
	fi
	note "NATS: $NATS_PROBE_WHY answers at $NATS_PROBE_HOST:$NATS_PROBE_PORT; using a private server"
	nats_private_start
	ROSTER_NATS_URL="nats://127.0.0.1:$NATS_PRIVATE_PORT"
	export ROSTER_NATS_URL
	NATS_USING_PRIVATE=1
	if command -v flock >/dev/null 2>&1; then
		exec 7>>"$ROSTER_STATE/nats.users"
		flock -s 7
	fi
	exec 6>&-
}

# nats_down stops the private server when a script started it and this is
# its last user; otherwise it leaves every server as it found it.
nats_down() {
	[[ $NATS_USING_PRIVATE == 1 ]] || return 0
	NATS_USING_PRIVATE=0
	[[ -f $NATS_HOME/auto-stop ]] || return 0
	if command -v flock >/dev/null 2>&1; then
		exec 6>"$ROSTER_STATE/nats.lock"
		flock -w 60 6 || true
		if ! flock -xn 7; then
			note "NATS: the private server is still used by another make test; left running"
			exec 6>&- 7>&-
			return 0
		fi
	fi
	nats_private_stop
	exec 6>&- 7>&-
}

nats_main() {
	case ${1:-} in
	start)
		nats_up
		if [[ $NATS_USING_PRIVATE == 1 ]]; then
			# Started by hand: no script stops it when it finishes.
			rm -f "$NATS_HOME/auto-stop"
			note "NATS: the private server keeps running; stop it with make nats-stop"
		fi
		printf '%s\n' "$ROSTER_NATS_URL"
		;;
	stop) nats_private_stop ;;
	status)
		NATS_PROBE_WHY="nothing"
		if nats_probe "$NATS_PROBE_HOST" "$NATS_PROBE_PORT"; then
			echo "a NATS server with JetStream answers at $NATS_PROBE_HOST:$NATS_PROBE_PORT"
		else
			echo "$NATS_PROBE_WHY answers at $NATS_PROBE_HOST:$NATS_PROBE_PORT: make test uses a private server"
		fi
		if nats_private_running; then
			echo "the private server runs at 127.0.0.1:$NATS_PRIVATE_PORT (pid $(<"$NATS_PID"), store in $NATS_HOME/store)"
		else
			echo "the private server is not running"
		fi
		;;
	clean)
		nats_private_stop
		rm -rf "$NATS_HOME" "$ROSTER_STATE/nats.lock" "$ROSTER_STATE/nats.users"
		note "removed the private NATS server's data"
		;;
	*)
		echo "usage: $0 start|stop|status|clean" >&2
		exit 2
		;;
	esac
}

if [[ ${BASH_SOURCE[0]} == "$0" ]]; then
	set -euo pipefail
	nats_main "$@"
fi
