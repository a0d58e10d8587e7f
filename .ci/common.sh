# shellcheck shell=bash
# Helpers shared by the .ci scripts. Sourced, never run: it only defines
# variables and functions.

ROSTER_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)"
# Local state of `make run` and `make test` (private PostgreSQL, dev secrets);
# ignored by git.
ROSTER_STATE="$ROSTER_ROOT/.roster"

note() { printf '==> %s\n' "$*" >&2; }
warn() { printf 'warning: %s\n' "$*" >&2; }
die() {
	printf 'error: %s\n' "$*" >&2
	exit 1
}

is_root() { [[ $(id -u) -eq 0 ]]; }

# can_be_root reports whether as_root can work: we are root, or sudo is there.
can_be_root() { is_root || command -v sudo >/dev/null 2>&1; }

# as_root runs a command as root: directly when we are root, else with sudo
# (which may ask for a password on a terminal).
as_root() {
	if is_root; then
		"$@"
	elif command -v sudo >/dev/null 2>&1; then
		sudo "$@"
	else
		die "root is needed to run: $*"
	fi
}

# apt_install installs Debian packages, non-interactively so CI (no stdin)
# never waits on a question.
apt_install() {
	command -v apt-get >/dev/null 2>&1 || die "apt-get not found: install $* with your package manager, then try again"
	can_be_root || die "installing $* needs root or sudo: install it yourself, then try again"
	note "installing $* with apt-get"
	as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq </dev/null
	as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" </dev/null
}

# ensure_go puts the Go toolchain on PATH (the official tarball lives in
# /usr/local/go and a fresh shell may not have it on PATH yet).
ensure_go() {
	command -v go >/dev/null 2>&1 && return 0
	local d
	for d in /usr/local/go/bin "$HOME/go/bin" /usr/lib/go/bin; do
		if [[ -x $d/go ]]; then
			PATH="$PATH:$d"
			export PATH
			return 0
		fi
	done
	die "Go is not installed: see https://go.dev/doc/install (go.mod asks for $(awk '/^go /{print $2}' "$ROSTER_ROOT/go.mod"))"
}
