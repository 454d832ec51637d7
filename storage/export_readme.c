/*
 * export_readme.c: the two texts every bundle carries for a stranger who
 * trusts nothing the recorder runs (docs/FORMAT.md section 12.3):
 * verify.sh, which checks the bundle with a POSIX shell, coreutils and
 * openssl alone, and README.txt, which says what the bundle is, how to
 * run the script and what each of its steps proves, and ends with the
 * script's text. Nothing here reads a file or the database: the texts
 * are fixed but for the export's facts.
 */
#include "autoconfig.h"

#include <stdio.h>
#include <stdlib.h>

#include "storage/export_priv.h"

/* verify.sh, as it is written into the bundle. tests/integration/
 * bundle-sh.test runs it under dash with nothing but the coreutils it
 * names and openssl on its PATH: a command added here must be added there,
 * and be one an examiner's machine has (no grep, sed, awk, find, jq). */
static const char verify_sh[] =
    "#!/bin/sh\n"
    "# verify.sh: checks an evidence bundle of the nvr recorder with a POSIX\n"
    "# shell, coreutils and openssl alone, and changes nothing: it writes only\n"
    "# in a scratch folder of its own (mktemp -d, under $TMPDIR or /tmp),\n"
    "# removed when it ends.\n"
    "#\n"
    "#   sh verify.sh          in the folder the bundle was extracted to\n"
    "#   sh verify.sh FOLDER   from anywhere\n"
    "#\n"
    "# It prints what each step checks, \"FAIL <file>: <why>\" for every problem,\n"
    "# and ends with \"VERIFIED: ...\" (exit status 0) or \"NOT VERIFIED: ...\"\n"
    "# (exit status 1). The files are described in docs/FORMAT.md of the\n"
    "# recorder's source: sections 4 (segment manifests) and 12 (bundles).\n"
    "#\n"
    "# export.json and the manifests are JSON with one key a line, the\n"
    "# top-level keys indented by two spaces, as the recorder writes them\n"
    "# (for example:   \"seq\": 12,), so the shell's read and case find a\n"
    "# field without a JSON parser.\n"
    "\n"
    "LC_ALL=C\n"
    "export LC_ALL\n"
    "fails=0\n"
    "\n"
    "# say TEXT: prints TEXT on one line, with any character that is not\n"
    "# printable ASCII (a line break in a file name) shown as \"?\", so that\n"
    "# no name in the bundle can print a line of its own.\n"
    "say() {\n"
    "\tprintf '%s' \"$*\" | tr -c '[:print:]' '?'\n"
    "\techo\n"
    "}\n"
    "\n"
    "# fail FILE WHY: one failure, naming the file.\n"
    "fail() {\n"
    "\tsay \"FAIL $1: $2\"\n"
    "\tfails=$((fails + 1))\n"
    "}\n"
    "\n"
    "# hex64 VALUE: true when VALUE is a SHA-256 as the recorder writes it.\n"
    "hex64() {\n"
    "\tcase $1 in *[!0-9a-f]*) return 1 ;; esac\n"
    "\t[ ${#1} -eq 64 ]\n"
    "}\n"
    "\n"
    "# sha256 FILE: sets $sum to the SHA-256 of FILE (64 hex digits).\n"
    "sha256() {\n"
    "\tsum=$(sha256sum <\"$1\")\n"
    "\tsum=${sum%% *}\n"
    "}\n"
    "\n"
    "# fields FILE: sets the variables below to the values of the top-level\n"
    "# keys of that name in FILE (quotes and final comma removed), or to \"\"\n"
    "# for a key FILE does not have.\n"
    "fields() {\n"
    "\tj_bytes='' j_export_id='' j_prev='' j_segment_id='' j_seq='' j_sha256='' j_sums='' "
    "j_signer='' j_stream_id=''\n"
    "\twhile IFS= read -r line; do\n"
    "\t\tv=${line#*\\\": }\n"
    "\t\tv=${v%,}\n"
    "\t\tv=${v#\\\"}\n"
    "\t\tv=${v%\\\"}\n"
    "\t\tcase $line in\n"
    "\t\t'  \"bytes\": '*) j_bytes=$v ;;\n"
    "\t\t'  \"export_id\": '*) j_export_id=$v ;;\n"
    "\t\t'  \"prev_manifest_sha256\": '*) j_prev=$v ;;\n"
    "\t\t'  \"segment_id\": '*) j_segment_id=$v ;;\n"
    "\t\t'  \"seq\": '*) j_seq=$v ;;\n"
    "\t\t'  \"sha256\": '*) j_sha256=$v ;;\n"
    "\t\t'  \"sha256sums_sha256\": '*) j_sums=$v ;;\n"
    "\t\t'  \"signer_sha256\": '*) j_signer=$v ;;\n"
    "\t\t'  \"stream_id\": '*) j_stream_id=$v ;;\n"
    "\t\tesac\n"
    "\tdone <\"$1\"\n"
    "}\n"
    "\n"
    "if [ $# -gt 1 ]; then\n"
    "\techo \"usage: sh verify.sh [FOLDER]\" >&2\n"
    "\texit 2\n"
    "fi\n"
    "# The scratch folder, made before changing to the bundle's folder so\n"
    "# that a relative $TMPDIR cannot put it there.\n"
    "tmp=$(mktemp -d \"${TMPDIR:-/tmp}/nvr-verify.XXXXXX\") || exit 2\n"
    "trap 'rm -rf -- \"$tmp\"' EXIT\n"
    "trap 'exit 2' HUP INT TERM\n"
    "tmp=$(cd -- \"$tmp\" && pwd) || exit 2\n"
    "if ! cd -- \"${1:-.}\" 2>/dev/null; then\n"
    "\tfail \"${1:-.}\" \"not a folder that can be read\"\n"
    "\tsay \"NOT VERIFIED: $fails failures\"\n"
    "\texit 1\n"
    "fi\n"
    "for f in export.json export.json.sig SHA256SUMS; do\n"
    "\tif [ ! -f \"$f\" ] || [ -L \"$f\" ]; then\n"
    "\t\tfail \"$f\" \"missing: is this the folder extracted from the bundle?\"\n"
    "\t\tsay \"NOT VERIFIED: $fails failures\"\n"
    "\t\texit 1\n"
    "\tfi\n"
    "done\n"
    "fields export.json\n"
    "signer=$j_signer\n"
    "say \"Evidence bundle ${j_export_id:-(no export_id)} in $(pwd)\"\n"
    "echo\n"
    "\n"
    "# ---- 1. The signer -----------------------------------------------------------\n"
    "# export.json names the certificate whose key signed it: certs/<the\n"
    "# SHA-256 of the certificate's DER encoding>.crt. Its fingerprint is the\n"
    "# one thing this script cannot check: someone who changed the bundle\n"
    "# could have signed it again with a key of their own, and every other\n"
    "# step would pass. Only the fingerprint the recorder's operator published\n"
    "# or gave you (on paper, by telephone, from the recorder itself) tells\n"
    "# the recorder's key from another.\n"
    "cert=certs/$signer.crt\n"
    "echo \"1. The signer's certificate, named in export.json: $cert\"\n"
    "pub=\n"
    "if ! hex64 \"$signer\"; then\n"
    "\tfail export.json \"its signer_sha256 is not a SHA-256: '$signer'\"\n"
    "elif [ ! -f \"$cert\" ]; then\n"
    "\tfail \"$cert\" \"missing: export.json names it as its signer's\"\n"
    "elif ! openssl x509 -in \"$cert\" -outform DER -out \"$tmp/signer.der\" 2>/dev/null ||\n"
    "\t! openssl x509 -in \"$cert\" -pubkey -noout >\"$tmp/signer.pub\" 2>/dev/null; then\n"
    "\tfail \"$cert\" \"openssl cannot read it as a certificate\"\n"
    "else\n"
    "\tsha256 \"$tmp/signer.der\"\n"
    "\tif [ \"$sum\" = \"$signer\" ]; then\n"
    "\t\tpub=$tmp/signer.pub\n"
    "\telse\n"
    "\t\tfail \"$cert\" \"its SHA-256 is $sum, not the one of its name\"\n"
    "\tfi\n"
    "\tsay \"   $(openssl x509 -in \"$cert\" -noout -fingerprint -sha256)\"\n"
    "\techo \"   Compare this fingerprint with the recorder's, as its operator published it\"\n"
    "\techo \"   or gave it to you by another channel: anyone can make a bundle that passes\"\n"
    "\techo \"   every step below with a key of their own.\"\n"
    "fi\n"
    "\n"
    "# ---- 2. export.json is signed by that key --------------------------------------\n"
    "# export.json lists every file of the bundle with its size and SHA-256,\n"
    "# and names SHA256SUMS by its SHA-256; export.json.sig is an ECDSA\n"
    "# signature over its exact bytes.\n"
    "echo \"2. The signature of export.json (export.json.sig) with that certificate's key\"\n"
    "if [ -n \"$pub\" ]; then\n"
    "\tif openssl dgst -sha256 -verify \"$pub\" -signature export.json.sig export.json "
    ">/dev/null 2>&1; then\n"
    "\t\techo \"   Verified OK\"\n"
    "\telse\n"
    "\t\tfail export.json.sig \"the signature of export.json does not verify with the key of "
    "$cert\"\n"
    "\tfi\n"
    "else\n"
    "\tfail export.json.sig \"not checked: no certificate to check it with (step 1)\"\n"
    "fi\n"
    "\n"
    "# ---- 3. SHA256SUMS is the one export.json names ----------------------------------\n"
    "echo \"3. SHA256SUMS is the list export.json names (sha256sums_sha256)\"\n"
    "sha256 SHA256SUMS\n"
    "say \"   export.json names  $j_sums\"\n"
    "say \"   SHA256SUMS has     $sum\"\n"
    "[ \"$sum\" = \"$j_sums\" ] || fail SHA256SUMS \"its SHA-256 is not the one export.json "
    "names\"\n"
    "\n"
    "# ---- 4. Every file is the one listed, and there is no other ----------------------\n"
    "# SHA256SUMS lists every file but three: itself, export.json and\n"
    "# export.json.sig, which are made after it and are checked by steps 2\n"
    "# and 3 (a list cannot hold its own hash). Any other file in the folder\n"
    "# is not part of the bundle and is a failure, as are symbolic links and\n"
    "# anything that is not a file or a folder.\n"
    "echo \"4. Every file has the SHA-256 SHA256SUMS lists, and the folder holds no other\"\n"
    "n=$fails\n"
    "sha256sum -c --quiet --strict SHA256SUMS >\"$tmp/check\" 2>&1\n"
    "st=$?\n"
    "while IFS= read -r line; do\n"
    "\tcase $line in\n"
    "\t*': FAILED open or read')\n"
    "\t\t# one that is not there at all is named below, once\n"
    "\t\tp=${line%: FAILED open or read}\n"
    "\t\t[ ! -e \"$p\" ] || fail \"$p\" \"it cannot be read\" ;;\n"
    "\t*': FAILED') fail \"${line%: FAILED}\" \"its SHA-256 is not the one SHA256SUMS lists\" ;;\n"
    "\t*'improperly formatted'*) fail SHA256SUMS \"$line\" ;;\n"
    "\tesac\n"
    "done <\"$tmp/check\"\n"
    "[ $st -eq 0 ] || [ $fails -gt $n ] || fail SHA256SUMS \"sha256sum -c fails on it\"\n"
    "# The folder's files, found with the shell's globs one level at a time\n"
    "# (hidden names too), down to the segments' level: <camera_id>/<stream>/\n"
    "# <yyyy>/<mm>/<dd>/<file>.\n"
    "nl='\n"
    "'\n"
    ": >\"$tmp/files\"\n"
    "echo . >\"$tmp/dirs\"\n"
    "depth=0\n"
    "while [ -s \"$tmp/dirs\" ]; do\n"
    "\tdepth=$((depth + 1))\n"
    "\t: >\"$tmp/next\"\n"
    "\twhile IFS= read -r d; do\n"
    "\t\tfor p in \"$d\"/* \"$d\"/.[!.]* \"$d\"/..?*; do\n"
    "\t\t\t[ -e \"$p\" ] || [ -L \"$p\" ] || continue # a pattern that matched nothing\n"
    "\t\t\tp=${p#./}\n"
    "\t\t\tcase $p in\n"
    "\t\t\t*\"$nl\"*) fail \"$p\" \"a name with a line break: not a file of the bundle\" ;;\n"
    "\t\t\t*)\n"
    "\t\t\t\tif [ -L \"$p\" ]; then\n"
    "\t\t\t\t\tfail \"$p\" \"a symbolic link: not a file of the bundle\"\n"
    "\t\t\t\t\tprintf '%s\\n' \"$p\" >>\"$tmp/files\"\n"
    "\t\t\t\telif [ -f \"$p\" ]; then\n"
    "\t\t\t\t\tprintf '%s\\n' \"$p\" >>\"$tmp/files\"\n"
    "\t\t\t\telif [ ! -d \"$p\" ]; then\n"
    "\t\t\t\t\tfail \"$p\" \"neither a file nor a folder: not part of the bundle\"\n"
    "\t\t\t\telif [ $depth -lt 6 ]; then\n"
    "\t\t\t\t\tprintf '%s\\n' \"$p\" >>\"$tmp/next\"\n"
    "\t\t\t\telse\n"
    "\t\t\t\t\tfail \"$p\" \"a folder below the segments' folders: not part of the bundle\"\n"
    "\t\t\t\tfi ;;\n"
    "\t\t\tesac\n"
    "\t\tdone\n"
    "\tdone <\"$tmp/dirs\"\n"
    "\tmv \"$tmp/next\" \"$tmp/dirs\"\n"
    "done\n"
    "# What SHA256SUMS lists (\"<64 hex>  <path>\" a line), and the three others.\n"
    "while IFS= read -r line; do\n"
    "\tprintf '%s\\n' \"${line#*  }\"\n"
    "done <SHA256SUMS >\"$tmp/listed\"\n"
    "members=$(($(wc -l <\"$tmp/listed\") + 3))\n"
    "printf '%s\\n' SHA256SUMS export.json export.json.sig >>\"$tmp/listed\"\n"
    "sort \"$tmp/listed\" >\"$tmp/listed.sorted\"\n"
    "sort \"$tmp/files\" >\"$tmp/files.sorted\"\n"
    "comm -23 \"$tmp/files.sorted\" \"$tmp/listed.sorted\" >\"$tmp/extra\"\n"
    "while IFS= read -r p; do\n"
    "\tfail \"$p\" \"not listed in SHA256SUMS: added to the bundle\"\n"
    "done <\"$tmp/extra\"\n"
    "comm -13 \"$tmp/files.sorted\" \"$tmp/listed.sorted\" >\"$tmp/missing\"\n"
    "while IFS= read -r p; do\n"
    "\tfail \"$p\" \"listed in SHA256SUMS, but not in the folder\"\n"
    "done <\"$tmp/missing\"\n"
    "[ $fails -gt $n ] || echo \"   OK: $members files\"\n"
    "\n"
    "# ---- 5. The segments ------------------------------------------------------------\n"
    "# Each segment is three files: <id>.nvrseg (the recording, encrypted as\n"
    "# the camera sent it), <id>.manifest.json (what the recorder says of it)\n"
    "# and <id>.manifest.json.sig (the recorder's signature over the\n"
    "# manifest's exact bytes, made when the segment was recorded). The key\n"
    "# that signs a bundle's export.json signs its manifests too: a manifest\n"
    "# signed by another key is a failure, whoever owns that key.\n"
    "echo \"5. Every segment manifest is signed by the same key, and every segment is the\"\n"
    "echo \"   file its manifest describes (SHA-256 and size)\"\n"
    "n=$fails\n"
    "segments=0\n"
    ": >\"$tmp/chain\"\n"
    "while IFS= read -r m; do\n"
    "\tcase $m in\n"
    "\t*/*/*/*/*/*.manifest.json) ;;\n"
    "\t*/*/*/*/*/*.nvrseg)\n"
    "\t\t[ -f \"${m%.nvrseg}.manifest.json\" ] || fail \"$m\" \"no manifest beside it: nothing "
    "says what it is\"\n"
    "\t\tcontinue ;;\n"
    "\t*) continue ;;\n"
    "\tesac\n"
    "\tsegments=$((segments + 1))\n"
    "\tbase=${m%.manifest.json}\n"
    "\tfields \"$m\"\n"
    "\tif [ ! -f \"$m.sig\" ]; then\n"
    "\t\tfail \"$m.sig\" \"missing: the manifest is not signed\"\n"
    "\telif [ -n \"$pub\" ] && ! openssl dgst -sha256 -verify \"$pub\" -signature \"$m.sig\" "
    "\"$m\" >/dev/null 2>&1; then\n"
    "\t\tfail \"$m\" \"its signature does not verify with the key of $cert, export.json's signer "
    "(it names certs/$j_signer.crt)\"\n"
    "\telif [ \"$j_signer\" != \"$signer\" ]; then\n"
    "\t\tfail \"$m\" \"it names certs/$j_signer.crt as its signer, not $cert, export.json's\"\n"
    "\tfi\n"
    "\t[ \"$j_segment_id\" = \"${base##*/}\" ] || fail \"$m\" \"it describes segment "
    "$j_segment_id, not the one of its name\"\n"
    "\tif [ ! -f \"$base.nvrseg\" ]; then\n"
    "\t\tfail \"$base.nvrseg\" \"missing: its manifest is in the bundle\"\n"
    "\telse\n"
    "\t\tsha256 \"$base.nvrseg\"\n"
    "\t\t[ \"$sum\" = \"$j_sha256\" ] || fail \"$base.nvrseg\" \"its SHA-256 is $sum; its "
    "manifest says $j_sha256\"\n"
    "\t\tsize=$(($(wc -c <\"$base.nvrseg\")))\n"
    "\t\t[ \"$size\" = \"$j_bytes\" ] || fail \"$base.nvrseg\" \"it has $size bytes; its "
    "manifest says $j_bytes\"\n"
    "\tfi\n"
    "\t# For step 6: stream, seq, this manifest's SHA-256, the previous one's.\n"
    "\tsha256 \"$m\"\n"
    "\treadable=true\n"
    "\tcase $j_stream_id in '' | *[!0-9a-f-]*) readable=false ;; esac\n"
    "\tcase $j_seq in '' | *[!0-9]*) readable=false ;; esac\n"
    "\thex64 \"$j_prev\" || [ \"$j_prev\" = null ] || readable=false\n"
    "\tif $readable; then\n"
    "\t\tprintf '%s %s %s %s %s\\n' \"$j_stream_id\" \"$j_seq\" \"$sum\" \"$j_prev\" \"$m\" "
    ">>\"$tmp/chain\"\n"
    "\telse\n"
    "\t\tfail \"$m\" \"its stream_id, seq or prev_manifest_sha256 cannot be read\"\n"
    "\tfi\n"
    "done <\"$tmp/files.sorted\"\n"
    "[ $fails -gt $n ] || echo \"   OK: $segments segments\"\n"
    "\n"
    "# ---- 6. The hash chains -----------------------------------------------------------\n"
    "# In each stream (stream_id), the segments are numbered by seq: 0, 1, 2\n"
    "# ... and each manifest names the SHA-256 of the manifest of seq - 1\n"
    "# (prev_manifest_sha256; null for seq 0). So no manifest can be changed,\n"
    "# removed, replaced or put in another order without breaking the link\n"
    "# from the next one. The first segment of a stream in the bundle starts\n"
    "# its chain (START): the one before it may be older than the export. A\n"
    "# gap in seq (NOTE) is a segment the bundle does not hold: the recorder\n"
    "# lists those it knew of in export.json (cameras, streams, gaps).\n"
    "echo \"6. Each stream's hash chain, link by link in seq order\"\n"
    "n=$fails\n"
    "streams=0\n"
    "pstream=\n"
    "sort -k1,1 -k2,2n \"$tmp/chain\" >\"$tmp/chain.sorted\"\n"
    "while read -r stream seq sum prev m; do\n"
    "\tcase $seq:$prev in\n"
    "\t0:null) ;;\n"
    "\t0:* | *:null) fail \"$m\" \"seq $seq with prev_manifest_sha256 $prev: only seq 0 has no "
    "previous manifest\" ;;\n"
    "\tesac\n"
    "\tif [ \"$stream\" != \"$pstream\" ]; then\n"
    "\t\tstreams=$((streams + 1))\n"
    "\t\tif [ \"$seq\" = 0 ]; then\n"
    "\t\t\tsay \"START $m: stream $stream, from its first segment (seq 0)\"\n"
    "\t\telse\n"
    "\t\t\tsay \"START $m: stream $stream, from seq $seq (the segment before it is not in the "
    "bundle)\"\n"
    "\t\tfi\n"
    "\telif [ \"$seq\" = \"$pseq\" ]; then\n"
    "\t\tfail \"$m\" \"a second manifest of seq $seq in stream $stream, beside $pm\"\n"
    "\telif [ \"$seq\" -ne $((pseq + 1)) ]; then\n"
    "\t\tsay \"NOTE $m: seq $((pseq + 1)) to $((seq - 1)) of stream $stream are not in the "
    "bundle: no link to check\"\n"
    "\telif [ \"$prev\" != \"$psum\" ]; then\n"
    "\t\tfail \"$m\" \"its prev_manifest_sha256 is not the SHA-256 of $pm (seq $pseq): the chain "
    "is broken\"\n"
    "\tfi\n"
    "\tpstream=$stream pseq=$seq psum=$sum pm=$m\n"
    "done <\"$tmp/chain.sorted\"\n"
    "[ $fails -gt $n ] || echo \"   OK: $streams streams\"\n"
    "\n"
    "echo\n"
    "if [ $fails -eq 0 ]; then\n"
    "\tsay \"VERIFIED: $members members, $segments segments in $streams streams; signed by the "
    "key of certificate SHA-256 $signer: compare it with the recorder's published fingerprint\"\n"
    "\texit 0\n"
    "fi\n"
    "say \"NOT VERIFIED: $fails failures\"\n"
    "exit 1\n";

const char *
stg_export_verify_sh(void)
{
	return verify_sh;
}

/* The export's facts: what was asked for, by whom, when, and why. */
static void
readme_facts(FILE *f, const struct stg_export_req *req, const char *id, const char *created,
    const char *recorder, const char *cover)
{
	fprintf(f, "Evidence export %s\n\n", id);
	fprintf(f, "Made by the recorder %s\non %s for %s (%s).\n", recorder, created, req->actor, req->address);
	fprintf(f, "Reason: %s\nCameras:", req->reason);
	for (size_t i = 0; i < req->ncameras; i++)
		fprintf(f, " %s", req->cameras[i]);
	fprintf(f, "\nRange asked for: %s to %s (the first included, the last not).\n%s\n", req->from, req->to,
	    cover);
}

/* How to run verify.sh. The lines that start with "$ " are commands to
 * type, the same for every bundle but for its id and its signer's
 * certificate. */
static void
readme_run(FILE *f, const char *id)
{
	fprintf(f,
	    "The video is encrypted as the cameras sent it (SRTP): only a key holder\n"
	    "can watch it (nvrctl decrypt BUNDLE.tar --key KEYHOLDER.pem --out clip.mp4).\n"
	    "Anyone can check that the bundle is what the recorder stored and signed,\n"
	    "with a POSIX shell, coreutils and openssl alone (or with: nvrctl verify\n"
	    "BUNDLE.tar), in a terminal:\n\n"
	    "$ tar -xf BUNDLE.tar\n"
	    "$ cd nvr-export-%s\n"
	    "$ sh verify.sh\n\n"
	    "verify.sh writes nothing in the bundle's folder. It prints a line that\n"
	    "starts with FAIL and names the file for every problem, and ends with\n"
	    "\"VERIFIED: ...\" (exit status 0) only when all six steps passed:\n\n",
	    id);
}

/* What each step of verify.sh proves, in plain words. */
static void
readme_steps(FILE *f, const char *cert)
{
	fprintf(f,
	    "1. It prints the SHA-256 fingerprint of the certificate whose key signed\n"
	    "   the bundle,\n"
	    "   %s\n"
	    "   Compare it with the fingerprint the recorder's operator published or\n"
	    "   gave you by another channel (on paper, by telephone). No program can\n"
	    "   do this step for you: anyone can make a bundle that passes the five\n"
	    "   others with a key of their own.\n"
	    "2. export.json, the export's manifest, which lists every file of the\n"
	    "   bundle with its size and SHA-256, was signed with that certificate's key.\n"
	    "3. SHA256SUMS is the list export.json names (it prints both hashes).\n"
	    "4. Every file is the one SHA256SUMS lists (sha256sum -c SHA256SUMS), and\n"
	    "   the folder holds no other. SHA256SUMS lists every file but three:\n"
	    "   itself, export.json and export.json.sig, which are written after it (a\n"
	    "   list cannot hold its own hash) and are checked by steps 2 and 3.\n"
	    "5. Every segment (<id>.nvrseg, a few seconds of one camera) has the\n"
	    "   SHA-256 and size its manifest (<id>.manifest.json) gives, and every\n"
	    "   manifest was signed with the same key when the segment was recorded.\n"
	    "6. In each stream, each manifest names the SHA-256 of the one before it\n"
	    "   (seq - 1), so none can be removed, changed or reordered unseen. START\n"
	    "   marks each stream's first segment in the bundle, NOTE a gap in seq\n"
	    "   (export.json lists the gaps the recorder knew of).\n\n",
	    cert);
}

/* The two steps no script should be trusted for, as bare openssl
 * commands; the public key goes through a pipe, so that nothing is
 * written in the bundle's folder. */
static void
readme_by_hand(FILE *f, const char *cert)
{
	fprintf(f,
	    "The first two steps by hand (the second prints \"Verified OK\"):\n\n"
	    "$ openssl x509 -in %s -noout -fingerprint -sha256\n"
	    "$ openssl x509 -in %s -pubkey -noout | openssl dgst -sha256 -verify /dev/stdin"
	    " -signature export.json.sig export.json\n\n"
	    "A script cannot vouch for itself: read verify.sh before you trust what it\n"
	    "says. Its text follows, the same as the file. docs/FORMAT.md of the\n"
	    "recorder's source describes every file (sections 4 and 12).\n\n",
	    cert, cert);
}

char *
stg_export_readme(const struct stg_export_req *req, const char *id, const char *created, const char *recorder,
    const char *cert, const char *cover)
{
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);

	if (f == NULL)
		return NULL;
	readme_facts(f, req, id, created, recorder, cover);
	readme_run(f, id);
	readme_steps(f, cert);
	readme_by_hand(f, cert);
	fputs("---- verify.sh ----\n", f);
	fputs(verify_sh, f);
	if (fclose(f) != 0) {
		free(text);
		return NULL;
	}
	return text;
}
