#!/bin/sh
# make-test-pki.sh: every key and certificate the tests and the quickstart
# need, made with the openssl command line, all ECDSA P-256.
#
# Usage: contrib/make-test-pki.sh DIR [--force]
#
# Into DIR:
#   camera-ca.crt/.key        camera root CA ("pre-installed by the vendor")
#   camera.crt/.key           camera certificate signed by it, for localhost,
#                             127.0.0.1 and ::1
#   untrusted-camera.crt/.key a self-signed camera certificate (must be refused)
#   recorder-ca.crt/.key      a CA for the recorder's HTTPS certificate
#   recorder-tls.crt/.key     recorder HTTPS certificate signed by recorder-ca,
#   recorder-tls-chain.crt    and leaf + CA as a chain
#   recorder-signing.crt/.key recorder manifest signing key, self-signed
#   keyholder.key/.pub.pem    a key holder's key pair (the private half is
#                             for tests only: real ones never reach a recorder)
# Private keys are mode 0600. For tests and demos only: these keys are not
# protected by anything.
# Idempotent: an existing complete set is kept unless --force.
set -eu

die() { echo "make-test-pki.sh: $*" >&2; exit 1; }
[ $# -ge 1 ] || die "usage: make-test-pki.sh DIR [--force]"
dir=$1
force=${2:-}
[ -z "$force" ] || [ "$force" = --force ] || die "unknown option '$force'"
command -v openssl >/dev/null || die "openssl not found; hint: apt-get install openssl"

if [ -f "$dir/.complete" ] && [ "$force" != --force ]; then
	exit 0
fi
mkdir -p "$dir"
cd "$dir"
rm -f .complete
umask 077

newkey() {
	openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1" 2>/dev/null
}

# ca NAME SUBJECT
ca() {
	newkey "$1.key"
	openssl req -x509 -new -key "$1.key" -subj "$2" -days 3650 -sha256 \
		-addext "basicConstraints=critical,CA:TRUE,pathlen:0" \
		-addext "keyUsage=critical,keyCertSign,cRLSign" \
		-addext "subjectKeyIdentifier=hash" -out "$1.crt"
}

# leaf NAME SUBJECT CA EXTENSIONS...
leaf() {
	name=$1 subj=$2 ca=$3
	shift 3
	newkey "$name.key"
	openssl req -new -key "$name.key" -subj "$subj" -out "$name.csr"
	printf '%s\n' "$@" >"$name.ext"
	openssl x509 -req -in "$name.csr" -CA "$ca.crt" -CAkey "$ca.key" -set_serial "0x$(openssl rand -hex 16)" \
		-days 825 -sha256 -extfile "$name.ext" -out "$name.crt" 2>/dev/null
	rm -f "$name.csr" "$name.ext"
}

server_ext="basicConstraints=critical,CA:FALSE
keyUsage=critical,digitalSignature
extendedKeyUsage=serverAuth
subjectAltName=DNS:localhost,IP:127.0.0.1,IP:::1
authorityKeyIdentifier=keyid"

ca camera-ca "/O=NVR Test Camera Vendor/CN=NVR Test Camera Root CA"
leaf camera "/O=NVR Test Camera Vendor/CN=camsim" camera-ca "$server_ext"

newkey untrusted-camera.key
openssl req -x509 -new -key untrusted-camera.key -subj "/CN=untrusted camsim" -days 825 -sha256 \
	-addext "subjectAltName=DNS:localhost,IP:127.0.0.1,IP:::1" -out untrusted-camera.crt

ca recorder-ca "/O=NVR Test Site/CN=NVR Test Recorder CA"
leaf recorder-tls "/O=NVR Test Site/CN=localhost" recorder-ca "$server_ext"
cat recorder-tls.crt recorder-ca.crt >recorder-tls-chain.crt

newkey recorder-signing.key
openssl req -x509 -new -key recorder-signing.key -subj "/O=NVR Test Site/CN=NVR Test Recorder manifest signing" \
	-days 3650 -sha256 -addext "keyUsage=critical,digitalSignature,nonRepudiation" -out recorder-signing.crt

newkey keyholder.key
openssl pkey -in keyholder.key -pubout -out keyholder.pub.pem

chmod 0600 ./*.key
chmod 0644 ./*.crt ./*.pem
touch .complete
echo "make-test-pki.sh: test keys and certificates in $(pwd)"
