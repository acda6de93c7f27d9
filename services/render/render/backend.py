"""The interface every template backend implements (`render.folders.TemplateFolders` on a folder,
`render.s3.S3Templates` on an S3-compatible object store); `render.templates` uses this, never an
implementation.

The contract, the same on every backend (tests/service/render runs it on each):
- Names follow `render.names` (`BadTemplateName`, 400, before anything is read or written).
- The user templates are searched before the built-in ones shipped with the service: a user
  template shadows a built-in of the same name, and deleting it brings the built-in back.
- A write is whole or absent: a reader sees the old text or the new one, never a mix, and an
  acknowledged write survives a crash. A name is a 409 when a folder is where its template would
  go, or a template where a folder would.
- A template written, replaced or deleted by any replica is used by the very next render of every
  replica: `refresh()` is called once at the start of a render, and the loader's templates stay
  compiled only while they are still the ones `refresh()` would choose.
"""
from __future__ import annotations

from typing import Any, Protocol

from jinja2 import BaseLoader

from hipflask.errors import HipflaskError


def path_conflict(name: str) -> HipflaskError:
    """The 409 of a name whose template would be where a folder is, or below a template."""
    return HipflaskError(409, "template_path_conflict", f"{name!r} collides with a folder or a file of the same name")


def not_deletable(name: str, builtin: bool) -> HipflaskError:
    """The answer to deleting a name that has no user template: 403 for a built-in, else 404."""
    if builtin:
        return HipflaskError(403, "builtin_template",
                             f"{name} is a built-in template; built-in templates cannot be deleted")
    return HipflaskError(404, "template_not_found", f"No Template {name}")


class TemplateLoader(BaseLoader):
    """A Jinja loader that can name the template a compiled file name belongs to (error lines)."""

    def name_for(self, filename: str) -> str | None:
        """The template name of `filename` (as given to Jinja), None when it is not one of ours."""
        raise NotImplementedError


class TemplateStore(Protocol):
    @property
    def loader(self) -> TemplateLoader:
        """The Jinja loader over these templates, user ones first."""

    def refresh(self) -> None:
        """Learn what changed since the last render (once per render, before it)."""

    def version(self, name: str) -> str:
        """A string that changes whenever `name`'s text or any template written here changes."""

    def source(self, name: str) -> tuple[str, str]:
        """(text, "user" or "builtin") of template `name`; TemplateMissing when there is none."""

    def list(self) -> list[dict[str, Any]]:
        """Every template, sorted by name: `{"name", "folder", "shadowed"}`; a built-in that a
        user template of the same name hides is listed with `"shadowed": true`."""

    def write(self, name: str, text: str) -> bool:
        """Store `text` as user template `name`; True when it is new (whole and durable on return)."""

    def delete(self, name: str) -> None:
        """Remove user template `name`. A built-in cannot be deleted (403); a missing one is 404."""

    def ready(self) -> bool:
        """True when templates can be read and written now (or raises saying why not)."""
