#!/bin/sh
# The gateway settings that are lists or switches, turned into nginx directives: prints NAME=value
# lines for the template (gateway/templates/hipflask.conf.template). Run by scripts/stack.py for the
# native gateway and sourced through 18-hipflask-settings.envsh by the image's entrypoint in
# compose, so both read RATE_LIMIT, RATE_LIMIT_BURST, UPLOAD_CONNECTIONS and TRUSTED_PROXIES the
# same way. A wrong value prints a message naming the variable and exits 1.
set -eu

fail() { echo "gateway: $1" >&2; exit 1; }

rate=${RATE_LIMIT:-off}
burst=${RATE_LIMIT_BURST:-40}
uploads=${UPLOAD_CONNECTIONS:-0}
proxies=${TRUSTED_PROXIES:-}

case "$burst" in ''|*[!0-9]*) fail "RATE_LIMIT_BURST: expected a whole number, got '$burst'" ;; esac
case "$uploads" in ''|*[!0-9]*) fail "UPLOAD_CONNECTIONS: expected a whole number (0 for off), got '$uploads'" ;; esac

# Off is an unused zone: the template's maps give every request an empty key, which is never counted.
if [ "$rate" = off ]; then
    echo "GATEWAY_RATE=1r/s"
else
    echo "$rate" | grep -Eq '^[1-9][0-9]*r/[sm]$' || fail "RATE_LIMIT: expected off or a rate such as 20r/s or 600r/m, got '$rate'"
    echo "GATEWAY_RATE=$rate"
fi
echo "GATEWAY_RATE_BURST=$burst"
if [ "$uploads" = 0 ]; then
    echo "GATEWAY_UPLOAD_CONNECTIONS=1"
else
    echo "GATEWAY_UPLOAD_CONNECTIONS=$uploads"
fi

real_ip=""
for proxy in $(echo "$proxies" | tr ',' ' '); do
    echo "$proxy" | grep -Eq '^([0-9]{1,3}(\.[0-9]{1,3}){3}|[0-9A-Fa-f:]*:[0-9A-Fa-f:.]*)(/[0-9]{1,3})?$' \
        || fail "TRUSTED_PROXIES: expected addresses or CIDRs (10.0.0.0/8), got '$proxy'"
    real_ip="${real_ip}set_real_ip_from $proxy; "
done
if [ -n "$real_ip" ]; then
    real_ip="${real_ip}real_ip_header X-Forwarded-For; real_ip_recursive on;"
fi
echo "GATEWAY_REAL_IP=$real_ip"
