"""Every environment variable the code reads is in the README's one configuration table."""
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
READ = re.compile(r"""env\.(?:str|int|float|size|bool|choice|raw|secret)\(\s*"([A-Z][A-Z0-9_]+)"|"""
                  r"""environ\.get\("([A-Z][A-Z0-9_]+)\"""")
# WSGI environ keys, not environment variables
NOT_CONFIGURATION = {"RAW_URI", "REQUEST_URI", "CONTENT_LENGTH", "HTTP_TRANSFER_ENCODING", "REQUEST_METHOD",
                     "PATH_INFO"}


def configuration_table() -> str:
    readme = (ROOT / "README.md").read_text()
    return readme[readme.index("<!-- config-table -->"):readme.index("<!-- /config-table -->")]


def variables_read() -> set[str]:
    found = set()
    for path in [*(ROOT / "shared").rglob("*.py"), *(ROOT / "services").rglob("*.py")]:
        for match in READ.finditer(path.read_text()):
            found.add(match.group(1) or match.group(2))
    return found - NOT_CONFIGURATION


def test_every_variable_the_services_read_is_in_the_readme_table():
    table = configuration_table()
    missing = sorted(name for name in variables_read() if f"`{name}`" not in table)
    assert missing == []


def test_the_scan_finds_the_shared_settings():
    assert {"PORT", "LOG_LEVEL", "REDIS_URL", "USER_HEADER_NAME", "LOCAL_EVENT_SOURCES", "X_HOSTNAME",
            "APP_VERSION", "CURRENT_SHA", "SQLITE_VFS"} <= variables_read()
