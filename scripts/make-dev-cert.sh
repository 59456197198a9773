#!/usr/bin/env bash
# Makes a local certificate authority and a server certificate signed by it,
# for trying muxchat over TLS on this machine. Not for production: the CA key
# sits next to the certificates, unencrypted.
#
#   scripts/make-dev-cert.sh [DIR] [NAME...]
#
# DIR defaults to ./dev-cert. The server certificate names localhost,
# 127.0.0.1 and ::1, plus each extra NAME (a host name or an IP address).
# Run again to re-issue the server certificate: an existing CA in DIR is kept,
# so clients that trust DIR/ca.crt keep trusting the new one (muxchatd picks
# it up on SIGHUP).
set -euo pipefail

dir=${1:-./dev-cert}
shift || true
command -v openssl >/dev/null || { echo "make-dev-cert: openssl is missing (apt-get install openssl)" >&2; exit 1; }
mkdir -p "$dir"
dir=$(cd "$dir" && pwd)
umask 077

san="DNS:localhost,IP:127.0.0.1,IP:::1"
for name in "$@"; do
  if [[ $name =~ ^[0-9.]+$ || $name == *:* ]]; then san+=",IP:$name"; else san+=",DNS:$name"; fi
done

if [[ ! -f $dir/ca.key || ! -f $dir/ca.crt ]]; then
  openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$dir/ca.key" 2>/dev/null
  openssl req -x509 -new -key "$dir/ca.key" -sha256 -days 825 -subj "/CN=muxchat dev CA ($(hostname))" \
    -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" \
    -out "$dir/ca.crt"
  echo "make-dev-cert: new CA in $dir/ca.crt"
else
  echo "make-dev-cert: keeping the CA in $dir/ca.crt"
fi

openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$dir/server.key.new" 2>/dev/null
openssl req -new -key "$dir/server.key.new" -subj "/CN=localhost" -out "$dir/server.csr"
extensions=$(mktemp)
trap 'rm -f "$extensions" "$dir/server.csr" "$dir/server.key.new" "$dir/server.crt.new"' EXIT
cat >"$extensions" <<EXT
basicConstraints=critical,CA:FALSE
keyUsage=critical,digitalSignature
extendedKeyUsage=serverAuth
subjectKeyIdentifier=hash
authorityKeyIdentifier=keyid
subjectAltName=$san
EXT
openssl x509 -req -in "$dir/server.csr" -CA "$dir/ca.crt" -CAkey "$dir/ca.key" -CAcreateserial -days 398 \
  -sha256 -extfile "$extensions" -out "$dir/server.crt.new" 2>/dev/null
# Replace both files only once both exist, so a reload never sees a mismatch
# for longer than between these two renames.
mv "$dir/server.key.new" "$dir/server.key"
mv "$dir/server.crt.new" "$dir/server.crt"
chmod 644 "$dir/ca.crt" "$dir/server.crt"

cat <<USAGE
make-dev-cert: server certificate $dir/server.crt for $san
Start the server with it:
  muxchatd --listen=127.0.0.1:7000 --tls_cert=$dir/server.crt --tls_key=$dir/server.key
Connect over TLS, trusting this CA:
  muxchat --tls --ca $dir/ca.crt localhost 7000
USAGE
