"""The request class of the fs service: multipart file parts stream straight into the volume.

Werkzeug spools a file part to memory or to the system's /tmp by default; here every file part
is written into a temporary file of the volume (hashed and size-checked as it arrives), so an
upload of any size keeps memory flat and is later renamed into place without a copy. Parts that
no view stored are removed when the request ends, whether it succeeded or failed half-way.
"""
from __future__ import annotations

from flask import Request, current_app


class StreamingRequest(Request):
    def _get_file_stream(self, total_content_length, content_type, filename=None, content_length=None):
        incoming = current_app.extensions["fs"].incoming()
        self.__dict__.setdefault("_fs_incoming", []).append(incoming)
        return incoming

    def close(self) -> None:
        try:
            super().close()
        finally:
            for incoming in self.__dict__.pop("_fs_incoming", ()):
                incoming.discard()
