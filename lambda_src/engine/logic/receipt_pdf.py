"""A one-page PDF written by hand: a title and label/value rows in Helvetica.

Why not a PDF library: fpdf2 would bring Pillow and fontTools (about 39 MB) into the one
layer every engine function loads, and cost 0.3 s to import (3x boto3), for a page of text.
The 14 standard PDF fonts need no embedding, so the whole document is a few objects. Nothing
here depends on the clock or on randomness: the same receipt gives the same bytes, always
(the document id is a digest of the content, the creation date the capture's time).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

_PAGE_WIDTH, _PAGE_HEIGHT = 595, 842  # A4 in points
_LEFT, _VALUE_X, _TOP = 56, 220, 780


def _text(value: str) -> bytes:
    """A PDF literal string in WinAnsi (Latin-1 covers what receipts say; others become ?)."""
    raw = value.encode("cp1252", errors="replace")
    escaped = raw.replace(b"\\", b"\\\\").replace(b"(", b"\\(").replace(b")", b"\\)")
    return b"(" + escaped.replace(b"\r", b" ").replace(b"\n", b" ") + b")"


def _line(font: str, size: int, x: int, y: int, value: str) -> bytes:
    return b"BT /%s %d Tf %d %d Td %s Tj ET\n" % (font.encode(), size, x, y, _text(value))


def _content(title: str, rows: Sequence[tuple[str, str]], footer: str) -> bytes:
    parts = [_line("F2", 18, _LEFT, _TOP, title)]
    y = _TOP - 44
    for label, value in rows:
        parts.append(_line("F2", 11, _LEFT, y, label))
        parts.append(_line("F1", 11, _VALUE_X, y, value))
        y -= 22
    parts.append(_line("F1", 9, _LEFT, y - 24, footer))
    return b"".join(parts)


def render(
    title: str, rows: Sequence[tuple[str, str]], footer: str, created: str, document_title: str
) -> bytes:
    """`created` is a PDF date ("D:20261203064000Z"), fixed by the caller."""
    content = _content(title, rows, footer)
    resources = b"<< /Font << /F1 4 0 R /F2 5 0 R >> >>"
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 %d %d] /Resources %s /Contents 6 0 R >>"
        % (_PAGE_WIDTH, _PAGE_HEIGHT, resources),
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica-Bold /Encoding /WinAnsiEncoding >>",
        b"<< /Length %d >>\nstream\n%s\nendstream" % (len(content), content),
        b"<< /Title %s /Producer (engine receipts) /CreationDate %s >>"
        % (_text(document_title), _text(created)),
    ]
    return _document(objects, hashlib.md5(content, usedforsecurity=False).hexdigest())


def _document(objects: list[bytes], document_id: str) -> bytes:
    out = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n%s\nendobj\n" % (number, body)
    xref_at = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    for offset in offsets:
        out += b"%010d 00000 n \n" % offset
    ident = document_id.encode()
    out += b"trailer\n<< /Size %d /Root 1 0 R /Info 7 0 R /ID [<%s> <%s>] >>\n" % (
        len(objects) + 1,
        ident,
        ident,
    )
    out += b"startxref\n%d\n%%%%EOF\n" % xref_at
    return bytes(out)
