"""The render service's templates: where they live, how they are named, rendered, stored and listed.

Two folders, searched in order: the user folder (`TEMPLATE_DIR`, default `<data dir>/templates`,
shared by every replica) and the built-in folder shipped with the service (`hello.html`,
`hello.json`). A user template shadows a built-in of the same name; deleting it brings the
built-in back.

Names are `/`-separated relative paths. A name with an empty segment, a segment starting with `.`
(so `..` and hidden files), a backslash, `%`, a control character or a leading `/` is refused
(`BadTemplateName`, 400) before any file is touched; includes and extends follow the same rule.

Compiled templates are cached per process. Each render checks (two `stat` calls) that the file
that would be chosen now is the one that was compiled: a template written, replaced or deleted
by any replica is used by the very next render. Writes are atomic and durable (temporary file,
fsync, rename, directory fsync): a reader sees the old template or the new one, never a mix, and
an acknowledged write survives a crash.

`.json` templates print every value escaped for a JSON string and their output is parsed before
it is returned: they produce valid JSON or fail with 422, never broken JSON. Templates whose name
ends in .html, .htm, .xml, .xhtml or .svg autoescape what they print. Every failure to compile or
render is a `TemplateFailed` (422) naming the template, the line and the reason.
"""
from __future__ import annotations

import functools
import json
import mimetypes
import os
import re
import stat
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from flask import Flask
from jinja2 import BaseLoader, TemplateNotFound, TemplateSyntaxError, select_autoescape

from hipflask.config import ConfigError, Env
from hipflask.errors import HipflaskError
from hipflask.health import add_ready_check
from render.sandbox import Limits, RenderLimit, SafeEnvironment, check_time, deadline, json_finalize

BUILTIN_DIR = Path(__file__).resolve().parent / "builtin"
GENERATION_FILE = ".generation"
MAX_NAME_LENGTH = 1024
MAX_SEGMENT_LENGTH = 255
_BAD_NAME_CHARACTER = re.compile(r"[\x00-\x1f\x7f\\%]")
_AUTOESCAPED = ("html", "htm", "xml", "xhtml", "svg")


class BadTemplateName(HipflaskError):
    def __init__(self, name: str, reason: str):
        super().__init__(400, "bad_template_name", f"template name {name!r} is refused: {reason}")


class TemplateMissing(LookupError):
    """No template folder holds `name`."""

    def __init__(self, name: str):
        super().__init__(name)
        self.name = name


class TemplateFailed(HipflaskError):
    """A template that does not compile or render, or whose output is refused (422)."""

    def __init__(self, template: str, line: int | None, reason: str, code: str = "template_error"):
        where = f"{template}, line {line}" if line else template
        super().__init__(422, code, f"{where}: {reason}", extra={"template": template, "line": line})
        self.template = template
        self.line = line
        self.reason = reason


@dataclass(frozen=True)
class Access:
    """Who may write templates and how long GET renders are cached."""

    token: str | None
    cache_seconds: int


@dataclass(frozen=True)
class Rendered:
    body: bytes
    mimetype: str
    is_json: bool


def split_name(name: str) -> tuple[str, ...]:
    """The segments of a template name; BadTemplateName when the name could leave the folders."""
    if not name:
        raise BadTemplateName(name, "it is empty")
    if len(name) > MAX_NAME_LENGTH:
        raise BadTemplateName(name[:64] + "...", f"it is longer than {MAX_NAME_LENGTH} characters")
    if _BAD_NAME_CHARACTER.search(name):
        raise BadTemplateName(name, "backslashes, % and control characters are not allowed")
    segments = tuple(name.split("/"))
    for segment in segments:
        if segment == "":
            raise BadTemplateName(name, "it is absolute or has an empty segment")
        if segment.startswith("."):
            raise BadTemplateName(name, "a segment starts with '.'")
        if len(segment.encode("utf-8", "surrogatepass")) > MAX_SEGMENT_LENGTH:
            raise BadTemplateName(name, f"a segment is longer than {MAX_SEGMENT_LENGTH} bytes")
    return segments


@functools.lru_cache(maxsize=256)
def mimetype_for(name: str) -> str:
    """The content type of a template's output, from its extension (text/plain when unknown)."""
    lowered = name.lower()
    if lowered.endswith(".json"):
        return "application/json"
    if lowered.endswith((".html", ".htm")):
        return "text/html"
    return mimetypes.guess_type(lowered, strict=False)[0] or "text/plain"


def _signature(st: os.stat_result) -> tuple:
    return (st.st_dev, st.st_ino, st.st_mtime_ns, st.st_size)


def _fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _reject_constant(constant: str) -> None:
    raise ValueError(f"{constant} is not JSON")


class _FolderLoader(BaseLoader):
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
                return index, _signature(st)
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
            return index, _signature(st), data.decode("utf-8")
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


class Templates:
    """The template folders and the two sandboxed environments that render them."""

    def __init__(self, user_dir: Path, builtin_dir: Path = BUILTIN_DIR, limits: Limits = Limits(),
                 cache_size: int = 400):
        self.user_dir = Path(os.path.abspath(user_dir))
        self.builtin_dir = Path(os.path.abspath(builtin_dir))
        self.limits = limits
        self.loader = _FolderLoader((self.user_dir, self.builtin_dir))
        self._generation_path = str(self.user_dir / GENERATION_FILE)
        options = dict(loader=self.loader, auto_reload=True, cache_size=cache_size)
        self._json_env = SafeEnvironment(limits, autoescape=False, finalize=json_finalize, **options)
        self._text_env = SafeEnvironment(
            limits, autoescape=select_autoescape(_AUTOESCAPED, default_for_string=False, default=False), **options)

    def _environment(self, name: str) -> SafeEnvironment:
        return self._json_env if name.lower().endswith(".json") else self._text_env

    def _failure(self, name: str, exc: BaseException, code: str, reason: str | None = None) -> TemplateFailed:
        template, line = name, None
        tb = exc.__traceback__
        while tb is not None:
            found = self.loader.name_for(tb.tb_frame.f_code.co_filename)
            if found is not None:
                template, line = found, tb.tb_lineno
            tb = tb.tb_next
        return TemplateFailed(template, line, reason or str(exc) or type(exc).__name__, code)

    # -- rendering

    def render(self, name: str, data: dict[str, Any]) -> Rendered:
        """Render template `name` with `data`.

        Raises BadTemplateName (400) for a refused name, TemplateMissing when no folder holds it,
        and TemplateFailed (422) for a syntax error, a render error, a passed limit
        (`render_limit`) or a `.json` template whose output is not JSON (`invalid_json_output`).
        """
        split_name(name)
        environment = self._environment(name)
        try:
            template = environment.get_template(name)
        except TemplateNotFound:
            raise TemplateMissing(name) from None
        except TemplateSyntaxError as exc:
            raise TemplateFailed(exc.name or name, exc.lineno, exc.message or str(exc), "template_syntax") from None
        except UnicodeDecodeError:
            raise TemplateFailed(name, None, "the template is not valid UTF-8") from None
        limit = self.limits.max_output
        chunks = []
        size = 0
        with deadline(self.limits.timeout):
            try:
                for chunk in template.generate(data):
                    size += len(chunk)
                    if size > limit:
                        raise TemplateFailed(name, None, f"the output is longer than RENDER_MAX_OUTPUT ({limit})",
                                             "render_limit")
                    check_time()
                    chunks.append(chunk)
            except TemplateFailed:
                raise
            except RenderLimit as exc:
                raise self._failure(name, exc, "render_limit") from None
            except TemplateSyntaxError as exc:
                raise TemplateFailed(exc.name or name, exc.lineno, exc.message or str(exc), "template_syntax") from None
            except TemplateNotFound as exc:
                raise self._failure(name, exc, "template_error", f"template not found: {exc.name}") from None
            except RecursionError as exc:
                raise self._failure(name, exc, "render_limit") from None
            except Exception as exc:  # any error raised by template code is the template's error
                raise self._failure(name, exc, "template_error") from None
        text = "".join(chunks)
        try:
            body = text.encode("utf-8")
        except UnicodeEncodeError:
            body = text.encode("utf-8", "replace")
        if len(body) > limit:
            raise TemplateFailed(name, None, f"the output is longer than RENDER_MAX_OUTPUT ({limit})", "render_limit")
        is_json = environment is self._json_env
        if is_json:
            try:
                json.loads(body, parse_constant=_reject_constant)
            except ValueError as exc:
                raise TemplateFailed(name, None, f"the output is not valid JSON ({exc})", "invalid_json_output") from None
        return Rendered(body, mimetype_for(name), is_json)

    def version(self, name: str) -> str:
        """A string that changes whenever `name`'s file or any template written here changes."""
        found = self.loader.resolve(self.loader.candidates(split_name(name)))
        try:
            generation = _signature(os.stat(self._generation_path))
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
        entries = []
        seen = set()
        for label, folder in (("user", self.user_dir), ("builtin", self.builtin_dir)):
            for root, dirs, files in os.walk(folder):
                dirs[:] = [d for d in dirs if not d.startswith(".")]
                for filename in files:
                    name = os.path.relpath(os.path.join(root, filename), folder).replace(os.sep, "/")
                    try:
                        split_name(name)
                    except BadTemplateName:
                        continue
                    entries.append({"name": name, "folder": label, "shadowed": name in seen})
            seen.update(entry["name"] for entry in entries)
        entries.sort(key=lambda entry: (entry["name"], entry["shadowed"]))
        return entries

    # -- writing

    def compile(self, name: str, text: str) -> None:
        """Compile `text` as template `name`; TemplateFailed (422) when it has a syntax error."""
        try:
            self._environment(name).compile(text, name, name)
        except TemplateSyntaxError as exc:
            raise TemplateFailed(name, exc.lineno, exc.message or str(exc), "template_syntax") from None

    def put(self, name: str, text: str) -> bool:
        """Store `text` as user template `name` after compiling it; True when it is new.

        A syntax error raises TemplateFailed and leaves any previous template untouched. The
        write is atomic and durable when this returns.
        """
        segments = split_name(name)
        self.compile(name, text)
        path = self.user_dir.joinpath(*segments)
        try:
            self._make_dirs(path.parent)
            created = not path.exists()
            self._write_atomically(path, text.encode("utf-8"))
        except (NotADirectoryError, IsADirectoryError, FileExistsError):
            raise HipflaskError(409, "template_path_conflict",
                                f"{name!r} collides with a folder or a file of the same name") from None
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
            if self.loader.resolve(self.loader.candidates(segments)) is not None:
                raise HipflaskError(403, "builtin_template",
                                    f"{name} is a built-in template; built-in templates cannot be deleted") from None
            raise HipflaskError(404, "template_not_found", f"No Template {name}") from None
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


def init_app(app: Flask, env: Env) -> None:
    """Read the render service's settings: its `Templates` on app.extensions["render"], the write
    token and the cache lifetime on app.extensions["render.access"]."""
    settings = app.extensions["hipflask"]
    user_dir = Path(env.str("TEMPLATE_DIR", str(settings.data_dir / "templates")))
    try:
        user_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigError(f"TEMPLATE_DIR: cannot create the template folder {user_dir}: {exc}") from None
    limits = Limits(
        max_output=env.size("RENDER_MAX_OUTPUT", "1m"),
        max_range=env.int("RENDER_MAX_RANGE", 10000, minimum=1),
        timeout=env.float("RENDER_TIMEOUT", 2.0, minimum=0.001),
    )
    templates = Templates(user_dir, limits=limits, cache_size=env.int("RENDER_TEMPLATE_CACHE_SIZE", 400, minimum=0))
    app.extensions["render"] = templates
    app.extensions["render.access"] = Access(token=env.raw("RENDER_TOKEN"),
                                             cache_seconds=env.int("RENDER_CACHE_SECONDS", 0, minimum=0))
    add_ready_check(app, "templates", templates.ready)
