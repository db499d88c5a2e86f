"""One loader per input kind; each turns bytes into a :class:`~extractor.document.Document`.

``load(path)`` picks the loader from the file's content (magic bytes) first and its name second.
"""

from __future__ import annotations

import os
from pathlib import Path

from ..document import Document
from ..errors import LoadError
from ..reflow import reflow
from .html import load_html
from .text import load_text

MAX_BYTES = int(os.environ.get("EXTRACTOR_MAX_BYTES", str(50 * 1024 * 1024)))

TEXT_SUFFIXES = {".txt", ".text", ".csv", ".tsv"}
MARKDOWN_SUFFIXES = {".md", ".markdown"}
HTML_SUFFIXES = {".html", ".htm", ".xhtml", ".shtml", ".js"}
PDF_SUFFIXES = {".pdf"}
DOCX_SUFFIXES = {".docx"}
IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp", ".webp"}
SUPPORTED_SUFFIXES = (
    TEXT_SUFFIXES | MARKDOWN_SUFFIXES | HTML_SUFFIXES | PDF_SUFFIXES | DOCX_SUFFIXES | IMAGE_SUFFIXES
)


def sniff(raw: bytes, name: str = "") -> str:
    """The input kind from magic bytes, falling back to the file name."""
    head = raw[:2048]
    suffix = Path(name).suffix.lower()
    if head.startswith(b"%PDF"):
        return "pdf"
    if head.startswith(b"PK\x03\x04"):
        return "docx" if suffix in DOCX_SUFFIXES or b"word/" in raw[:65536] else "zip"
    if head.startswith((b"\x89PNG", b"\xff\xd8\xff", b"II*\x00", b"MM\x00*", b"BM", b"RIFF")):
        return "image"
    if suffix in MARKDOWN_SUFFIXES:
        return "markdown"
    low = head.lower()
    if suffix in HTML_SUFFIXES or b"<html" in low or b"<!doctype html" in low or b"<table" in low or (
        low.lstrip().startswith(b"<") and b"</p>" in raw[:65536].lower()
    ):
        return "html"
    if suffix in PDF_SUFFIXES:
        return "pdf"
    if suffix in DOCX_SUFFIXES:
        return "docx"
    return "text"


def load_bytes(raw: bytes, name: str, *, path: str | Path = "") -> Document:
    """Load ``raw`` with the loader of its kind; tables flattened onto one line get their rows back."""
    return reflow(_load_kind(raw, name, path=path))


def _load_kind(raw: bytes, name: str, *, path: str | Path = "") -> Document:
    if len(raw) > MAX_BYTES:
        raise LoadError(f"file too large: {len(raw)} bytes (limit {MAX_BYTES}; set EXTRACTOR_MAX_BYTES)")
    if not raw:
        raise LoadError("empty file (0 bytes)")
    kind = sniff(raw, name)
    if kind == "html":
        return load_html(raw, name=name, path=path)
    if kind in ("text", "markdown"):
        return load_text(raw, name=name, path=path, kind=kind)
    if kind == "pdf":
        try:
            from .pdf import load_pdf  # deliberately lazy: heavy optional library
        except ImportError as exc:
            raise LoadError(f"PDF support is not installed ({exc.name})") from exc
        return load_pdf(raw, name=name, path=path)
    if kind == "docx":
        try:
            from .docx import load_docx  # deliberately lazy: heavy optional library
        except ImportError as exc:
            raise LoadError(f"DOCX support is not installed ({exc.name})") from exc
        return load_docx(raw, name=name, path=path)
    if kind == "image":
        try:
            from .ocr import load_image  # deliberately lazy: heavy optional library
        except ImportError as exc:
            raise LoadError(f"OCR support is not installed ({exc.name})") from exc
        return load_image(raw, name=name, path=path)
    raise LoadError(f"unsupported file type: {kind} ({name})")


def load(path: str | Path) -> Document:
    p = Path(path)
    try:
        size = p.stat().st_size
    except OSError as exc:
        raise LoadError(f"cannot read {p}: {exc.strerror or exc}") from exc
    if p.is_dir():
        raise LoadError(f"{p} is a directory")
    if size > MAX_BYTES:
        raise LoadError(f"file too large: {size} bytes (limit {MAX_BYTES}; set EXTRACTOR_MAX_BYTES)")
    try:
        raw = p.read_bytes()
    except OSError as exc:
        raise LoadError(f"cannot read {p}: {exc.strerror or exc}") from exc
    return load_bytes(raw, p.name, path=p)
