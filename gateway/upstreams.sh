#!/bin/sh
# Compose and Swarm: the gateway's upstream blocks, one per service, with every address its name
# resolves to (each replica: compose's --scale, Swarm's dnsrr tasks) and a keepalive pool, so
# requests reuse upstream connections and replicas that come and go are still seen.
#
#   upstreams.sh once    write GATEWAY_UPSTREAMS_CONF (at the container's start, before nginx)
#   upstreams.sh watch   every GATEWAY_RESOLVE_SECONDS, resolve again; when the set of addresses
#                        changed, rewrite the file and `nginx -s reload` (graceful: old workers finish
#                        their requests)
#
# A name that does not resolve (yet) gets a placeholder server marked down: its requests answer the
# gateway's JSON 502 service_unavailable until the watcher sees the name. The services' addresses
# are the *_BACKEND settings (host:port, e.g. STORE_BACKEND=store:8000; tasks.store:8000 for a Swarm
# service on a virtual IP), handed over as HIPFLASK_*_ADDRESS by 19-hipflask-upstreams.envsh.
# Natively the upstreams are fixed (gateway/nginx.native.conf.template).
set -eu

conf=${GATEWAY_UPSTREAMS_CONF:-/etc/nginx/conf.d/hipflask-upstreams.conf}
interval=${GATEWAY_RESOLVE_SECONDS:-2}
case "$interval" in ''|*[!0-9]*|0) echo "gateway: GATEWAY_RESOLVE_SECONDS: expected a whole number of seconds (1 or more), got '$interval'" >&2; exit 1 ;; esac

state=$conf.last
mkdir -p "$state"

upstream() {  # upstream NAME HOST:PORT
    host=${2%:*}
    port=${2##*:}
    # A lookup that does not answer within a second keeps the addresses of the last answer (a DNS
    # hiccup must not take replicas away); a name that does not exist has none.
    if found=$(timeout 1 getent ahostsv4 "$host"); then
        echo "$found" | awk '{ print $1 }' | sort -u -t . -k 1,1n -k 2,2n -k 3,3n -k 4,4n > "$state/$1"
    elif [ $? = 2 ] || [ ! -f "$state/$1" ]; then
        : > "$state/$1"
    fi
    addresses=$(cat "$state/$1")
    echo "upstream hipflask_$1 {"
    if [ -z "$addresses" ]; then
        echo "    server 127.0.0.1:$port down;  # $host does not resolve (yet)"
    else
        for address in $addresses; do
            echo "    server $address:$port;"
        done
    fi
    echo "    keepalive 64;"
    echo "}"
}

render() {
    echo "# Written by hipflask-gateway-upstreams from the services' names; rewritten when they resolve differently."
    upstream diagnostic "${HIPFLASK_DIAGNOSTIC_ADDRESS:-diagnostic:8000}"
    upstream store "${HIPFLASK_STORE_ADDRESS:-store:8000}"
    upstream kv "${HIPFLASK_KV_ADDRESS:-kv:8000}"
    upstream fs "${HIPFLASK_FS_ADDRESS:-fs:8000}"
    upstream render "${HIPFLASK_RENDER_ADDRESS:-render:8000}"
    upstream events "${HIPFLASK_EVENTS_ADDRESS:-events:8000}"
    upstream bench "${HIPFLASK_BENCH_ADDRESS:-bench-ceiling:8000}"
}

write() {  # write: 0 when the file changed
    render > "$conf.new"
    if cmp -s "$conf.new" "$conf"; then
        rm -f "$conf.new"
        return 1
    fi
    mv -f "$conf.new" "$conf"
}

case "${1:-}" in
    once)
        write || true
        ;;
    watch)
        pending=0
        while :; do
            sleep "$interval"
            if write; then
                pending=1
                echo "gateway: the services' addresses changed; reloading" >&2
            fi
            # A reload that failed (nginx still starting) is tried again on the next round.
            if [ "$pending" = 1 ] && nginx -s reload 2>/dev/null; then
                pending=0
            fi
        done
        ;;
    *)
        echo "usage: $0 once|watch" >&2
        exit 2
        ;;
esac
