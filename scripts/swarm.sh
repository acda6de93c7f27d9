#!/usr/bin/env bash
# hipflask on Docker Swarm (deploy/swarm.yml):
#   scripts/swarm.sh up       build the images, init a single-node swarm if there is none, make the
#                             missing secrets (random values), deploy, wait until /diagnostic is 200
#   scripts/swarm.sh down     remove the stack and wait until its services and network are gone
#   scripts/swarm.sh purge    down, then remove the stack's volumes and secrets too (all its data)
#   scripts/swarm.sh status   the stack's services and their replicas
# SWARM_STACK (default hipflask) names the stack and starts its secrets' names, GATEWAY_PORT (8080)
# the published port, IMAGE_PREFIX (hipflask) the images `docker compose build` tags. A secret is
# made only when missing: RENDER_TOKEN, when set, is the value of a new <stack>_render_token.
set -euo pipefail
cd "$(dirname "$0")/.."
STACK=${SWARM_STACK:-hipflask}
PORT=${GATEWAY_PORT:-8080}
COMPOSE=${COMPOSE:-docker compose}
TIMEOUT=${SWARM_TIMEOUT:-240}
export GATEWAY_PORT=$PORT SWARM_STACK=$STACK

say() { echo "swarm: $*"; }

random() { head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n'; }

secret() {  # secret NAME VALUE: create it unless it exists (labelled with the stack, for purge)
    if ! docker secret inspect "$1" >/dev/null 2>&1; then
        printf '%s' "$2" | docker secret create --label "hipflask.stack=$STACK" "$1" - >/dev/null
        say "made secret $1"
    fi
}

wait_until() {  # wait_until SECONDS WHAT COMMAND...
    local deadline=$((SECONDS + $1)) what=$2
    shift 2
    until "$@" >/dev/null 2>&1; do
        if [ $SECONDS -ge $deadline ]; then
            say "timed out after ${TIMEOUT}s waiting for $what"
            return 1
        fi
        sleep 1
    done
}

converged() {  # every service of the stack runs all its replicas
    local lines
    lines=$(docker service ls --filter "label=com.docker.stack.namespace=$STACK" --format '{{.Replicas}}')
    [ -n "$lines" ] && ! grep -vqE '^([0-9]+)/\1( |$)' <<<"$lines"
}

healthy() {
    python3 -c "import sys, urllib.request; sys.exit(urllib.request.urlopen('http://127.0.0.1:$PORT/diagnostic', timeout=3).status != 200)"
}

gone() {
    [ -z "$(docker service ls -q --filter "label=com.docker.stack.namespace=$STACK")" ] &&
        [ -z "$(docker network ls -q --filter "label=com.docker.stack.namespace=$STACK")" ]
}

case "${1:-}" in
up)
    $COMPOSE build --quiet
    if [ "$(docker info --format '{{.Swarm.LocalNodeState}}')" != "active" ]; then
        address=${SWARM_ADVERTISE_ADDR:-$(ip -4 route get 1.1.1.1 2>/dev/null | awk '{for (i = 1; i < NF; i++) if ($i == "src") print $(i + 1)}')}
        docker swarm init ${address:+--advertise-addr "$address"} >/dev/null
        say "initialised a single-node swarm${address:+ on $address}"
    fi
    if ! docker secret inspect "${STACK}_postgres_password" >/dev/null 2>&1; then
        password=$(random)
        secret "${STACK}_postgres_password" "$password"
        docker secret rm "${STACK}_database_url" >/dev/null 2>&1 || true
        secret "${STACK}_database_url" "postgresql://hipflask:$password@postgres:5432/hipflask"
    fi
    secret "${STACK}_s3_access_key" "$(random)"
    secret "${STACK}_s3_secret_key" "$(random)"
    secret "${STACK}_render_token" "${RENDER_TOKEN:-$(random)}"
    docker stack deploy --detach=true --resolve-image never --prune -c deploy/swarm.yml "$STACK" >/dev/null
    say "deployed $STACK; waiting for every replica and http://127.0.0.1:$PORT/diagnostic"
    wait_until "$TIMEOUT" "every replica of $STACK" converged
    wait_until "$TIMEOUT" "/diagnostic to answer 200" healthy
    say "$STACK is up at http://127.0.0.1:$PORT"
    ;;
down)
    docker stack rm "$STACK" >/dev/null 2>&1 || true
    wait_until "$TIMEOUT" "$STACK to be removed" gone
    say "$STACK removed (its volumes and the secrets are kept: docker volume ls, docker secret ls)"
    ;;
purge)
    "$0" down
    volumes() { docker volume ls -q --filter "label=com.docker.stack.namespace=$STACK"; }
    # a removed task's container lets go of its volume a moment after the service is gone
    remove_volumes() { local names; names=$(volumes); [ -z "$names" ] || docker volume rm $names; [ -z "$(volumes)" ]; }
    wait_until "$TIMEOUT" "the volumes of $STACK to be removed" remove_volumes
    secrets=$(docker secret ls -q --filter "label=hipflask.stack=$STACK")
    [ -z "$secrets" ] || docker secret rm $secrets >/dev/null
    say "$STACK purged: its volumes and secrets are removed"
    ;;
status)
    docker stack services "$STACK"
    ;;
*)
    sed -n '2,10p' "$0" >&2
    exit 2
    ;;
esac
