"""The request class of the fs service: multipart file parts stream straight into the volume.

Werkzeug spools a file part to memory or to the system's /tmp by default; here every file part
is written into a temporary file of the volume (hashed and size-checked as it arrives), so an
upload of any size keeps memory flat and is later renamed into place without a copy. Parts that
no view stored are removed when the request ends, whether it succeeded or failed half-way.
"""
from __future__ import annotations

from flask import Request
from werkzeug.formparser import FormDataParser, MultiPartParser

from hipflask.state import state

READ_SIZE = 1024 * 1024
MIN_READ_SIZE = 64 * 1024


class LargeReadFormDataParser(FormDataParser):
    """Werkzeug's parser reading 1 MiB at a time instead of 64 KiB: a large upload costs about a
    third less CPU (measured in bench/RESULTS.md), the same as a raw PUT."""

    def _parse_multipart(self, stream, mimetype, content_length, options):
        # A read is buffered whole before parsing, and werkzeug refuses a buffer over the form
        # memory limit (MAX_BODY_SIZE): keep reads well under it.
        limit = self.max_form_memory_size
        read_size = READ_SIZE if limit is None else max(MIN_READ_SIZE, min(READ_SIZE, limit // 4))
        parser = MultiPartParser(stream_factory=self.stream_factory, max_form_memory_size=limit,
                                 max_form_parts=self.max_form_parts, cls=self.cls, buffer_size=read_size)
        boundary = options.get("boundary", "").encode("ascii")
        if not boundary:
            raise ValueError("Missing boundary")
        form, files = parser.parse(stream, boundary, content_length)
        return stream, form, files


class StreamingRequest(Request):
    form_data_parser_class = LargeReadFormDataParser

    def _get_file_stream(self, total_content_length, content_type, filename=None, content_length=None):
        incoming = state().storage.incoming()
        self.__dict__.setdefault("_fs_incoming", []).append(incoming)
        return incoming

    def close(self) -> None:
        try:
            super().close()
        finally:
            for incoming in self.__dict__.pop("_fs_incoming", ()):
                incoming.discard()
