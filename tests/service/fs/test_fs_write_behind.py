"""fs.write_behind: an upload's chunks reach the file in order, and a failed write is not lost."""
from __future__ import annotations

import errno

import pytest

from fs.write_behind import WriteBehind


def test_chunks_reach_the_file_whole_and_in_order(tmp_path):
    chunks = [bytes([n]) * (64 * 1024 + n) for n in range(40)]
    with open(tmp_path / "upload", "wb") as file:
        behind = WriteBehind(file)
        for chunk in chunks:
            behind.write(chunk)
        behind.drain()
    assert (tmp_path / "upload").read_bytes() == b"".join(chunks)


def test_a_buffer_the_caller_reuses_is_written_as_it_was(tmp_path):
    buffer = bytearray(b"a" * 4096)
    with open(tmp_path / "upload", "wb") as file:
        behind = WriteBehind(file)
        behind.write(buffer)
        buffer[:] = b"b" * 4096
        behind.drain()
    assert (tmp_path / "upload").read_bytes() == b"a" * 4096


def test_a_write_that_fails_is_raised_by_drain():
    with open("/dev/full", "wb", buffering=0) as file:  # every write: ENOSPC
        behind = WriteBehind(file)
        behind.write(b"x" * 4096)
        with pytest.raises(OSError) as failure:
            behind.drain()
    assert failure.value.errno == errno.ENOSPC


def test_writes_after_a_failure_raise_it_without_blocking():
    with open("/dev/full", "wb", buffering=0) as file:
        behind = WriteBehind(file)
        with pytest.raises(OSError):
            for _ in range(1000):  # more than the queue holds: the failure surfaces, nothing blocks
                behind.write(b"x" * 4096)
        with pytest.raises(OSError):
            behind.drain()
