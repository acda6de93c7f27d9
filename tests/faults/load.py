"""Concurrent write load through the gateway: every acknowledged write is recorded, to be read back.

Each thread writes to one family (store appends, kv puts, fs uploads), each write with content
of its own, and reads it back at once; `check()` reads every acknowledged write again at the end.
Loops are bounded by count and by the caller's `stop()`; traffic stays on 127.0.0.1.
"""
from __future__ import annotations

import threading
import uuid
from collections import Counter
from dataclasses import dataclass

import requests

FAMILIES = ("store", "kv", "fs")
TIMEOUT = 10


def fs_body(content: str) -> str:
    """An upload of a few KiB whose every line names the write."""
    return (content + "\n") * 64


@dataclass
class Check:
    family: str
    checked: int
    lost: int
    duplicated: int


class WriteLoad:
    def __init__(self, url: str, threads_per_family: int = 2, max_writes: int = 2000, pause: float = 0.02,
                 families: tuple[str, ...] = FAMILIES):
        self.url = url
        self.families = families
        self.tag = uuid.uuid4().hex[:10]
        self.user = {"Uid": f"faults-{self.tag}"}
        self.max_writes = max_writes
        self.pause = pause
        self.acknowledged: dict[str, list[tuple[str, str]]] = {family: [] for family in FAMILIES}
        self.failed: Counter[str] = Counter()
        self.stopping = threading.Event()
        self.lock = threading.Lock()
        self.threads = [threading.Thread(target=self.writer, args=(family, n), daemon=True)
                        for family in families for n in range(threads_per_family)]

    def __enter__(self) -> WriteLoad:
        for thread in self.threads:
            thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    def stop(self) -> None:
        self.stopping.set()
        for thread in self.threads:
            thread.join(TIMEOUT * 3)
        assert not any(thread.is_alive() for thread in self.threads), "a writer thread is stuck"

    def acknowledged_count(self, family: str | None = None) -> int:
        with self.lock:
            return sum(len(writes) for name, writes in self.acknowledged.items() if family in (None, name))

    def failures(self) -> int:
        with self.lock:
            return sum(self.failed.values())

    # ---- one write and its read-back ---------------------------------------------------------------
    def writer(self, family: str, thread: int) -> None:
        session = requests.Session()
        session.trust_env = False
        for n in range(self.max_writes):
            if self.stopping.is_set():
                return
            content = f"{self.tag}-{family}-{thread}-{n}"
            try:
                key = getattr(self, f"write_{family}")(session, content)
            except requests.RequestException:
                key = None
            if key is None:
                with self.lock:
                    self.failed[f"{family} write"] += 1
                self.stopping.wait(self.pause * 10)
                continue
            with self.lock:
                self.acknowledged[family].append((key, content))
            try:
                read_back = self.read(family, session, key) == content
            except requests.RequestException:
                read_back = False
            if not read_back:
                with self.lock:
                    self.failed[f"{family} read"] += 1
            self.stopping.wait(self.pause)

    def write_store(self, session: requests.Session, content: str) -> str | None:
        response = session.post(f"{self.url}/store/faults", json={"content": content}, headers=self.user,
                                timeout=TIMEOUT)
        return str(response.json()["id"]) if response.status_code == 200 else None

    def write_kv(self, session: requests.Session, content: str) -> str | None:
        response = session.put(f"{self.url}/kv/faults/{content}", data=content, headers={
            **self.user, "Content-Type": "text/plain"}, timeout=TIMEOUT)
        return content if response.status_code == 200 else None

    def write_fs(self, session: requests.Session, content: str) -> str | None:
        response = session.put(f"{self.url}/fs/faults/{self.tag}/{content}.txt", data=fs_body(content),
                               timeout=TIMEOUT)
        return content if response.status_code == 200 else None

    def read(self, family: str, session: requests.Session, key: str) -> str | None:
        if family == "store":
            response = session.get(f"{self.url}/store/faults/{key}", headers=self.user, timeout=TIMEOUT)
            return response.json().get("content") if response.status_code == 200 else None
        if family == "kv":
            response = session.get(f"{self.url}/kv/faults/{key}", headers=self.user, timeout=TIMEOUT)
            return response.text if response.status_code == 200 else None
        response = session.get(f"{self.url}/fs/faults/{self.tag}/{key}.txt", timeout=TIMEOUT)
        whole = response.status_code == 200 and response.text == fs_body(key)
        return key if whole else None

    # ---- the end: every acknowledged write, read again ---------------------------------------------
    def check(self) -> list[Check]:
        session = requests.Session()
        session.trust_env = False
        checks = []
        if "store" in self.families:
            checks.append(self.check_store(session))
        for family in ("kv", "fs"):
            if family in self.families:
                writes = self.acknowledged[family]
                lost = sum(1 for key, content in writes if self.read(family, session, key) != content)
                checks.append(Check(family, len(writes), lost, 0))
        return checks

    def check_store(self, session: requests.Session) -> Check:
        items = session.get(f"{self.url}/store/faults", headers=self.user, timeout=TIMEOUT).json()
        stored = Counter(item.get("content") for item in items)
        by_id = {str(item["id"]): item.get("content") for item in items}
        store = self.acknowledged["store"]
        return Check("store", len(store), sum(1 for key, content in store if by_id.get(key) != content),
                     sum(count - 1 for count in stored.values() if count > 1))
