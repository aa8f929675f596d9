#!/bin/sh
# Makes a self-signed CA and a server certificate it signs, for HAProxy's TLS frontend in the
# container image (haproxy/entrypoint.sh runs it on first start; docs/tls.md).
#
#     site-tls.sh OUT_DIR [DNS_NAME...]
#
# Writes OUT_DIR/ca.pem (the CA certificate, 0644: what clients verify against) and
# OUT_DIR/site.pem (the server certificate then its key, 0600: a bundle `lbctl cert put`
# accepts). The server certificate names DNS_NAME... (default: lbctl localhost), 127.0.0.1
# and ::1; both are EC P-256 with SHA-256, the CA valid 10 years, the server certificate 825
# days (the most Apple's clients accept). The CA's key is made in a private temporary folder
# and removed: nothing else is ever signed with it, so no CA key is kept anywhere.
set -eu

[ "$#" -ge 1 ] || { echo "usage: $0 OUT_DIR [DNS_NAME...]" >&2; exit 2; }
out="$1"
shift
[ "$#" -ge 1 ] || set -- lbctl localhost

sans=""
for name in "$@"; do
    sans="${sans}DNS:$name,"
done
sans="${sans}IP:127.0.0.1,IP:::1"

umask 077
mkdir -p "$out"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -sha256 \
    -days 3650 -subj "/CN=lbctl site CA" \
    -addext "basicConstraints=critical,CA:TRUE" \
    -addext "keyUsage=critical,keyCertSign,cRLSign" \
    -keyout "$work/ca.key" -out "$work/ca.pem" 2>/dev/null
openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -sha256 \
    -subj "/CN=$1" -keyout "$work/site.key" -out "$work/site.csr" 2>/dev/null
cat >"$work/site.ext" <<EXT
basicConstraints=critical,CA:FALSE
keyUsage=critical,digitalSignature
extendedKeyUsage=serverAuth
subjectAltName=$sans
subjectKeyIdentifier=hash
authorityKeyIdentifier=keyid
EXT
openssl x509 -req -in "$work/site.csr" -CA "$work/ca.pem" -CAkey "$work/ca.key" \
    -CAcreateserial -days 825 -sha256 -extfile "$work/site.ext" -out "$work/site.crt" 2>/dev/null

cat "$work/site.crt" "$work/site.key" >"$work/site.pem"
chmod 0644 "$work/ca.pem"
mv "$work/site.pem" "$out/site.pem"
mv "$work/ca.pem" "$out/ca.pem"
