"""The benchmark's messages on stderr (stdout carries the report)."""
import sys


def log(message: str) -> None:
    print(f"bench: {message}", file=sys.stderr, flush=True)
