"""Tiny PDFs written by hand for the loader tests (xref offsets computed; Helvetica text, rules,
paths and images). Nothing here comes from a real report.

``pdf([page, ...])`` where a page is a content stream (``bytes``) using ``/F1`` for text and,
optionally, ``/Im1`` for an image (``image=(width, height, gray bytes)`` per page).
"""

from __future__ import annotations


def text(x: float, y: float, s: str, size: float = 11) -> bytes:
    return f"BT /F1 {size} Tf {x} {y} Td ({s}) Tj ET\n".encode()


def ruled_table(x: float, y_top: float, rows: list[list[str]], col_w: float = 70, row_h: float = 20) -> bytes:
    """A table with full ruling lines (a rectangle per cell) and one number per cell."""
    out = bytearray(b"0.5 w\n")
    for r, row in enumerate(rows):
        for c, val in enumerate(row):
            x0 = x + c * col_w
            y0 = y_top - (r + 1) * row_h
            out += f"{x0} {y0} {col_w} {row_h} re S\n".encode()
            out += text(x0 + 6, y0 + 6, val)
    return bytes(out)


def diagonal(x0: float, y0: float, x1: float, y1: float, x2: float, y2: float) -> bytes:
    """An open path with slanted segments: pdfminer makes it a curve whose edges have no orientation
    (the shape of a slanted header line or a rounded corner as Chromium prints them)."""
    return f"{x0} {y0} m {x1} {y1} l {x2} {y2} l S\n".encode()


def full_page_image() -> bytes:
    return b"q 612 0 0 792 0 0 cm /Im1 Do Q\n"


def pdf(pages: list[bytes], *, image: tuple[int, int, bytes] | None = None) -> bytes:
    objs: list[bytes] = [b"", b""]  # 1: catalog, 2: pages (filled below)
    font = len(objs) + 1
    objs.append(b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>")
    img_ref = b""
    if image is not None:
        w, h, data = image
        objs.append(b"<< /Type /XObject /Subtype /Image /Width %d /Height %d /ColorSpace /DeviceGray "
                    b"/BitsPerComponent 8 /Length %d >>\nstream\n" % (w, h, len(data)) + data + b"\nendstream")
        img_ref = b" /XObject << /Im1 %d 0 R >>" % len(objs)
    kids = []
    for content in pages:
        objs.append(b"<< /Length %d >>\nstream\n" % len(content) + content + b"\nendstream")
        cref = len(objs)
        objs.append(b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents %d 0 R "
                    b"/Resources << /Font << /F1 %d 0 R >>%s >> >>" % (cref, font, img_ref))
        kids.append(len(objs))
    objs[0] = b"<< /Type /Catalog /Pages 2 0 R >>"
    objs[1] = b"<< /Type /Pages /Kids [" + b" ".join(b"%d 0 R" % k for k in kids) + b"] /Count %d >>" % len(kids)
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for i, o in enumerate(objs, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % i + o + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objs) + 1)
    out += b"".join(b"%010d 00000 n \n" % off for off in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objs) + 1, xref)
    return bytes(out)
