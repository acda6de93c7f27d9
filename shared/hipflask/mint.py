"""`hipflask-token`: print a token signed with the first key of AUTH_KEYS (or AUTH_KEYS_FILE).

    hipflask-token --ns alice --scope write --ttl 30d
    make token NS=alice SCOPE=write TTL=30d
"""
from __future__ import annotations

import argparse
import sys

from hipflask.config import ConfigError, Env
from hipflask.tokens import SCOPES, Keyring, parse_ttl


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="hipflask-token", description=__doc__.splitlines()[0])
    parser.add_argument("--ns", required=True, help="the namespace (the token's sub claim)")
    parser.add_argument("--scope", choices=SCOPES, default="read", help="read (default), write or admin")
    parser.add_argument("--ttl", default="1h", help="lifetime: 3600, 15m, 12h, 30d, 2w (default 1h)")
    args = parser.parse_args(argv)
    if not args.ns.strip():
        parser.error("--ns: name the namespace (make token NS=alice)")
    try:
        ttl = parse_ttl(args.ttl)
    except ValueError as exc:
        parser.error(f"--ttl: {exc}")
    try:
        keyring = Keyring.from_env(Env())
    except ConfigError as exc:
        print(f"hipflask-token: {exc}", file=sys.stderr)
        return 2
    if keyring.signing is None:
        print("hipflask-token: set AUTH_KEYS or AUTH_KEYS_FILE (<kid>:<secret>) to sign tokens", file=sys.stderr)
        return 2
    print(keyring.mint(args.ns, args.scope, ttl))
    return 0


if __name__ == "__main__":
    sys.exit(main())
