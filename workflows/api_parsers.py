"""Request parsers for workflow documents sent as the raw body (YAML or JSON text)."""

from __future__ import annotations

from django.conf import settings
from rest_framework import parsers
from rest_framework.exceptions import ParseError

DOCUMENT_TYPES = {
    "application/yaml": "yaml",
    "application/x-yaml": "yaml",
    "text/yaml": "yaml",
    "text/x-yaml": "yaml",
    "application/json": "json",
    "text/plain": None,
}


class DefinitionDocument(str):
    """The raw text of a document and the format its content type named (or None)."""

    format: str | None = None


class _RawDocumentParser(parsers.BaseParser):
    def parse(self, stream, media_type=None, parser_context=None):
        limit = int(getattr(settings, "STUDIO_DEFINITION_MAX_BYTES", 1_000_000))
        raw = stream.read(limit + 1) if stream is not None else b""
        if len(raw) > limit:
            raise ParseError(f"the document is larger than {limit} bytes")
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise ParseError(f"the document is not UTF-8 text (byte {exc.start})") from None
        document = DefinitionDocument(text)
        document.format = DOCUMENT_TYPES.get(self.media_type)
        return document


def _parser(media: str) -> type[parsers.BaseParser]:
    return type(
        f"RawParser_{media.replace('/', '_')}", (_RawDocumentParser,), {"media_type": media}
    )


DOCUMENT_PARSERS = [_parser(media) for media in DOCUMENT_TYPES]


def upload_text(upload) -> tuple[str, str | None]:
    """An uploaded file's text (size-capped, UTF-8) and the format its name suggests."""
    limit = int(getattr(settings, "STUDIO_DEFINITION_MAX_BYTES", 1_000_000))
    if upload.size is not None and upload.size > limit:
        raise ParseError(f"the file is larger than {limit} bytes")
    try:
        text = upload.read(limit + 1).decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ParseError(f"the file is not UTF-8 text (byte {exc.start})") from None
    name = (upload.name or "").lower()
    if name.endswith(".json"):
        return text, "json"
    if name.endswith((".yaml", ".yml")):
        return text, "yaml"
    return text, None
