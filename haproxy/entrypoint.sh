#!/bin/sh
# Entrypoint of the lbctl container image (haproxy/Dockerfile).
#
# 1. TLS: the agent refuses to listen on a non-loopback address without TLS, and inside a
#    container it must listen on the container's own address for a published port to reach
#    it. The certificate and key are $LBCTL_STATE_DIR/tls/cert.pem and key.pem: mount your
#    own there, or a self-signed pair (names localhost, lbctl, 127.0.0.1, ::1; 825 days) is
#    made on first start and kept in the state volume. It is made here, not at image build
#    time, so no private key ships inside the image.
#    HAProxy's own TLS frontend: when LBCTL_SITE_CERT names a certificate (docker-compose.yml
#    sets `site`) and the agent's store lacks it, or the CA file $LBCTL_SITE_CA_DIR/ca.pem is
#    missing, lbctl-site-tls (haproxy/site-tls.sh) makes a self-signed CA and a certificate
#    it signs, `lbctl cert put` keeps the certificate in the store before the spec is applied,
#    and only the CA certificate is written to $LBCTL_SITE_CA_DIR (default /var/lib/lbctl-ca,
#    a volume the clients mount read-only to verify HAProxy). The CA's key is not kept.
# 2. Starts `lbctl serve` (HAProxy with it) in the background; extra arguments of the
#    container are passed to `lbctl serve`.
# 3. If a spec file is mounted at $LBCTL_SPEC_FILE (default /etc/lbctl/spec.yaml), applies it
#    through the agent with `lbctl apply` once the agent answers, whenever its sha256 differs
#    from the one applied last (kept in the state dir). So an edited file is applied at the
#    next container start, and changes made through the API since are kept otherwise. A spec
#    the agent refuses stops the container (exit 1) with the agent's message.
# 4. Creates /tmp/lbctl-ready when the agent serves the intended spec (the compose healthcheck
#    tests it), then waits for the agent; SIGTERM / SIGINT are passed on to it, and it stops
#    HAProxy before exiting.
set -eu

state="${LBCTL_STATE_DIR:-/var/lib/lbctl}"
listen="${LBCTL_LISTEN:-0.0.0.0:9900}"
spec_file="${LBCTL_SPEC_FILE:-/etc/lbctl/spec.yaml}"
site_cert="${LBCTL_SITE_CERT:-}"
site_ca_dir="${LBCTL_SITE_CA_DIR:-/var/lib/lbctl-ca}"
tls_dir="$state/tls"
applied="$state/entrypoint-spec.sha256"
ready="${LBCTL_READY_FILE:-/tmp/lbctl-ready}"

log() { echo "lbctl-entrypoint: $*" >&2; }

rm -f "$ready"
umask 077
mkdir -p "$tls_dir"
if [ ! -s "$tls_dir/cert.pem" ] || [ ! -s "$tls_dir/key.pem" ]; then
    log "making a self-signed TLS certificate in $tls_dir"
    openssl req -x509 -newkey rsa:2048 -nodes -sha256 -days 825 -subj "/CN=lbctl" \
        -addext "subjectAltName=DNS:localhost,DNS:lbctl,IP:127.0.0.1,IP:::1" \
        -keyout "$tls_dir/key.pem" -out "$tls_dir/cert.pem" 2>/dev/null
    chmod 0644 "$tls_dir/cert.pem"  # public; the key stays 0600
fi
umask 022

lbctl serve --listen "$listen" --tls-cert "$tls_dir/cert.pem" --tls-key "$tls_dir/key.pem" "$@" &
agent=$!
trap 'kill -TERM "$agent" 2>/dev/null || true' TERM INT

# The agent's own CLI talks to it over loopback, trusting the certificate above (httpx reads
# SSL_CERT_FILE); the token comes from LBCTL_TOKEN or the state dir's token file.
port="${listen##*:}"
LBCTL_URL="https://127.0.0.1:$port"
SSL_CERT_FILE="$tls_dir/cert.pem"
export LBCTL_URL SSL_CERT_FILE

# True while the agent runs (a zombie, exited but not yet waited for, counts as gone).
alive() {
    [ -r "/proc/$agent/status" ] && ! grep -q '^State:[[:space:]]*Z' "/proc/$agent/status"
}

stop_agent() {
    kill -TERM "$agent" 2>/dev/null || true
    wait "$agent" 2>/dev/null || true
}

wait_for_agent() {
    tries=0
    until curl -fsS -o /dev/null --max-time 2 --cacert "$SSL_CERT_FILE" "$LBCTL_URL/healthz" \
        2>/dev/null; do
        if ! alive; then
            status=0
            wait "$agent" || status=$?
            log "the agent exited (status $status) before answering"
            [ "$status" -ne 0 ] || status=1
            exit "$status"
        fi
        tries=$((tries + 1))
        if [ "$tries" -ge 120 ]; then
            log "the agent did not answer on $LBCTL_URL/healthz within 60 s"
            stop_agent
            exit 1
        fi
        sleep 0.5
    done
}

# The certificate of HAProxy's TLS frontend and the CA clients verify it with (step 1).
ensure_site_cert() {
    if [ -s "$state/certs/$site_cert.pem" ] && [ -s "$site_ca_dir/ca.pem" ]; then
        return 0
    fi
    log "making a self-signed CA and certificate $site_cert for HAProxy's TLS frontend"
    work="$(mktemp -d)"
    made=0
    if lbctl-site-tls "$work" lbctl localhost; then
        if lbctl cert put "$site_cert" "$work/site.pem" --message "entrypoint: self-signed CA"; then
            made=1
        fi
    fi
    if [ "$made" -ne 1 ]; then
        rm -rf "$work"
        log "could not make or keep certificate $site_cert (see above); stopping"
        stop_agent
        exit 1
    fi
    mkdir -p "$site_ca_dir"
    cp "$work/ca.pem" "$site_ca_dir/.ca.pem.tmp"
    chmod 0644 "$site_ca_dir/.ca.pem.tmp"
    mv "$site_ca_dir/.ca.pem.tmp" "$site_ca_dir/ca.pem"
    rm -rf "$work"
    log "clients verify HAProxy's TLS frontend with $site_ca_dir/ca.pem"
}

if [ -f "$spec_file" ] || [ -n "$site_cert" ]; then
    wait_for_agent
fi
if [ -n "$site_cert" ]; then
    ensure_site_cert
fi
if [ -f "$spec_file" ]; then
    sum="$(sha256sum "$spec_file" | cut -d' ' -f1)"
    if [ "$sum" = "$(cat "$applied" 2>/dev/null || true)" ]; then
        log "$spec_file is unchanged since it was applied; keeping the agent's current spec"
    else
        log "applying $spec_file"
        if ! lbctl apply "$spec_file"; then
            log "the agent refused $spec_file (see above); stopping"
            stop_agent
            exit 1
        fi
        echo "$sum" >"$applied"
    fi
else
    log "no spec file at $spec_file; the agent serves its state dir's spec (or the default)"
fi
touch "$ready"

# `wait` returns early when a trapped signal arrives: keep waiting until the agent is gone.
while :; do
    status=0
    wait "$agent" || status=$?
    if ! kill -0 "$agent" 2>/dev/null; then
        exit "$status"
    fi
done
