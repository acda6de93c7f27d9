"""hipflask.error_codes: every code raised anywhere is listed, and the README shows the same table."""
import re
from pathlib import Path

from hipflask.error_codes import ERROR_CODES

ROOT = Path(__file__).resolve().parents[2]
SOURCES = sorted([*(ROOT / "shared").rglob("*.py"), *(ROOT / "services").rglob("*.py")])
GATEWAY = sorted((ROOT / "gateway").rglob("*.template"))
# `HipflaskError(409, "exists", ...)`, `super().__init__(409, "exists", ...)`, `error_response(500, "internal_error"`
RAISED_WITH_STATUS = re.compile(r"(?:HipflaskError|__init__|error_response)\(\s*(\d{3}),\s*\"(\w+)\"")
# `code="bad_partition"` in a call, `code: str = "template_error"` in a signature
RAISED_AS_KEYWORD = re.compile(r"\bcode(?::\s*str)?\s*=\s*\"(\w+)\"")
FORMATTED = re.compile(r"(?:HipflaskError|__init__|error_response)\(\s*\d{3},\s*f[\"']")
GATEWAY_ERROR = re.compile(r"\"status\":(\d{3}),\"code\":\"(\w+)\"")
README_ROW = re.compile(r"^\| `(\w+)` \| (\d{3}) \| (.+) \|$", re.MULTILINE)


def _raised() -> dict[str, set[tuple[str, int | None]]]:
    raised: dict[str, set[tuple[str, int | None]]] = {}
    for path in SOURCES + GATEWAY:
        text = path.read_text()
        where = str(path.relative_to(ROOT))
        pattern = GATEWAY_ERROR if path in GATEWAY else RAISED_WITH_STATUS
        for status, code in pattern.findall(text):
            raised.setdefault(code, set()).add((where, int(status)))
        if path not in GATEWAY:
            for code in RAISED_AS_KEYWORD.findall(text):
                raised.setdefault(code, set()).add((where, None))
    return raised


def test_every_code_raised_is_in_the_table():
    raised = _raised()
    assert len(raised) > 20, "the search for raised codes found almost nothing: its patterns are stale"
    missing = {code: sorted(places) for code, places in raised.items() if code not in ERROR_CODES}
    assert not missing, f"add these codes to hipflask/error_codes.py and the README: {missing}"


def test_every_code_is_raised_with_the_status_the_table_gives():
    gateway_alternatives = {"service_unavailable": {503}}
    wrong = [(code, where, status) for code, places in _raised().items() if code in ERROR_CODES
             for where, status in places
             if status is not None and status != ERROR_CODES[code].status
             and status not in gateway_alternatives.get(code, set())]
    assert not wrong


def test_no_code_is_formatted_where_it_is_raised():
    formatted = [str(path.relative_to(ROOT)) for path in SOURCES if FORMATTED.search(path.read_text())]
    assert not formatted, "write each code as a string literal (or a code=\"...\" argument) so this test finds it"


def test_readme_lists_the_same_table():
    readme = (ROOT / "README.md").read_text()
    section = readme.split("<!-- error-codes -->")[1].split("<!-- /error-codes -->")[0]
    listed = {code: (int(status), meaning) for code, status, meaning in README_ROW.findall(section)}
    expected = {code: (entry.status, entry.meaning) for code, entry in ERROR_CODES.items()}
    rows = "\n".join(f"| `{code}` | {status} | {meaning} |" for code, (status, meaning) in expected.items()
                     if listed.get(code) != (status, meaning))
    assert listed == expected, f"the README's error-code table should hold these rows:\n{rows}"
