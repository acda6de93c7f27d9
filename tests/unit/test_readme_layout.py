"""The README's Layout names folders and modules that exist."""
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
FAMILIES = ("diagnostic", "events", "fs", "kv", "render", "store")


def layout_rows() -> dict[str, str]:
    readme = (ROOT / "README.md").read_text()
    section = readme[readme.index("## Layout"):]
    return dict(re.findall(r"^\| `([^`]+)` \| (.+) \|$", section, re.MULTILINE))


def test_every_folder_in_the_layout_exists():
    for folder in layout_rows():
        paths = [folder.replace("<family>", family) for family in FAMILIES] if "<family>" in folder else [folder]
        for path in paths:
            assert (ROOT / path).exists(), path


def test_every_module_the_layout_names_exists():
    rows = layout_rows()
    for name in re.findall(r"`(\w+\.py)`", rows["shared/hipflask/"]):
        assert (ROOT / "shared/hipflask" / name).is_file(), name
    for family_path in re.findall(r"`(\w+/\w+\.py)`", rows["services/<family>/<family>/"]):
        family, module = family_path.split("/")
        assert (ROOT / "services" / family / family / module).is_file(), family_path
    for name in re.findall(r"`(\w+\.\w+)`", rows["static/"]):
        assert (ROOT / "static" / name).is_file(), name
