"""Rendering: the two sandboxed environments (`.json` and the rest) over the template folders.

`.json` templates print every value escaped for a JSON string and their output is parsed before
it is returned: they produce valid JSON or fail with 422, never broken JSON. Templates whose name
ends in .html, .htm, .xml, .xhtml or .svg autoescape what they print. Every failure to compile or
render is a `TemplateFailed` (422) naming the template, the line and the reason. Compiled
templates are cached per process (`cache_size` per environment).
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from jinja2 import TemplateNotFound, TemplateSyntaxError, select_autoescape

from hipflask.errors import HipflaskError

from render.backend import TemplateLoader
from render.names import mimetype_for, split_name
from render.sandbox import Limits, RenderLimit, SafeEnvironment, check_time, deadline, json_finalize

_AUTOESCAPED = ("html", "htm", "xml", "xhtml", "svg")


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
class Rendered:
    body: bytes
    mimetype: str
    is_json: bool


def _reject_constant(constant: str) -> None:
    raise ValueError(f"{constant} is not JSON")


class Engine:
    """Compiles and renders the templates `loader` finds, within `limits`."""

    def __init__(self, loader: TemplateLoader, limits: Limits = Limits(), cache_size: int = 400):
        self.loader = loader
        self.limits = limits
        options = dict(loader=loader, auto_reload=True, cache_size=cache_size)
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
            raise TemplateFailed(exc.name or name, exc.lineno, exc.message or str(exc),
                                 code="template_syntax") from None
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
                                             code="render_limit")
                    check_time()
                    chunks.append(chunk)
            except HipflaskError:  # a TemplateFailed, or the store of an include failing (503): already an answer
                raise
            except RenderLimit as exc:
                raise self._failure(name, exc, code="render_limit") from None
            except TemplateSyntaxError as exc:
                raise TemplateFailed(exc.name or name, exc.lineno, exc.message or str(exc),
                                     code="template_syntax") from None
            except TemplateNotFound as exc:
                raise self._failure(name, exc, code="template_error",
                                    reason=f"template not found: {exc.name}") from None
            except RecursionError as exc:
                raise self._failure(name, exc, code="render_limit") from None
            except Exception as exc:  # any error raised by template code is the template's error
                raise self._failure(name, exc, code="template_error") from None
        text = "".join(chunks)
        try:
            body = text.encode("utf-8")
        except UnicodeEncodeError:
            body = text.encode("utf-8", "replace")
        if len(body) > limit:
            raise TemplateFailed(name, None, f"the output is longer than RENDER_MAX_OUTPUT ({limit})",
                                 code="render_limit")
        is_json = environment is self._json_env
        if is_json:
            try:
                json.loads(body, parse_constant=_reject_constant)
            except (ValueError, RecursionError) as exc:
                raise TemplateFailed(name, None, f"the output is not valid JSON ({exc})",
                                     code="invalid_json_output") from None
        return Rendered(body, mimetype_for(name), is_json)

    def compile(self, name: str, text: str) -> None:
        """Compile `text` as template `name`; TemplateFailed (422) when it has a syntax error."""
        try:
            self._environment(name).compile(text, name, name)
        except TemplateSyntaxError as exc:
            raise TemplateFailed(name, exc.lineno, exc.message or str(exc), code="template_syntax") from None
