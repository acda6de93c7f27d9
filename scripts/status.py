#!/usr/bin/env python3
"""Print hipflask's /diagnostic summary as a short table: service, status, version, latency."""
import json
import sys
import urllib.error
import urllib.request


def main(base: str) -> int:
    try:
        with urllib.request.urlopen(f"{base}/diagnostic", timeout=5) as response:
            body = json.load(response)
    except urllib.error.HTTPError as error:
        body = json.load(error)
    except OSError as error:
        print(f"hipflask is not answering at {base}: {error}")
        return 1
    print(f"{'service':<12} {'status':<8} {'version':<16} {'latency':>9}")
    for name, check in body["checks"].items():
        print(f"{name:<12} {check['status']:<8} {str(check.get('version') or '-'):<16} {check['latency_ms']:>7.1f}ms")
    print(f"overall: {body['message']}")
    return 0 if body["message"] == "ok" else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else "http://127.0.0.1:8080"))
