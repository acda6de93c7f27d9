#!/bin/sh
# Run by the nginx image's entrypoint before nginx starts: the upstream blocks as the services'
# names resolve now, then the watcher that keeps them current (gateway/upstreams.sh), and no stale
# socket of the download memo from a killed nginx (it would stop the start).
set -eu
rm -f "${GATEWAY_MEMO_SOCKET:-/run/hipflask-gateway-memo.sock}"
/usr/local/bin/hipflask-gateway-upstreams once
/usr/local/bin/hipflask-gateway-upstreams watch &
