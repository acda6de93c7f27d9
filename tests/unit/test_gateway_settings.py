"""gateway/settings.sh: the gateway's list and switch settings turned into template values, a wrong
value refused with a message naming the variable (the native stack and the image both run it)."""
import os
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def settings(**env: str) -> subprocess.CompletedProcess:
    return subprocess.run(["sh", str(ROOT / "gateway" / "settings.sh")], env={**os.environ, **env},
                          capture_output=True, text=True)


def test_the_download_memo_keeps_answers_for_the_seconds_given():
    assert "GATEWAY_MEMO_VALIDITY=60s" in settings(FS_DOWNLOAD_MEMO_SECONDS="60").stdout.splitlines()


def test_a_memo_longer_than_a_minute_is_refused_naming_the_variable():
    """A memoised object-store answer is a presigned URL valid 300 s: the memo stays far shorter."""
    result = settings(FS_DOWNLOAD_MEMO_SECONDS="61")
    assert result.returncode == 1
    assert "FS_DOWNLOAD_MEMO_SECONDS" in result.stderr
