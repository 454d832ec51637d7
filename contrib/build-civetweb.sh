#!/bin/sh
# build-civetweb.sh: build civetweb from Debian's own source package as a
# static library with OpenSSL 3 linked directly, IPv6 and WebSocket on.
#
# Why not Debian's libcivetweb1: it loads libssl with dlopen and looks up
# SSL_get_peer_certificate, which OpenSSL 3 no longer exports, so every TLS
# connection calls through a NULL pointer; it is also built without IPv6.
# No civetweb source is kept in our tree: it comes from `apt-get source`
# (deb-src must be enabled; contrib/setup-debian.sh does that), with one
# small patch of ours, contrib/civetweb/nvr-socket-hooks.patch: callbacks
# when a socket is accepted and closed, so that nvrd refuses an address
# and counts connections per address before any TLS handshake (civetweb's
# own access_control_list is fixed at start; nvrd's host filter changes
# at run time).
#
# Usage: contrib/build-civetweb.sh [--prefix DIR] [--force]
#   DIR defaults to /opt/nvr/civetweb. Idempotent: a stamp in DIR records the
#   source version and flags, and a matching build is not redone.
set -eu

prefix=/opt/nvr/civetweb
force=no
while [ $# -gt 0 ]; do
	case "$1" in
	--prefix) prefix="$2"; shift 2 ;;
	--prefix=*) prefix="${1#--prefix=}"; shift ;;
	--force) force=yes; shift ;;
	-h|--help) sed -n '2,14p' "$0"; exit 0 ;;
	*) echo "build-civetweb.sh: unknown argument '$1'" >&2; exit 2 ;;
	esac
done

# OPENSSL_API_3_0 + NO_SSL_DL: call OpenSSL 3 directly, never dlopen it.
# USE_IPV6: the API listens on IPv6 and IPv4. USE_WEBSOCKET: live view.
# NO_CGI: the recorder never runs programs on behalf of a client.
defs="-DOPENSSL_API_3_0 -DNO_SSL_DL -DUSE_IPV6 -DUSE_WEBSOCKET -DNO_CGI"
cflags="-O2 -g -fPIC -fstack-protector-strong -D_FORTIFY_SOURCE=2 -Wno-deprecated-declarations"
here=$(cd "$(dirname "$0")" && pwd)
patches="$here/civetweb/nvr-socket-hooks.patch"
stamp_want="civetweb-nvr-2 $defs $cflags $(cat $patches | sha256sum | cut -c1-16)"

if [ "$force" = no ] && [ -f "$prefix/lib/libcivetweb.a" ] && [ -f "$prefix/.nvr-stamp" ] \
   && [ "$(head -n 1 "$prefix/.nvr-stamp")" = "$stamp_want" ]; then
	echo "build-civetweb.sh: $prefix is up to date ($(sed -n 2p "$prefix/.nvr-stamp"))"
	exit 0
fi

command -v dpkg-source >/dev/null 2>&1 || {
	echo "build-civetweb.sh: dpkg-source not found; hint: apt-get install dpkg-dev" >&2; exit 1; }

work=$(mktemp -d "${TMPDIR:-/tmp}/nvr-civetweb.XXXXXX")
trap 'rm -rf "$work"' EXIT INT TERM
cd "$work"
if ! apt-get source civetweb >apt-source.log 2>&1; then
	cat apt-source.log >&2
	echo "build-civetweb.sh: 'apt-get source civetweb' failed" >&2
	echo "  hint: enable deb-src (contrib/setup-debian.sh does) and run apt-get update" >&2
	exit 1
fi
src=$(find . -maxdepth 1 -type d -name 'civetweb-*' | head -n 1)
[ -n "$src" ] || { echo "build-civetweb.sh: no source tree after apt-get source" >&2; exit 1; }
for p in $patches; do
	patch -d "$src" -p1 --quiet <"$p" || { echo "build-civetweb.sh: $p does not apply to $src" >&2; exit 1; }
done
version=$(dpkg-parsechangelog -l "$src/debian/changelog" -S Version 2>/dev/null || echo unknown)

echo "build-civetweb.sh: compiling civetweb $version ($defs)"
${CC:-cc} $cflags $defs -I"$src/include" -c "$src/src/civetweb.c" -o civetweb.o
ar rcs libcivetweb.a civetweb.o

mkdir -p "$prefix/include" "$prefix/lib" "$prefix/share/doc/civetweb"
install -m 0644 "$src/include/civetweb.h" "$prefix/include/civetweb.h"
install -m 0644 libcivetweb.a "$prefix/lib/libcivetweb.a"
install -m 0644 "$src/LICENSE.md" "$prefix/share/doc/civetweb/LICENSE.md"
printf '%s\n%s\n' "$stamp_want" "$version" >"$prefix/.nvr-stamp"
echo "build-civetweb.sh: installed civetweb $version into $prefix"
