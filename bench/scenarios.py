"""What the benchmark measures (scenarios), what one run of one gives (measures), and the files they send."""
from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path

MiB = 1 << 20


@dataclass
class Scenario:
    name: str
    kind: str                       # "wrk", "upload" or "dd"
    service: str                    # whose memory and CPU matter (gateway, a service, bench-ceiling)
    path: str = ""
    method: str = "GET"
    body: bytes | None = None
    headers: dict[str, str] = field(default_factory=dict)
    connections: int = 32
    ceiling: str | None = None      # the ceiling scenario it is compared with (request scenarios: the best)
    also: str | None = None         # a second ceiling it is compared with (the same-settings bare Flask)
    is_ceiling: bool = False
    file_scenario: bool = False     # reported in MB/s
    marker: bool = False            # unique body per request, acknowledged ids collected
    upload: str = ""                # "multipart" or "put"
    size: int = 0                   # upload and dd sizes
    family: str = ""                # a scenario is skipped when its family does not answer
    subscribers: int = 0            # events: idle subscribers held open during the write load
    rate: float = 0.0               # events: writes per second
    peer_of: str = ""               # a peer's scenario (Kinto): the hipflask scenario it is compared with


@dataclass
class Measure:
    rps: float = 0.0
    mbps: float = 0.0
    p50_ms: float = 0.0
    p99_ms: float = 0.0
    errors: int = 0
    requests: int = 0
    mem_growth: int = 0
    peaks: dict[str, int] = field(default_factory=dict)
    cpu_us: dict[str, float] = field(default_factory=dict)
    detail: str = ""
    stack_rss: int = 0              # peak RSS of the whole stack during the run (one instant's sum)
    pss: dict[str, int] = field(default_factory=dict)  # PSS per service at the end of the run


STORE_BODY = json.dumps({
    "marker": "%MARKER%", "name": "pants", "number": 1, "price": 19.99, "in_stock": True,
    "tags": ["red", "cotton", "sale"], "note": "a benchmark item of about two hundred bytes, " + "x" * 30,
}).encode()
KV_VALUE = (b"hipflask benchmark value " * 41)[:1024]


BEST = "ceiling: bare Flask, best settings"
SAME = "ceiling: bare Flask"


def request(name: str, service: str, path: str, method: str = "GET", body: bytes | None = None,
            headers: dict[str, str] | None = None, **more) -> Scenario:
    """A request scenario, compared with both bare-Flask ceilings."""
    return Scenario(name, "wrk", service, path, method, body, headers or {}, ceiling=BEST, also=SAME,
                    family=service, **more)


def scenarios(file_size: int, big_size: int) -> list[Scenario]:
    range_header = {"Range": f"bytes={MiB}-{MiB + 65535}"}
    json_type, text_type = {"Content-Type": "application/json"}, {"Content-Type": "text/plain"}
    return [
        Scenario("ceiling: gateway ping", "wrk", "gateway", "/_gateway/ping", is_ceiling=True),
        Scenario(SAME, "wrk", "bench-ceiling", "/_bench/flask", is_ceiling=True),
        Scenario(BEST, "wrk", "bench-ceiling-best", "/_bench/flask-best", is_ceiling=True),
        request("GET /diagnostic", "diagnostic", "/diagnostic"),
        request("POST /store/<name>", "store", "/store/bench_post", "POST", STORE_BODY, json_type, marker=True),
        request("GET /store/<name>/<id>", "store", "/store/bench_item/{item_id}"),
        request("GET /store/<name> (100 items)", "store", "/store/bench_list"),
        request("POST /kv/<key> 1 KiB", "kv", "/kv/bench/post", "POST", KV_VALUE, text_type),
        request("PUT /kv/<key> 1 KiB", "kv", "/kv/bench/put", "PUT", KV_VALUE, text_type),
        request("GET /kv/<key> 1 KiB", "kv", "/kv/bench/get"),
        request("GET /render/hello.html?name=x", "render", "/render/hello.html?name=x"),
        # 1,995 idle + 5 active: the 2,000 streams one replica holds (EVENTS_MAX_SUBSCRIBERS' default)
        *(Scenario(f"events: {n} idle subscribers, 200 writes/s", "events", "events", subscribers=n, rate=200,
                   family="events") for n in (100, 1000, 1995)),
        Scenario(f"ceiling: nginx static {human(file_size)}", "wrk", "gateway", "/static/{static_name}",
                 connections=4, is_ceiling=True, file_scenario=True),
        Scenario(f"GET /fs/<path> {human(file_size)}", "wrk", "fs", "/fs/bench/download.bin", connections=4,
                 ceiling=f"ceiling: nginx static {human(file_size)}", file_scenario=True, family="fs"),
        Scenario("ceiling: nginx static Range 64 KiB", "wrk", "gateway", "/static/{static_name}",
                 headers=range_header, is_ceiling=True, file_scenario=True),
        Scenario("GET /fs/<path> Range 64 KiB", "wrk", "fs", "/fs/bench/download.bin", headers=range_header,
                 ceiling="ceiling: nginx static Range 64 KiB", file_scenario=True, family="fs"),
        Scenario(f"ceiling: dd {human(big_size)} conv=fsync", "dd", "fs", size=big_size, is_ceiling=True,
                 file_scenario=True),
        *(Scenario(f"upload {human(size)} {label}", "upload", "fs", f"/fs/bench/{prefix}-{upload}.bin",
                   upload=upload, size=size, ceiling=f"ceiling: dd {human(big_size)} conv=fsync",
                   file_scenario=True, family="fs")
          for size, prefix in ((file_size, "upload"), (big_size, "big"))
          for upload, label in (("multipart", "multipart (curl -F)"), ("put", "PUT (curl -T)"))),
    ]


KINTO_AUTH = {"Authorization": "Basic YmVuY2g6YmVuY2g="}  # bench:bench, as bench/kinto_peer.py seeds
KINTO_RECORDS = "{kinto_url}/v1/buckets/bench/collections/%s/records"


def kinto_scenarios() -> list[Scenario]:
    """Kinto on the same PostgreSQL (bench/kinto_peer.py), doing what the store scenarios do."""
    record = json.dumps({"data": json.loads(STORE_BODY)}).encode()
    return [
        Scenario("Kinto-PG: GET one record", "wrk", "bench-kinto", KINTO_RECORDS % "item" + "/{kinto_record_id}",
                 headers=KINTO_AUTH, ceiling=BEST, family="kinto", peer_of="GET /store/<name>/<id>"),
        Scenario("Kinto-PG: GET a 100-record list", "wrk", "bench-kinto", KINTO_RECORDS % "list", headers=KINTO_AUTH,
                 ceiling=BEST, family="kinto", peer_of="GET /store/<name> (100 items)"),
        Scenario("Kinto-PG: POST a record", "wrk", "bench-kinto", KINTO_RECORDS % "post", "POST", record,
                 {**KINTO_AUTH, "Content-Type": "application/json"}, ceiling=BEST, family="kinto",
                 peer_of="POST /store/<name>"),
    ]


def human(size: int) -> str:
    return f"{size // (1 << 30)} GiB" if size >= 1 << 30 and size % (1 << 30) == 0 else f"{size // MiB} MiB"


def make_file(path: Path, size: int) -> Path:
    """A file of random-looking bytes (a random MiB repeated), made once per size."""
    if path.exists() and path.stat().st_size == size:
        return path
    block = os.urandom(MiB)
    with open(path, "wb") as f:
        written = 0
        while written < size:
            chunk = block[:min(MiB, size - written)]
            f.write(chunk)
            written += len(chunk)
    return path
