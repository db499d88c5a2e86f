"""Plain text and Markdown: decode (UTF-8, UTF-16 with BOM, GB18030/GBK, else detected) and normalize."""

from __future__ import annotations

import re
from pathlib import Path

from ..document import Document, from_text
from ..errors import LoadError


def decode(raw: bytes, *, what: str = "file") -> tuple[str, str]:
    """Decode report bytes; returns (text, encoding). Raises LoadError with the reason."""
    if not raw or not raw.strip():
        raise LoadError(f"empty {what}")
    if raw.startswith(b"\xef\xbb\xbf"):
        return raw[3:].decode("utf-8", errors="replace"), "utf-8-sig"
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        return raw.decode("utf-16"), "utf-16"
    if b"\x00" in raw[:4096]:
        raise LoadError(f"binary content, not a text {what} (NUL bytes)")
    try:
        return raw.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        pass
    try:
        text = raw.decode("gb18030")
        if _plausible(text):
            return text, "gb18030"
    except UnicodeDecodeError:
        pass
    from charset_normalizer import from_bytes

    best = from_bytes(raw).best()
    if best is not None and _plausible(str(best)):
        return str(best), best.encoding
    raise LoadError(f"cannot decode {what}: not UTF-8, GB18030 or any detectable text encoding")


_CONTROL = re.compile("[\x00-\x08\x0b\x0e-\x1f\ue000-\uf8ff\ufffd]")


def _plausible(text: str) -> bool:
    """Decoded text looks like a document: mostly printable characters."""
    sample = text[:20000]
    if not sample:
        return False
    bad = len(_CONTROL.findall(sample))
    return bad / len(sample) < 0.02


def load_text(raw: bytes, *, name: str, path: str | Path = "", kind: str = "text") -> Document:
    text, enc = decode(raw)
    if not _plausible(text):
        raise LoadError("binary content, not a text file (too many control characters)")
    return from_text(text, name=name, kind=kind, raw=raw, encoding=enc, path=path)
