#!/bin/sh
# setup-debian.sh: make a Debian 12 machine able to build, run and test the
# NVR. Installs the missing packages, enables deb-src (for civetweb's source)
# and builds civetweb into /opt/nvr/civetweb. Idempotent: a machine that has
# everything is left alone in about a second.
#
# Usage: contrib/setup-debian.sh [--civetweb-prefix DIR]
set -eu

here=$(cd "$(dirname "$0")" && pwd)
civetweb_prefix=/opt/nvr/civetweb
while [ $# -gt 0 ]; do
	case "$1" in
	--civetweb-prefix) civetweb_prefix="$2"; shift 2 ;;
	-h|--help) sed -n '2,8p' "$0"; exit 0 ;;
	*) echo "setup-debian.sh: unknown argument '$1'" >&2; exit 2 ;;
	esac
done

# What each group is for, so that nobody has to guess why it is here.
pkgs_build="build-essential autoconf automake pkg-config dpkg-dev patch git ca-certificates xz-utils"
pkgs_libs="libssl-dev libpq-dev libsrtp2-dev libjansson-dev check
	libgstreamer1.0-dev libgstreamer-plugins-base1.0-dev libgstrtspserver-1.0-dev"
# Camera simulator and GStreamer's own client in the tests.
pkgs_gst="gstreamer1.0-tools gstreamer1.0-plugins-base gstreamer1.0-plugins-good
	gstreamer1.0-plugins-bad gstreamer1.0-plugins-ugly gstreamer1.0-libav glib-networking"
# Two independent readers of exported MP4 files (export.test): GStreamer's
# gst-discoverer-1.0 and FFmpeg's ffprobe.
pkgs_media="gstreamer1.0-plugins-base-apps ffmpeg"
# Private PostgreSQL for tests and quickstart; openssl for the test PKI;
# curl as the API's REST client in the tests, testssl.sh to audit its TLS.
pkgs_run="postgresql-15 openssl procps curl testssl.sh"
# Fuzz targets (libFuzzer), `make lint`, checking the systemd unit and man page,
# WebCrypto (Node) for the browser side of the key sealing, libfaketime for
# the tests under fake dates (make check-dates, midnight.test), and the
# time zones they run in; python3 for the tar surgery on export bundles
# (tests/integration/bundle_tool.py, mutate.test).
pkgs_check="clang libclang-rt-14-dev clang-tidy cppcheck systemd man-db nodejs faketime tzdata python3"
# make bench (bench/ingest.sh) reads the statistics files with jq; wrk
# loads the API (bench/api.sh).
pkgs_bench="jq wrk"

all=$(echo $pkgs_build $pkgs_libs $pkgs_gst $pkgs_media $pkgs_run $pkgs_check $pkgs_bench)
missing=""
for p in $all; do
	st=$(dpkg-query -W -f '${db:Status-Status}' "$p" 2>/dev/null || true)
	[ "$st" = installed ] || missing="$missing $p"
done

need_root() {
	if [ "$(id -u)" != 0 ]; then
		echo "setup-debian.sh: $1 needs root; run: sudo $0" >&2
		exit 1
	fi
}

if [ -n "$missing" ]; then
	need_root "installing$missing"
	echo "setup-debian.sh: installing$missing"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -q
	# shellcheck disable=SC2086
	apt-get install -y -q --no-install-recommends $missing
fi

# deb-src: derived from the configured deb entries, so it follows the mirror.
have_deb_src() {
	grep -rqsE '^[[:space:]]*deb-src[[:space:]]|^Types:.*deb-src' \
		/etc/apt/sources.list /etc/apt/sources.list.d/ 2>/dev/null
}
if ! have_deb_src; then
	need_root "enabling deb-src"
	out=/etc/apt/sources.list.d/nvr-deb-src.sources
	: >"$out.tmp"
	for f in /etc/apt/sources.list.d/*.sources; do
		[ -f "$f" ] || continue
		sed -e 's/^Types:.*$/Types: deb-src/' "$f" >>"$out.tmp"
		echo >>"$out.tmp"
	done
	if [ -f /etc/apt/sources.list ]; then
		sed -n 's/^[[:space:]]*deb[[:space:]]/deb-src /p' /etc/apt/sources.list \
			>/etc/apt/sources.list.d/nvr-deb-src.list
	fi
	mv "$out.tmp" "$out"
	[ -s "$out" ] || rm -f "$out"
	echo "setup-debian.sh: enabled deb-src"
	apt-get update -q
fi

if [ ! -w "$(dirname "$civetweb_prefix")" ] && [ ! -d "$civetweb_prefix" ]; then
	need_root "creating $civetweb_prefix"
fi
mkdir -p "$civetweb_prefix"
"$here/build-civetweb.sh" --prefix "$civetweb_prefix"
echo "setup-debian.sh: ready"
