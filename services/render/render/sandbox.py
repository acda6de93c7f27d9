"""The Jinja environment templates run in: Jinja's immutable sandbox, plus limits and JSON escaping.

The sandbox keeps templates away from Python internals (no `__class__`, `__globals__`, no
mutation of lists and dicts). On top of it, `SafeEnvironment` bounds what one render may cost,
whatever data the request sends:

- time: every loop iteration, every call and every output chunk checks the render's deadline
  (`deadline()` sets it for the current thread), so nested loops and runaway macro recursion stop;
- size: `range()` is capped at `max_range` items; repeating (`*`), adding (`+`), joining (`~`,
  `join`), padding (`center`, `indent`, `ljust`, `%10d`, `{:>10}` ...) and `replace` are
  refused when their result would pass `max_output` characters, before it is built; `**`
  refuses results of more than 65536 bits.

Every breach raises `RenderLimit` inside the template, so the caller sees the template line.

`json_finalize` is the `finalize` of the environment for `.json` templates: every printed value is
escaped for a JSON string context (`"`, `\\`, control characters, `<`, `>`, `&`, U+2028/2029 and
lone surrogates as escapes); numbers, booleans and None print as JSON literals; values marked safe
(`|safe`, `|tojson`) print as they are.
"""
from __future__ import annotations

import json
import math
import re
import string
import threading
import time
import types
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from jinja2 import Undefined, nodes, pass_context, pass_eval_context
from jinja2.compiler import CodeGenerator
from jinja2.sandbox import ImmutableSandboxedEnvironment
from jinja2.utils import generate_lorem_ipsum
from markupsafe import Markup

LOOP_GUARD = "_loop_guard"
MAX_POWER_BITS = 1 << 16
_PERCENT_SPEC = re.compile(r"%(?:\([^)]*\))?[#0\- +]*(\*|\d+)?(?:\.(\*|\d+))?")
_DIGITS = re.compile(r"\d+")
_JSON_UNSAFE = re.compile("[<>&\u2028\u2029\ud800-\udfff]")
_PADDING_METHODS = frozenset({"center", "ljust", "rjust", "zfill"})


class RenderLimit(Exception):
    """A render passed one of its limits (time, output size, range size)."""


@dataclass(frozen=True)
class Limits:
    max_output: int = 1024 * 1024
    max_range: int = 10000
    timeout: float = 2.0


class _Deadline(threading.local):
    at = math.inf


_deadline = _Deadline()


class deadline:
    """`with deadline(seconds):` the current thread's renders must finish within `seconds`."""

    def __init__(self, seconds: float):
        self.seconds = seconds

    def __enter__(self):
        _deadline.at = time.monotonic() + self.seconds
        return self

    def __exit__(self, *exc_info):
        _deadline.at = math.inf


def check_time() -> None:
    if time.monotonic() > _deadline.at:
        raise RenderLimit("the render took longer than RENDER_TIMEOUT")


class _GuardedIterable:
    """An iterable that checks the deadline before every item; sized when its source is."""

    __slots__ = ("source",)

    def __init__(self, source: Iterable):
        self.source = source

    def __len__(self) -> int:
        return len(self.source)  # type: ignore[arg-type]  # unsized: the TypeError Jinja's loop.length expects

    def __iter__(self) -> Iterator:
        for item in self.source:
            if time.monotonic() > _deadline.at:
                raise RenderLimit("the render took longer than RENDER_TIMEOUT")
            yield item


@pass_context  # a context filter is never folded into a constant at compile time
def _loop_guard(context, iterable):
    return _GuardedIterable(iterable)


class _CheckedConcatGenerator(CodeGenerator):
    """Compiles `a ~ b` so that its result is checked against the output limit."""

    def visit_Concat(self, node: nodes.Concat, frame) -> None:
        self.write("environment.checked_concat(")
        super().visit_Concat(node, frame)
        self.write(")")


def _json_escape(match: re.Match) -> str:
    return f"\\u{ord(match.group()):04x}"


def json_string_content(text: str) -> str:
    """`text` as the inside of a JSON string literal, safe in HTML and JavaScript too."""
    return _JSON_UNSAFE.sub(_json_escape, json.dumps(text, ensure_ascii=False)[1:-1])


def json_finalize(value: Any) -> Any:
    """Every value a `.json` template prints, as text that keeps the document valid JSON."""
    if isinstance(value, str):
        return value if isinstance(value, Markup) else json_string_content(value)
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return json.dumps(value) if math.isfinite(value) else "null"
    if isinstance(value, Undefined):
        return ""
    if isinstance(value, (dict, list, tuple)):
        return json_string_content(json.dumps(value, ensure_ascii=False, default=str))
    return json_string_content(str(value))


class SafeEnvironment(ImmutableSandboxedEnvironment):
    """Jinja's immutable sandbox with the render limits of `limits` (see the module docstring)."""

    intercepted_binops = frozenset({"*", "**", "%", "+"})
    code_generator_class = _CheckedConcatGenerator

    def __init__(self, limits: Limits, **options: Any):
        super().__init__(**options)
        self.limits = limits
        self.globals["range"] = self._range
        self.globals["lipsum"] = self._lipsum
        self._originals = {name: self.filters[name]
                           for name in ("center", "indent", "format", "replace", "join", "batch")}
        self.filters.update({
            LOOP_GUARD: _loop_guard,
            "center": self._center,
            "indent": self._indent,
            "format": self._format,
            "replace": self._replace_filter(),
            "join": self._join_filter(),
            "batch": self._batch,
        })

    # -- compile: every for loop iterates through the deadline guard

    def _parse(self, source: str, name: str | None, filename: str | None) -> nodes.Template:
        # Environment._parse is where Jinja 3.1 (pinned) builds the tree that parse() and compile()
        # both use; the service tests of runaway loops fail if an upgrade moves it.
        tree = super()._parse(source, name, filename)
        for loop in tree.find_all(nodes.For):
            loop.iter = nodes.Filter(loop.iter, LOOP_GUARD, [], [], None, None,
                                     lineno=loop.iter.lineno).set_environment(self)
        return tree

    # -- the checks

    def _limit(self, size: int, what: str) -> None:
        if size > self.limits.max_output:
            raise RenderLimit(f"{what} would be {size} characters, more than RENDER_MAX_OUTPUT "
                              f"({self.limits.max_output})")

    def _check_widths(self, spec: str, values: Iterable[Any], what: str) -> None:
        for digits in _DIGITS.findall(spec):
            self._limit(int(digits), what)
        if "*" in spec or "{" in spec:
            for value in values:
                if isinstance(value, int) and not isinstance(value, bool):
                    self._limit(abs(value), what)

    def _check_percent(self, text: str, values: Any) -> None:
        specs = "".join(match.group() for match in _PERCENT_SPEC.finditer(text))
        if specs:
            items = values if isinstance(values, tuple) else (values,)
            self._check_widths(specs, items, "a %-format field")

    def _check_format(self, text: str, args: tuple, kwargs: dict) -> None:
        try:
            specs = "".join(spec or "" for _, _, spec, _ in string.Formatter().parse(text))
        except ValueError:
            return  # str.format itself reports the malformed format string
        if specs:
            values = list(args) + list(kwargs.values())
            if args and isinstance(args[0], dict):
                values += list(args[0].values())
            self._check_widths(specs, values, "a format field")

    def _check_join(self, separator: str, items: list) -> None:
        size = len(separator) * max(len(items) - 1, 0)
        size += sum(len(item) if isinstance(item, str) else 16 for item in items)
        self._limit(size, "the joined text")

    def _check_replace(self, text: str, old: str, new: str, count: int | None) -> None:
        found = len(text) + 1 if old == "" else text.count(old)
        if count is not None and count >= 0:
            found = min(found, count)
        self._limit(len(text) + found * max(len(new) - len(old), 0), "the replaced text")

    # -- sandbox hooks

    def call_binop(self, context, operator: str, left: Any, right: Any) -> Any:
        if operator == "*":
            for sequence, times in ((left, right), (right, left)):
                if isinstance(sequence, (str, list, tuple)) and isinstance(times, int):
                    self._limit(len(sequence) * times, "the repeated value")
        elif operator == "+":
            if isinstance(left, (str, list, tuple)) and isinstance(right, (str, list, tuple)):
                self._limit(len(left) + len(right), "the sum")
        elif operator == "**":
            if (isinstance(left, int) and isinstance(right, int) and right > 0 and abs(left) > 1
                    and right * abs(left).bit_length() > MAX_POWER_BITS):
                raise RenderLimit(f"{left} ** {right} is too large")
        elif operator == "%" and isinstance(left, str):
            self._check_percent(left, right)
        return super().call_binop(context, operator, left, right)

    def call(self, context, obj: Any, /, *args: Any, **kwargs: Any) -> Any:
        check_time()
        owner = getattr(obj, "__self__", None)
        if isinstance(owner, str) and isinstance(obj, (types.BuiltinMethodType, types.MethodType)):
            method = obj.__name__
            if method in _PADDING_METHODS and args and isinstance(args[0], int):
                self._limit(args[0], f"str.{method}()")
            elif method == "expandtabs":
                tab = args[0] if args and isinstance(args[0], int) else 8
                self._limit(len(owner) + owner.count("\t") * tab, "str.expandtabs()")
            elif method == "replace" and len(args) >= 2 and isinstance(args[0], str) and isinstance(args[1], str):
                self._check_replace(owner, args[0], args[1], args[2] if len(args) > 2 else None)
            elif method == "join" and args:
                items = list(args[0])
                self._check_join(owner, items)
                args = (items, *args[1:])
        return super().call(context, obj, *args, **kwargs)

    def wrap_str_format(self, value: Any):
        wrapper = super().wrap_str_format(value)
        if wrapper is None:
            return None
        text = value.__self__

        def checked(*args: Any, **kwargs: Any) -> str:
            self._check_format(text, args, kwargs)
            return wrapper(*args, **kwargs)

        return checked

    def checked_concat(self, text: str) -> str:
        self._limit(len(text), "the concatenated text")
        return text

    # -- globals and filters that take a size

    def _range(self, *args: int) -> range:
        numbers = range(*args)
        count: float
        try:
            count = len(numbers)
        except OverflowError:
            count = math.inf
        if count > self.limits.max_range:
            raise RenderLimit(f"range() of {count} items is more than RENDER_MAX_RANGE ({self.limits.max_range})")
        return numbers

    def _lipsum(self, n: int = 5, html: bool = True, min: int = 20, max: int = 100) -> str:
        self._limit(n * max * 12, "lipsum()")
        return generate_lorem_ipsum(n, html, min, max)

    def _center(self, value: Any, width: int = 80) -> str:
        self._limit(width, "the centered text")
        return self._originals["center"](value, width)

    def _indent(self, text: str, width: int | str = 4, first: bool = False, blank: bool = False) -> str:
        pad = width if isinstance(width, int) else len(width)
        self._limit(len(str(text)) + (str(text).count("\n") + 1) * pad, "the indented text")
        return self._originals["indent"](text, width, first, blank)

    def _format(self, value: str, *args: Any, **kwargs: Any) -> str:
        self._check_percent(str(value), kwargs or args)
        return self._originals["format"](value, *args, **kwargs)

    def _replace_filter(self):
        original = self._originals["replace"]

        @pass_eval_context
        def replace(eval_ctx, text: str, old: str, new: str, count: int | None = None) -> str:
            self._check_replace(str(text), str(old), str(new), count)
            return original(eval_ctx, text, old, new, count)

        return replace

    def _join_filter(self):
        original = self._originals["join"]

        @pass_eval_context
        def join(eval_ctx, value: Iterable, d: str = "", attribute: Any = None) -> str:
            items = list(value)
            self._check_join(str(d), items)
            return original(eval_ctx, items, d, attribute)

        return join

    def _batch(self, value: Iterable, linecount: int, fill_with: Any = None):
        if fill_with is not None:
            self._limit(linecount, "batch()")
        return self._originals["batch"](value, linecount, fill_with)
