"""The template folders: the user folder (`TEMPLATE_DIR`, default `<data dir>/templates`, shared by
every replica) searched before the built-in folder shipped with the service (`hello.html`,
`hello.json`). A user template shadows a built-in of the same name; deleting it brings the
built-in back.

Writes are atomic and durable (temporary file, fsync, rename, directory fsync): a reader sees the
old template or the new one, never a mix, and an acknowledged write survives a crash. Every write
also replaces the `.generation` file, so a cached render of any replica knows something changed.
"""
from __future__ import annotations

import os
import stat
import uuid
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from render.backend import not_deletable, path_conflict
from render.engine import TemplateFailed, TemplateMissing
from render.loader import FolderLoader, signature
from render.names import BadTemplateName, split_name

BUILTIN_DIR = Path(__file__).resolve().parent / "builtin"
GENERATION_FILE = ".generation"


def template_names(folder: Path) -> list[str]:
    """The template names of the files in `folder` and below (hidden files and folders skipped)."""
    names = []
    for root, dirs, files in os.walk(folder):
        dirs[:] = [d for d in dirs if not d.startswith(".")]
        for filename in files:
            name = os.path.relpath(os.path.join(root, filename), folder).replace(os.sep, "/")
            try:
                split_name(name)
            except BadTemplateName:
                continue
            names.append(name)
    return names


def listing(user: Iterable[str], builtin: Iterable[str]) -> list[dict[str, Any]]:
    """The entries of `TemplateStore.list` for these user and built-in names."""
    users = set(user)
    entries = [{"name": name, "folder": "user", "shadowed": False} for name in users]
    entries += [{"name": name, "folder": "builtin", "shadowed": name in users} for name in builtin]
    entries.sort(key=lambda entry: (entry["name"], entry["shadowed"]))
    return entries


def _fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class TemplateFolders:
    """The user and built-in folders, and the loader that searches them in that order."""

    def __init__(self, user_dir: Path, builtin_dir: Path = BUILTIN_DIR):
        self.user_dir = Path(os.path.abspath(user_dir))
        self.builtin_dir = Path(os.path.abspath(builtin_dir))
        self.loader = FolderLoader((self.user_dir, self.builtin_dir))
        self._generation_path = str(self.user_dir / GENERATION_FILE)

    def refresh(self) -> None:
        """Nothing to learn: every render checks the files themselves (two `stat` calls)."""

    def version(self, name: str) -> str:
        """A string that changes whenever `name`'s file or any template written here changes."""
        found = self.loader.resolve(self.loader.candidates(split_name(name)))
        try:
            generation = signature(os.stat(self._generation_path))
        except FileNotFoundError:
            generation = None
        return repr((found, generation))

    # -- reading

    def source(self, name: str) -> tuple[str, str]:
        """(text, "user" or "builtin") of template `name`; TemplateMissing when there is none."""
        try:
            found = self.loader.read(self.loader.candidates(split_name(name)))
        except UnicodeDecodeError:
            raise TemplateFailed(name, None, "the template is not valid UTF-8") from None
        if found is None:
            raise TemplateMissing(name)
        return found[2], "user" if found[0] == 0 else "builtin"

    def list(self) -> list[dict[str, Any]]:
        """Every template, sorted by name: `{"name", "folder", "shadowed"}`; a built-in that a
        user template of the same name hides is listed with `"shadowed": true`."""
        return listing(template_names(self.user_dir), template_names(self.builtin_dir))

    # -- writing

    def write(self, name: str, text: str) -> bool:
        """Store `text` as user template `name`; True when it is new. The write is atomic and
        durable when this returns."""
        segments = split_name(name)
        path = self.user_dir.joinpath(*segments)
        try:
            self._make_dirs(path.parent)
            created = not path.exists()
            self._write_atomically(path, text.encode("utf-8"))
        except (NotADirectoryError, IsADirectoryError, FileExistsError):
            raise path_conflict(name) from None
        self._bump_generation()
        return created

    def delete(self, name: str) -> None:
        """Remove user template `name`. A built-in cannot be deleted (403); a missing one is 404."""
        segments = split_name(name)
        path = self.user_dir.joinpath(*segments)
        try:
            if not stat.S_ISREG(os.stat(path).st_mode):
                raise FileNotFoundError(path)
            os.unlink(path)
        except (FileNotFoundError, NotADirectoryError):
            raise not_deletable(name, self.loader.resolve(self.loader.candidates(segments)) is not None) from None
        _fsync_dir(path.parent)
        self._bump_generation()

    def _make_dirs(self, folder: Path) -> None:
        created = []
        current = folder
        while not current.exists():
            created.append(current)
            current = current.parent
        folder.mkdir(parents=True, exist_ok=True)
        for made in reversed(created):
            _fsync_dir(made.parent)

    def _write_atomically(self, path: Path, data: bytes) -> None:
        temporary = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
        try:
            with open(temporary, "xb") as file:
                file.write(data)
                file.flush()
                os.fsync(file.fileno())
            os.replace(temporary, path)
        except BaseException:
            temporary.unlink(missing_ok=True)
            raise
        _fsync_dir(path.parent)

    def _bump_generation(self) -> None:
        self._write_atomically(Path(self._generation_path), uuid.uuid4().hex.encode())

    # -- health

    def ready(self) -> bool:
        """The user folder is a directory and the built-in templates are there."""
        if not self.user_dir.is_dir():
            raise RuntimeError(f"the template folder {self.user_dir} is missing")
        return (self.builtin_dir / "hello.html").is_file()
