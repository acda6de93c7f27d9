"""The Jinja loader over the template folders, searched in order; a compiled template stays in use
while the file that would be chosen now is the one that was compiled (two `stat` calls)."""
from __future__ import annotations

import os
import stat
from collections.abc import Callable
from pathlib import Path

from jinja2 import TemplateNotFound

from render.backend import TemplateLoader
from render.names import BadTemplateName, split_name


def signature(st: os.stat_result) -> tuple:
    return (st.st_dev, st.st_ino, st.st_mtime_ns, st.st_size)


class FolderLoader(TemplateLoader):
    """Jinja loader over the folders in order; up to date while the same file would be chosen."""

    def __init__(self, folders: tuple[Path, ...]):
        self.folders = folders
        self._prefixes = tuple(str(folder) + os.sep for folder in folders)

    def candidates(self, segments: tuple[str, ...]) -> tuple[str, ...]:
        """The path of `segments` in every folder, in search order."""
        relative = os.path.join(*segments)
        return tuple(prefix + relative for prefix in self._prefixes)

    @staticmethod
    def resolve(paths: tuple[str, ...]) -> tuple[int, tuple] | None:
        """(index in `paths`, file signature) of the first regular file, None if there is none."""
        for index, path in enumerate(paths):
            try:
                st = os.stat(path)
            except (FileNotFoundError, NotADirectoryError):
                continue
            if stat.S_ISREG(st.st_mode):
                return index, signature(st)
        return None

    @staticmethod
    def read(paths: tuple[str, ...]) -> tuple[int, tuple, str] | None:
        """Like `resolve`, with the file's text (the signature is of the file that was read)."""
        for index, path in enumerate(paths):
            try:
                with open(path, "rb") as file:
                    st = os.fstat(file.fileno())
                    if not stat.S_ISREG(st.st_mode):
                        continue
                    data = file.read()
            except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
                continue
            return index, signature(st), data.decode("utf-8")
        return None

    def get_source(self, environment, template: str) -> tuple[str, str, Callable[[], bool]]:
        try:
            paths = self.candidates(split_name(template))
        except BadTemplateName:
            raise TemplateNotFound(template) from None
        found = self.read(paths)
        if found is None:
            raise TemplateNotFound(template)
        index, signature, text = found
        chosen = (index, signature)

        def uptodate() -> bool:
            return self.resolve(paths) == chosen

        return text, paths[index], uptodate

    def name_for(self, filename: str) -> str | None:
        for prefix in self._prefixes:
            if filename.startswith(prefix):
                return filename[len(prefix):].replace(os.sep, "/")
        return None
