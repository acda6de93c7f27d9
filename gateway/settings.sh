#!/bin/sh
# The gateway settings that are lists or switches, turned into nginx directives: prints NAME=value
# lines for the template (gateway/templates/hipflask.conf.template). Run by scripts/stack.py for the
# native gateway and sourced through 18-hipflask-settings.envsh by the image's entrypoint in
# compose, so both read RATE_LIMIT, RATE_LIMIT_BURST, UPLOAD_CONNECTIONS and TRUSTED_PROXIES the
# same way, and FS_DOWNLOAD_MEMO_SECONDS and USER_HEADER_NAME for the download memo. A wrong value prints a message naming the variable and exits 1.
set -eu

fail() { echo "gateway: $1" >&2; exit 1; }

rate=${RATE_LIMIT:-off}
burst=${RATE_LIMIT_BURST:-40}
uploads=${UPLOAD_CONNECTIONS:-0}
proxies=${TRUSTED_PROXIES:-}
memo=${FS_DOWNLOAD_MEMO_SECONDS:-1}
user_header=${USER_HEADER_NAME:-Uid}

case "$burst" in ''|*[!0-9]*) fail "RATE_LIMIT_BURST: expected a whole number, got '$burst'" ;; esac
case "$memo" in ''|*[!0-9]*) fail "FS_DOWNLOAD_MEMO_SECONDS: expected a whole number of seconds (0 for off), got '$memo'" ;; esac
# a memoised object-store answer is a presigned URL, valid 300 s (services/fs/fs/s3.py PRESIGN_SECONDS)
[ "$memo" -le 60 ] || fail "FS_DOWNLOAD_MEMO_SECONDS: at most 60 seconds, got '$memo'"
case "$user_header" in ''|*[!A-Za-z0-9-]*) fail "USER_HEADER_NAME: expected a header name (letters, digits, -), got '$user_header'" ;; esac
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

# The download memo (hipflask.conf): GET and HEAD of files go through it unless it is off; its key
# holds the user header, as nginx names it ($http_uid for Uid).
if [ "$memo" = 0 ]; then
    echo "GATEWAY_FS_READS=hipflask_fs"
    echo "GATEWAY_MEMO_VALIDITY=1s"
else
    echo "GATEWAY_FS_READS=hipflask_fs_memo/_fs_memo"
    echo "GATEWAY_MEMO_VALIDITY=${memo}s"
fi
echo "GATEWAY_USER_HEADER=\$http_$(echo "$user_header" | tr 'A-Z-' 'a-z_')"

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
