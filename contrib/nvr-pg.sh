#!/bin/sh
# nvr-pg.sh: a private PostgreSQL for tests and the quickstart. Its data,
# its Unix socket and its log live in one folder; it opens no TCP port and
# never touches the system's server.
#
# Usage:
#   nvr-pg.sh start DIR [--fast]  initdb if needed, start, wait until it
#                                 accepts connections; prints the socket dir
#   nvr-pg.sh stop DIR            fast shutdown (no-op when not running)
#   nvr-pg.sh destroy DIR         stop, then remove DIR
#   nvr-pg.sh status DIR          exit 0 when running
#
# --fast turns off fsync and synchronous commit: for throw-away test
# instances only, never for data anyone wants to keep.
# The superuser is "nvr", with trust authentication on the socket; the
# socket's folder is mode 0700, so only its owner (and root) can connect.
# PostgreSQL refuses to run as root: under root the server runs as the
# unprivileged user $NVR_PG_USER (default nobody), which owns DIR/pg.
set -eu

die() { echo "nvr-pg.sh: $*" >&2; exit 1; }

[ $# -ge 2 ] || { sed -n '2,20p' "$0" >&2; exit 2; }
cmd=$1
dir=$2
shift 2
fast=no
for a in "$@"; do
	case "$a" in
	--fast) fast=yes ;;
	*) die "unknown option '$a'" ;;
	esac
done

bindir=${PG_BINDIR:-}
if [ -z "$bindir" ]; then
	bindir=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
fi
[ -n "$bindir" ] && [ -x "$bindir/initdb" ] ||
	die "PostgreSQL server binaries not found; hint: apt-get install postgresql-15, or set PG_BINDIR"

case "$dir" in
/*) ;;
*) dir=$(pwd)/$dir ;;
esac
pg=$dir/pg
data=$pg/data
sock=$pg/sock

# Run a PostgreSQL binary as the user that owns the instance.
as_owner() {
	if [ "$(id -u)" = 0 ]; then
		setpriv --reuid="${NVR_PG_USER:-nobody}" --regid="$(id -g "${NVR_PG_USER:-nobody}")" \
			--clear-groups --inh-caps=-all -- "$@"
	else
		"$@"
	fi
}

# True when this instance's server runs. A server that died leaves
# postmaster.pid behind, and by now its PID may be another process (another
# test's server even, the same user), which pg_ctl would take for it and
# signal; so a PID whose process works in another folder than this data
# folder is not ours. (When /proc does not tell, pg_ctl decides alone.)
running() {
	[ -f "$data/postmaster.pid" ] || return 1
	pid=$(head -n 1 "$data/postmaster.pid")
	case $pid in '' | *[!0-9]*) return 1 ;; esac
	cwd=$(readlink "/proc/$pid/cwd" 2>/dev/null) || cwd=
	[ -z "$cwd" ] || [ "$cwd" = "$(cd "$data" && pwd -P)" ] || return 1
	as_owner "$bindir/pg_ctl" -D "$data" status >/dev/null 2>&1
}

do_init() {
	mkdir -p "$pg"
	if [ "$(id -u)" = 0 ]; then
		# The server user must reach DIR/pg, and nothing more.
		chmod o+x "$dir"
		chown "${NVR_PG_USER:-nobody}:$(id -g "${NVR_PG_USER:-nobody}")" "$pg"
	fi
	chmod 0700 "$pg"
	as_owner test -x "$pg" ||
		die "user ${NVR_PG_USER:-nobody} cannot reach $pg; hint: make its parent folders traversable (chmod o+x)"
	as_owner mkdir -p "$sock"
	as_owner chmod 0700 "$sock"
	as_owner "$bindir/initdb" -D "$data" -U nvr --auth=trust -E UTF8 --locale=C.UTF-8 \
		>"$pg/initdb.log" 2>&1 || { cat "$pg/initdb.log" >&2; die "initdb failed"; }
	{
		echo "listen_addresses = ''"
		echo "unix_socket_directories = '$sock'"
		echo "unix_socket_permissions = 0700"
		echo "max_connections = 300"
		echo "log_line_prefix = '%m [%p] %q%u@%d '"
		if [ "$fast" = yes ]; then
			echo "fsync = off"
			echo "synchronous_commit = off"
			echo "full_page_writes = off"
		fi
	} | as_owner sh -c "cat >> '$data/postgresql.conf'"
}

case "$cmd" in
start)
	[ -f "$data/PG_VERSION" ] || do_init
	if ! running; then
		# left by a server that died (see running()); postgres would
		# refuse to start while its PID is alive, whoever has it now
		rm -f "$data/postmaster.pid"
		as_owner "$bindir/pg_ctl" -D "$data" -l "$pg/postgres.log" -w -t 60 start >/dev/null ||
			{ tail -n 20 "$pg/postgres.log" >&2; die "PostgreSQL did not start; log: $pg/postgres.log"; }
	fi
	echo "$sock"
	;;
stop)
	if running; then
		as_owner "$bindir/pg_ctl" -D "$data" -m fast -w -t 60 stop >/dev/null
	fi
	;;
destroy)
	if running; then
		as_owner "$bindir/pg_ctl" -D "$data" -m immediate -w -t 60 stop >/dev/null || true
	fi
	rm -rf "$dir"
	;;
status)
	running
	;;
*)
	die "unknown command '$cmd' (start, stop, destroy or status)"
	;;
esac
