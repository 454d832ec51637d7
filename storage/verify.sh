#!/bin/sh
# verify.sh: checks an evidence bundle of the nvr recorder with a POSIX
# shell, coreutils and openssl alone, and changes nothing: it writes only
# in a scratch folder of its own (mktemp -d, under $TMPDIR or /tmp),
# removed when it ends.
#
#   sh verify.sh          in the folder the bundle was extracted to
#   sh verify.sh FOLDER   from anywhere
#
# It prints what each step checks, "FAIL <file>: <why>" for every problem,
# and ends with "VERIFIED: ..." (exit status 0) or "NOT VERIFIED: ..."
# (exit status 1). The files are described in docs/FORMAT.md of the
# recorder's source: sections 4 (segment manifests) and 12 (bundles).
#
# export.json and the manifests are JSON with one key a line, the
# top-level keys indented by two spaces, as the recorder writes them
# (for example:   "seq": 12,), so the shell's read and case find a
# field without a JSON parser.

LC_ALL=C
export LC_ALL
fails=0

# say TEXT: prints TEXT on one line, with any character that is not
# printable ASCII (a line break in a file name) shown as "?", so that
# no name in the bundle can print a line of its own.
say() {
	printf '%s' "$*" | tr -c '[:print:]' '?'
	echo
}

# fail FILE WHY: one failure, naming the file.
fail() {
	say "FAIL $1: $2"
	fails=$((fails + 1))
}

# hex64 VALUE: true when VALUE is a SHA-256 as the recorder writes it.
hex64() {
	case $1 in *[!0-9a-f]*) return 1 ;; esac
	[ ${#1} -eq 64 ]
}

# sha256 FILE: sets $sum to the SHA-256 of FILE (64 hex digits).
sha256() {
	sum=$(sha256sum <"$1")
	sum=${sum%% *}
}

# fields FILE: sets the variables below to the values of the top-level
# keys of that name in FILE (quotes and final comma removed), or to ""
# for a key FILE does not have.
fields() {
	j_bytes='' j_export_id='' j_prev='' j_segment_id='' j_seq='' j_sha256='' j_sums='' j_signer='' j_stream_id=''
	while IFS= read -r line; do
		v=${line#*\": }
		v=${v%,}
		v=${v#\"}
		v=${v%\"}
		case $line in
		'  "bytes": '*) j_bytes=$v ;;
		'  "export_id": '*) j_export_id=$v ;;
		'  "prev_manifest_sha256": '*) j_prev=$v ;;
		'  "segment_id": '*) j_segment_id=$v ;;
		'  "seq": '*) j_seq=$v ;;
		'  "sha256": '*) j_sha256=$v ;;
		'  "sha256sums_sha256": '*) j_sums=$v ;;
		'  "signer_sha256": '*) j_signer=$v ;;
		'  "stream_id": '*) j_stream_id=$v ;;
		esac
	done <"$1"
}

if [ $# -gt 1 ]; then
	echo "usage: sh verify.sh [FOLDER]" >&2
	exit 2
fi
# The scratch folder, made before changing to the bundle's folder so
# that a relative $TMPDIR cannot put it there.
tmp=$(mktemp -d "${TMPDIR:-/tmp}/nvr-verify.XXXXXX") || exit 2
trap 'rm -rf -- "$tmp"' EXIT
trap 'exit 2' HUP INT TERM
tmp=$(cd -- "$tmp" && pwd) || exit 2
if ! cd -- "${1:-.}" 2>/dev/null; then
	fail "${1:-.}" "not a folder that can be read"
	say "NOT VERIFIED: $fails failures"
	exit 1
fi
for f in export.json export.json.sig SHA256SUMS; do
	if [ ! -f "$f" ] || [ -L "$f" ]; then
		fail "$f" "missing: is this the folder extracted from the bundle?"
		say "NOT VERIFIED: $fails failures"
		exit 1
	fi
done
fields export.json
signer=$j_signer
say "Evidence bundle ${j_export_id:-(no export_id)} in $(pwd)"
echo

# ---- 1. The signer -----------------------------------------------------------
# export.json names the certificate whose key signed it: certs/<the
# SHA-256 of the certificate's DER encoding>.crt. Its fingerprint is the
# one thing this script cannot check: someone who changed the bundle
# could have signed it again with a key of their own, and every other
# step would pass. Only the fingerprint the recorder's operator published
# or gave you (on paper, by telephone, from the recorder itself) tells
# the recorder's key from another.
cert=certs/$signer.crt
echo "1. The signer's certificate, named in export.json: $cert"
pub=
if ! hex64 "$signer"; then
	fail export.json "its signer_sha256 is not a SHA-256: '$signer'"
elif [ ! -f "$cert" ]; then
	fail "$cert" "missing: export.json names it as its signer's"
elif ! openssl x509 -in "$cert" -outform DER -out "$tmp/signer.der" 2>/dev/null ||
	! openssl x509 -in "$cert" -pubkey -noout >"$tmp/signer.pub" 2>/dev/null; then
	fail "$cert" "openssl cannot read it as a certificate"
else
	sha256 "$tmp/signer.der"
	if [ "$sum" = "$signer" ]; then
		pub=$tmp/signer.pub
	else
		fail "$cert" "its SHA-256 is $sum, not the one of its name"
	fi
	say "   $(openssl x509 -in "$cert" -noout -fingerprint -sha256)"
	echo "   Compare this fingerprint with the recorder's, as its operator published it"
	echo "   or gave it to you by another channel: anyone can make a bundle that passes"
	echo "   every step below with a key of their own."
fi

# ---- 2. export.json is signed by that key --------------------------------------
# export.json lists every file of the bundle with its size and SHA-256,
# and names SHA256SUMS by its SHA-256; export.json.sig is an ECDSA
# signature over its exact bytes.
echo "2. The signature of export.json (export.json.sig) with that certificate's key"
if [ -n "$pub" ]; then
	if openssl dgst -sha256 -verify "$pub" -signature export.json.sig export.json >/dev/null 2>&1; then
		echo "   Verified OK"
	else
		fail export.json.sig "the signature of export.json does not verify with the key of $cert"
	fi
else
	fail export.json.sig "not checked: no certificate to check it with (step 1)"
fi

# ---- 3. SHA256SUMS is the one export.json names ----------------------------------
echo "3. SHA256SUMS is the list export.json names (sha256sums_sha256)"
sha256 SHA256SUMS
say "   export.json names  $j_sums"
say "   SHA256SUMS has     $sum"
[ "$sum" = "$j_sums" ] || fail SHA256SUMS "its SHA-256 is not the one export.json names"

# ---- 4. Every file is the one listed, and there is no other ----------------------
# SHA256SUMS lists every file but three: itself, export.json and
# export.json.sig, which are made after it and are checked by steps 2
# and 3 (a list cannot hold its own hash). Any other file in the folder
# is not part of the bundle and is a failure, as are symbolic links and
# anything that is not a file or a folder.
echo "4. Every file has the SHA-256 SHA256SUMS lists, and the folder holds no other"
n=$fails
sha256sum -c --quiet --strict SHA256SUMS >"$tmp/check" 2>&1
st=$?
while IFS= read -r line; do
	case $line in
	*': FAILED open or read')
		# one that is not there at all is named below, once
		p=${line%: FAILED open or read}
		[ ! -e "$p" ] || fail "$p" "it cannot be read" ;;
	*': FAILED') fail "${line%: FAILED}" "its SHA-256 is not the one SHA256SUMS lists" ;;
	*'improperly formatted'*) fail SHA256SUMS "$line" ;;
	esac
done <"$tmp/check"
[ $st -eq 0 ] || [ $fails -gt $n ] || fail SHA256SUMS "sha256sum -c fails on it"
# The folder's files, found with the shell's globs one level at a time
# (hidden names too), down to the segments' level: <camera_id>/<stream>/
# <yyyy>/<mm>/<dd>/<file>.
nl='
'
: >"$tmp/files"
echo . >"$tmp/dirs"
depth=0
while [ -s "$tmp/dirs" ]; do
	depth=$((depth + 1))
	: >"$tmp/next"
	while IFS= read -r d; do
		for p in "$d"/* "$d"/.[!.]* "$d"/..?*; do
			[ -e "$p" ] || [ -L "$p" ] || continue # a pattern that matched nothing
			p=${p#./}
			case $p in
			*"$nl"*) fail "$p" "a name with a line break: not a file of the bundle" ;;
			*)
				if [ -L "$p" ]; then
					fail "$p" "a symbolic link: not a file of the bundle"
					printf '%s\n' "$p" >>"$tmp/files"
				elif [ -f "$p" ]; then
					printf '%s\n' "$p" >>"$tmp/files"
				elif [ ! -d "$p" ]; then
					fail "$p" "neither a file nor a folder: not part of the bundle"
				elif [ $depth -lt 6 ]; then
					printf '%s\n' "$p" >>"$tmp/next"
				else
					fail "$p" "a folder below the segments' folders: not part of the bundle"
				fi ;;
			esac
		done
	done <"$tmp/dirs"
	mv "$tmp/next" "$tmp/dirs"
done
# What SHA256SUMS lists ("<64 hex>  <path>" a line), and the three others.
while IFS= read -r line; do
	printf '%s\n' "${line#*  }"
done <SHA256SUMS >"$tmp/listed"
members=$(($(wc -l <"$tmp/listed") + 3))
printf '%s\n' SHA256SUMS export.json export.json.sig >>"$tmp/listed"
sort "$tmp/listed" >"$tmp/listed.sorted"
sort "$tmp/files" >"$tmp/files.sorted"
comm -23 "$tmp/files.sorted" "$tmp/listed.sorted" >"$tmp/extra"
while IFS= read -r p; do
	fail "$p" "not listed in SHA256SUMS: added to the bundle"
done <"$tmp/extra"
comm -13 "$tmp/files.sorted" "$tmp/listed.sorted" >"$tmp/missing"
while IFS= read -r p; do
	fail "$p" "listed in SHA256SUMS, but not in the folder"
done <"$tmp/missing"
[ $fails -gt $n ] || echo "   OK: $members files"

# ---- 5. The segments ------------------------------------------------------------
# Each segment is three files: <id>.nvrseg (the recording, encrypted as
# the camera sent it), <id>.manifest.json (what the recorder says of it)
# and <id>.manifest.json.sig (the recorder's signature over the
# manifest's exact bytes, made when the segment was recorded). The key
# that signs a bundle's export.json signs its manifests too: a manifest
# signed by another key is a failure, whoever owns that key.
echo "5. Every segment manifest is signed by the same key, and every segment is the"
echo "   file its manifest describes (SHA-256 and size)"
n=$fails
segments=0
: >"$tmp/chain"
while IFS= read -r m; do
	case $m in
	*/*/*/*/*/*.manifest.json) ;;
	*/*/*/*/*/*.nvrseg)
		[ -f "${m%.nvrseg}.manifest.json" ] || fail "$m" "no manifest beside it: nothing says what it is"
		continue ;;
	*) continue ;;
	esac
	segments=$((segments + 1))
	base=${m%.manifest.json}
	fields "$m"
	if [ ! -f "$m.sig" ]; then
		fail "$m.sig" "missing: the manifest is not signed"
	elif [ -n "$pub" ] && ! openssl dgst -sha256 -verify "$pub" -signature "$m.sig" "$m" >/dev/null 2>&1; then
		fail "$m" "its signature does not verify with the key of $cert, export.json's signer (it names certs/$j_signer.crt)"
	elif [ "$j_signer" != "$signer" ]; then
		fail "$m" "it names certs/$j_signer.crt as its signer, not $cert, export.json's"
	fi
	[ "$j_segment_id" = "${base##*/}" ] || fail "$m" "it describes segment $j_segment_id, not the one of its name"
	if [ ! -f "$base.nvrseg" ]; then
		fail "$base.nvrseg" "missing: its manifest is in the bundle"
	else
		sha256 "$base.nvrseg"
		[ "$sum" = "$j_sha256" ] || fail "$base.nvrseg" "its SHA-256 is $sum; its manifest says $j_sha256"
		size=$(($(wc -c <"$base.nvrseg")))
		[ "$size" = "$j_bytes" ] || fail "$base.nvrseg" "it has $size bytes; its manifest says $j_bytes"
	fi
	# For step 6: stream, seq, this manifest's SHA-256, the previous one's.
	sha256 "$m"
	readable=true
	case $j_stream_id in '' | *[!0-9a-f-]*) readable=false ;; esac
	case $j_seq in '' | *[!0-9]*) readable=false ;; esac
	hex64 "$j_prev" || [ "$j_prev" = null ] || readable=false
	if $readable; then
		printf '%s %s %s %s %s\n' "$j_stream_id" "$j_seq" "$sum" "$j_prev" "$m" >>"$tmp/chain"
	else
		fail "$m" "its stream_id, seq or prev_manifest_sha256 cannot be read"
	fi
done <"$tmp/files.sorted"
[ $fails -gt $n ] || echo "   OK: $segments segments"

# ---- 6. The hash chains -----------------------------------------------------------
# In each stream (stream_id), the segments are numbered by seq: 0, 1, 2
# ... and each manifest names the SHA-256 of the manifest of seq - 1
# (prev_manifest_sha256; null for seq 0). So no manifest can be changed,
# removed, replaced or put in another order without breaking the link
# from the next one. The first segment of a stream in the bundle starts
# its chain (START): the one before it may be older than the export. A
# gap in seq (NOTE) is a segment the bundle does not hold: the recorder
# lists those it knew of in export.json (cameras, streams, gaps).
echo "6. Each stream's hash chain, link by link in seq order"
n=$fails
streams=0
pstream=
sort -k1,1 -k2,2n "$tmp/chain" >"$tmp/chain.sorted"
while read -r stream seq sum prev m; do
	case $seq:$prev in
	0:null) ;;
	0:* | *:null) fail "$m" "seq $seq with prev_manifest_sha256 $prev: only seq 0 has no previous manifest" ;;
	esac
	if [ "$stream" != "$pstream" ]; then
		streams=$((streams + 1))
		if [ "$seq" = 0 ]; then
			say "START $m: stream $stream, from its first segment (seq 0)"
		else
			say "START $m: stream $stream, from seq $seq (the segment before it is not in the bundle)"
		fi
	elif [ "$seq" = "$pseq" ]; then
		fail "$m" "a second manifest of seq $seq in stream $stream, beside $pm"
	elif [ "$seq" -ne $((pseq + 1)) ]; then
		say "NOTE $m: seq $((pseq + 1)) to $((seq - 1)) of stream $stream are not in the bundle: no link to check"
	elif [ "$prev" != "$psum" ]; then
		fail "$m" "its prev_manifest_sha256 is not the SHA-256 of $pm (seq $pseq): the chain is broken"
	fi
	pstream=$stream pseq=$seq psum=$sum pm=$m
done <"$tmp/chain.sorted"
[ $fails -gt $n ] || echo "   OK: $streams streams"

echo
if [ $fails -eq 0 ]; then
	say "VERIFIED: $members members, $segments segments in $streams streams; signed by the key of certificate SHA-256 $signer: compare it with the recorder's published fingerprint"
	exit 0
fi
say "NOT VERIFIED: $fails failures"
exit 1
