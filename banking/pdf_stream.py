"""A PDF that is sent while it is drawn: each finished page goes out at once.

reportlab's canvas keeps every page until ``save`` and writes the file only then, so a
statement of 100,000 lines sent nothing for its whole drawing time and held every
page in memory. A PDF's body can be written in any order: only the cross-reference
table, the page tree and (here) the fonts must come at the end. So this writer puts out
the header first, then each page's content stream and page object as soon as the page
is full, and at the end the font subsets, the shared resources, the page tree, the
catalog and the cross-reference table. Memory is one page plus one offset per object.

Text is set in TrueType fonts registered with reportlab (DejaVu Sans for the Cyrillic
and Kazakh letters): reportlab's ``TTFont`` assigns each character its code in one of
its 256-character subsets (``splitString``) and makes each subset's font file
(``makeSubset``); only the objects around them are written here. Every page refers to
one resources dictionary written at the end, because which subsets exist is known only
when the last line has been drawn.
"""

from __future__ import annotations

import datetime as dt
import zlib
from binascii import hexlify
from typing import Any

from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import FF_NONSYMBOLIC, FF_SYMBOLIC, makeToUnicodeCMap

_CATALOG, _PAGES, _RESOURCES, _INFO = 1, 2, 3, 4
_FIRST_FREE = 5
# The file's first line (and a comment of four bytes above 127: a binary file).
HEADER = b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n"


def _text_string(text: str) -> bytes:
    """A PDF text string for the document information (UTF-16BE with its byte order mark)."""
    return b"<FEFF" + text.encode("utf-16-be").hex().upper().encode() + b">"


class _CodeTable(dict[int, int | None]):
    """A ``str.translate`` table that deletes every character it has no code for."""

    def __missing__(self, key: int) -> None:
        return None


class StreamedPdf:
    """Draw strings on pages; take the bytes made so far with ``take`` whenever convenient."""

    def __init__(
        self, *, fonts: list[str], page_size: tuple[float, float], title: str, author: str,
        header_sent: bool = False,
    ) -> None:  # fmt: skip
        """``header_sent``: the caller has sent ``HEADER`` itself (before the fonts loaded)."""
        # Each font gets a short internal prefix; its subsets are /F<n>+<subset>.
        self.fonts = {name: pdfmetrics.getFont(name) for name in fonts}
        self.prefixes = {name: b"F%d" % n for n, name in enumerate(fonts, start=1)}
        # Characters with a code in the first subset (the rest deleted: see _encode).
        self.tables = {name: _CodeTable() for name in fonts}
        for name, font in self.fonts.items():
            font.splitString(" ", self)  # this document's subsets, ASCII at its own codes
            self.tables[name].update(
                (code, n) for code, n in font.state[self].assignments.items() if n < 256
            )
        self.widths = {
            name: (font.face.charWidths, font.face.defaultWidth)
            for name, font in self.fonts.items()
        }
        self.width, self.height = page_size
        self.title, self.author = title, author
        self.offsets: dict[int, int] = {}
        self.pages: list[int] = []
        self.next_object = _FIRST_FREE
        self.written = 0
        self.pending: list[bytes] = []
        self.ops: list[bytes] = []
        self.font_name, self.font_size = fonts[0], 10.0
        if header_sent:
            self.written = len(HEADER)
        else:
            self._emit(HEADER)

    # Drawing ------------------------------------------------------------------------

    def set_font(self, name: str, size: float) -> None:
        self.font_name, self.font_size = name, size

    def draw(self, x: float, y: float, text: str) -> None:
        if not text:
            return
        prefix, size = self.prefixes[self.font_name], self.font_size
        runs = self._encode(text)
        if len(runs) == 1:  # the usual case, without the join
            shows = b"/%s+%d %.2f Tf <%s> Tj" % (prefix, runs[0][0], size, hexlify(runs[0][1]))
        else:
            shows = b" ".join(
                b"/%s+%d %.2f Tf <%s> Tj" % (prefix, subset, size, hexlify(chunk))
                for subset, chunk in runs
            )
        self.ops.append(b"BT 1 0 0 1 %.2f %.2f Tm %s ET" % (x, y, shows))

    def draw_right(self, x: float, y: float, text: str) -> None:
        widths, missing = self.widths[self.font_name]
        width = sum([widths.get(code, missing) for code in map(ord, text)])
        self.draw(x - width * self.font_size / 1000, y, text)

    def _encode(self, text: str) -> list[tuple[int, bytes]]:
        """The text as (subset, codes) runs of the current font.

        The common case (every character already has a code in the first subset) is one
        ``str.translate``; the table deletes any character without a code there, so a
        shorter result (or one that is not Latin-1) sends the text to reportlab's
        ``splitString``, which assigns codes to new characters.
        """
        table = self.tables[self.font_name]
        coded = text.translate(table)
        if len(coded) == len(text):
            try:
                return [(0, coded.encode("latin-1"))]
            except UnicodeEncodeError:
                pass
        font = self.fonts[self.font_name]
        runs: list[tuple[int, bytes]] = font.splitString(text, self)
        for code, n in font.state[self].assignments.items():
            if n < 256:
                table[code] = n
        return runs

    def page_end(self) -> None:
        """Write the page just drawn (its content, compressed, and its page object)."""
        content = zlib.compress(b"\n".join(self.ops))
        self.ops = []
        stream = self._new_object()
        self._object(
            stream,
            b"<< /Length %d /Filter /FlateDecode >>\nstream\n" % len(content)
            + content
            + b"\nendstream",
        )
        page = self._new_object()
        self._object(
            page,
            b"<< /Type /Page /Parent %d 0 R /MediaBox [0 0 %.2f %.2f] /Resources %d 0 R "
            b"/Contents %d 0 R >>" % (_PAGES, self.width, self.height, _RESOURCES, stream),
        )
        self.pages.append(page)

    def take(self) -> bytes:
        """The bytes made since the last call (to send them on)."""
        out, self.pending = b"".join(self.pending), []
        return out

    # The end -------------------------------------------------------------------------

    def finish(self) -> bytes:
        """Write the fonts, the page tree, the catalog and the cross-reference table."""
        if self.ops or not self.pages:
            self.page_end()
        font_refs = []
        for name, font in self.fonts.items():
            state = font.state.get(self)
            for n, subset in enumerate(state.subsets if state is not None else []):
                font_refs.append(
                    b"/%s+%d %d 0 R" % (self.prefixes[name], n, self._subset(font, n, subset))
                )
        self._object(
            _RESOURCES, b"<< /ProcSet [/PDF /Text] /Font << " + b" ".join(font_refs) + b" >> >>"
        )
        kids = b" ".join(b"%d 0 R" % page for page in self.pages)
        self._object(_PAGES, b"<< /Type /Pages /Count %d /Kids [%s] >>" % (len(self.pages), kids))
        self._object(_CATALOG, b"<< /Type /Catalog /Pages %d 0 R >>" % _PAGES)
        made = dt.datetime.now(dt.UTC).strftime("D:%Y%m%d%H%M%SZ").encode()
        self._object(
            _INFO,
            b"<< /Title %s /Author %s /Producer (Alatau) /CreationDate (%s) >>"
            % (_text_string(self.title), _text_string(self.author), made),
        )
        self._xref()
        self.close()
        return self.take()

    def close(self) -> None:
        """Forget this document's subsets in the shared font objects (also on an abort)."""
        for font in self.fonts.values():
            font.state.pop(self, None)

    def _subset(self, font: Any, n: int, subset: list[int]) -> int:
        face = font.face
        base = f"{chr(ord('A') + n // 26 % 26)}{chr(ord('A') + n % 26)}AAAA+{face.name.decode('latin-1')}"
        data = face.makeSubset(subset)
        packed = zlib.compress(data)
        font_file = self._new_object()
        self._object(
            font_file,
            b"<< /Length %d /Length1 %d /Filter /FlateDecode >>\nstream\n"
            % (len(packed), len(data))
            + packed
            + b"\nendstream",
        )
        descriptor = self._new_object()
        flags = (face.flags & ~FF_NONSYMBOLIC) | FF_SYMBOLIC
        bbox = " ".join(str(v) for v in face.bbox)
        self._object(
            descriptor,
            (
                f"<< /Type /FontDescriptor /FontName /{base} /Flags {flags} /FontBBox [{bbox}] "
                f"/Ascent {face.ascent} /Descent {face.descent} /CapHeight {face.capHeight} "
                f"/ItalicAngle {face.italicAngle} /StemV {face.stemV} "
                f"/MissingWidth {face.defaultWidth} /FontFile2 {font_file} 0 R >>"
            ).encode(),
        )
        cmap = zlib.compress(makeToUnicodeCMap(base, subset).encode("latin-1"))
        to_unicode = self._new_object()
        self._object(
            to_unicode,
            b"<< /Length %d /Filter /FlateDecode >>\nstream\n" % len(cmap) + cmap + b"\nendstream",
        )
        widths = " ".join(f"{face.getCharWidth(code):.2f}" for code in subset)
        ref = self._new_object()
        self._object(
            ref,
            (
                f"<< /Type /Font /Subtype /TrueType /BaseFont /{base} /FirstChar 0 "
                f"/LastChar {len(subset) - 1} /Widths [{widths}] /FontDescriptor {descriptor} 0 R "
                f"/ToUnicode {to_unicode} 0 R >>"
            ).encode(),
        )
        return ref

    def _xref(self) -> None:
        start = self.written
        size = self.next_object
        rows = [b"xref\n0 %d\n0000000000 65535 f \n" % size]
        rows += [b"%010d 00000 n \n" % self.offsets[n] for n in range(1, size)]
        rows.append(
            b"trailer\n<< /Size %d /Root %d 0 R /Info %d 0 R >>\n" % (size, _CATALOG, _INFO)
        )
        rows.append(b"startxref\n%d\n%%%%EOF\n" % start)
        self._emit(b"".join(rows))

    # Objects -------------------------------------------------------------------------

    def _new_object(self) -> int:
        number, self.next_object = self.next_object, self.next_object + 1
        return number

    def _object(self, number: int, body: bytes) -> None:
        self.offsets[number] = self.written
        self._emit(b"%d 0 obj\n" % number + body + b"\nendobj\n")

    def _emit(self, data: bytes) -> None:
        self.pending.append(data)
        self.written += len(data)
