"""What an uploaded file really is: decided from its bytes, checked against an allow-list."""
import codecs
import csv
import io
import re
import unicodedata
import zipfile
from dataclasses import dataclass

import filetype
from flask_babel import gettext as _


@dataclass(frozen=True)
class FileType:
    """An allowed type: its key, the extensions a name may carry, MIME type, browser-viewable."""

    key: str
    extensions: tuple
    mime: str
    inline: bool = False


ALLOWED = {t.key: t for t in (
    FileType("pdf", ("pdf",), "application/pdf", inline=True),
    FileType("jpg", ("jpg", "jpeg"), "image/jpeg", inline=True),
    FileType("png", ("png",), "image/png", inline=True),
    FileType("gif", ("gif",), "image/gif", inline=True),
    FileType("tif", ("tif", "tiff"), "image/tiff"),
    FileType("heic", ("heic", "heif"), "image/heic"),
    FileType("doc", ("doc",), "application/msword"),
    FileType("xls", ("xls",), "application/vnd.ms-excel"),
    FileType("docx", ("docx",), "application/vnd.openxmlformats-officedocument.wordprocessingml.document"),
    FileType("xlsx", ("xlsx",), "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
    FileType("odt", ("odt",), "application/vnd.oasis.opendocument.text"),
    FileType("ods", ("ods",), "application/vnd.oasis.opendocument.spreadsheet"),
    FileType("csv", ("csv",), "text/csv"),
    FileType("txt", ("txt",), "text/plain"),
    FileType("zip", ("zip",), "application/zip"),
)}
# Legacy Office files share one container format; the name tells Word from Excel.
OLE_FAMILY = {"doc", "xls"}
# Markup or code a browser would run, wherever it appears in a text file or a PDF (the whole upload
# is scanned while it streams in: see ContentScan).
ACTIVE_CONTENT = re.compile(rb"<\s*(html|script|svg|body|iframe|!doctype|object|embed)\b|javascript:", re.I)
# PDF names (/Name, with #xx escapes) of actions that run code or programs. A tax return or a bank
# statement has no use for them, so such a PDF is refused rather than served to the firm's clients.
# Every JavaScript action carries /S /JavaScript (and the document-level scripts sit under a
# /JavaScript name tree), so /JS alone is not looked for: three bytes turn up by chance in the
# binary streams of a large scan. Names inside compressed object streams are not seen: inline PDFs
# are still shown in a sandbox (no scripts) and downloads are attachments.
PDF_NAME = re.compile(rb"/((?:[A-Za-z0-9_.+-]|#[0-9A-Fa-f]{2})+)")
PDF_CODE_ACTIONS = {b"JavaScript", b"Launch"}
_OVERLAP = 256  # bytes kept from the previous chunk, so a token split across two chunks is still seen
EXECUTABLES = {"exe", "elf", "swf", "wasm", "crx", "deb", "rpm", "cab"}
RESERVED_NAMES = {"con", "prn", "aux", "nul", *(f"com{i}" for i in range(1, 10)), *(f"lpt{i}" for i in range(1, 10))}
MAX_NAME = 200


class UploadRefused(ValueError):
    """The file is not accepted; the message says why, in the reader's language."""


def clean_filename(name):
    """A safe display name: no path parts, control characters, quotes or reserved device names."""
    name = (name or "").replace("\\", "/").split("/")[-1]
    name = "".join(ch for ch in name if unicodedata.category(ch)[0] != "C")
    name = re.sub(r'["<>:|?*]', "_", name)
    name = re.sub(r"\s+", " ", name).strip(" .")
    stem, dot, ext = name.rpartition(".")
    if not dot:
        stem, ext = name, ""
    if stem.lower() in RESERVED_NAMES or (not stem and ext.lower() in RESERVED_NAMES):
        stem = "_" + stem
    name = f"{stem}.{ext}" if dot else stem
    if len(name) > MAX_NAME:
        keep = MAX_NAME - len(ext) - 1 if dot else MAX_NAME
        name = f"{stem[:keep]}.{ext}" if dot else stem[:MAX_NAME]
    return name or "file"


def extension(name):
    """The lower-case extension of a name ('' when it has none)."""
    stem, dot, ext = name.rpartition(".")
    return ext.lower() if dot and stem else ""


class ContentScan:
    """Fed every chunk of an upload as it is stored: notes web markup and PDF code actions anywhere
    in the file (type detection itself reads only the first 64 KB)."""

    def __init__(self):
        self.markup = False
        self.pdf_code = False
        self._tail = b""

    def feed(self, chunk):
        """Look at one more chunk (with the end of the previous one)."""
        window = self._tail + chunk
        self.markup = self.markup or ACTIVE_CONTENT.search(window) is not None
        if not self.pdf_code:
            self.pdf_code = any(_pdf_name(m.group(1)) in PDF_CODE_ACTIONS for m in PDF_NAME.finditer(window))
        self._tail = window[-_OVERLAP:]


def _pdf_name(raw):
    return re.sub(rb"#([0-9A-Fa-f]{2})", lambda m: bytes([int(m.group(1), 16)]), raw)


def scan_file(path):
    """A ContentScan of a whole local file (the spooled upload), read in chunks."""
    scan = ContentScan()
    with open(path, "rb") as source:
        while chunk := source.read(64 * 1024):
            scan.feed(chunk)
    return scan


def detect(head, path, name, scan=None):
    """The allowed FileType of a stored upload, or UploadRefused with the reason. `scan` (a ContentScan
    fed the whole file) refuses markup anywhere in text files and PDFs, and PDFs with code actions."""
    kind = _sniff(head, path)
    if scan is not None:
        _check_whole_file(kind, scan)
    ext = extension(name)
    if kind in OLE_FAMILY and ext in OLE_FAMILY:
        kind = ext
    if kind == "txt" and ext == "csv":
        kind = "csv"
    allowed = ALLOWED[kind]
    if ext not in allowed.extensions:
        raise UploadRefused(_(
            "The file's content is %(kind)s but its name ends in “.%(ext)s”. Rename it or choose another file.",
            kind=kind.upper(), ext=ext or "…"))
    return allowed


def _check_whole_file(kind, scan):
    # Images, Office files and archives are only ever downloaded (nosniff), or shown as images: a
    # "<script" inside their binary data is noise. Text and PDF are what a browser may render.
    if kind == "txt" and scan.markup:
        raise UploadRefused(_("Web pages, SVG images and scripts cannot be uploaded."))
    if kind == "pdf" and scan.markup:
        raise UploadRefused(_("This PDF also contains web page code and cannot be accepted."))
    if kind == "pdf" and scan.pdf_code:
        raise UploadRefused(_("This PDF contains actions that run code (JavaScript or launching programs) "
                              "and cannot be accepted."))


def _sniff(head, path):
    guess = filetype.guess(head)
    found = guess.extension if guess else None
    if found in EXECUTABLES or head.startswith(b"#!"):
        raise UploadRefused(_("Programs and scripts cannot be uploaded."))
    if found == "pdf":
        if ACTIVE_CONTENT.search(head):
            raise UploadRefused(_("This PDF also contains web page code and cannot be accepted."))
        return "pdf"
    if found in ("jpg", "png", "gif", "tif", "heic"):
        return found
    if found in ("doc", "xls", "ppt"):
        return "doc"
    if found in ("zip", "docx", "xlsx", "odt", "ods", "pptx", "odp", "epub"):
        return _zip_kind(path)
    if found is None:
        return _text_kind(head)
    raise UploadRefused(_("This type of file is not accepted. Allowed: PDF, images, Office and OpenDocument files, CSV, TXT and ZIP."))


def _zip_kind(path):
    """Tell Office/OpenDocument files from plain ZIP archives by their contents."""
    try:
        with zipfile.ZipFile(path) as archive:
            names = set(archive.namelist())
            if "mimetype" in names:
                mimetype = archive.read("mimetype").decode("ascii", "replace").strip()
                for key in ("odt", "ods"):
                    if mimetype == ALLOWED[key].mime:
                        return key
            if "word/document.xml" in names:
                return "docx"
            if "xl/workbook.xml" in names:
                return "xlsx"
    except (zipfile.BadZipFile, OSError, KeyError):
        raise UploadRefused(_("This archive is damaged and cannot be accepted."))
    return "zip"


def _text_kind(head):
    """Plain text (CSV or TXT) only when it is readable text with nothing a browser would run."""
    if b"\x00" in head:
        raise UploadRefused(_("This type of file is not accepted. Allowed: PDF, images, Office and OpenDocument files, CSV, TXT and ZIP."))
    try:
        head.decode("utf-8-sig")
    except UnicodeDecodeError:
        try:
            head[:-4].decode("utf-8-sig")  # the cut at the end of the sample may split a character
        except UnicodeDecodeError:
            raise UploadRefused(_("Text files must be UTF-8 encoded."))
    if ACTIVE_CONTENT.search(head) or head.lstrip().startswith((b"<?xml", b"<")):
        raise UploadRefused(_("Web pages, SVG images and scripts cannot be uploaded."))
    return "txt"


# Cells a spreadsheet would run as a formula (CSV injection). Plain numbers ("-12,50", "+372 555")
# stay numbers: they cannot call anything, and accounting exports are full of negative amounts.
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
PLAIN_NUMBER = re.compile(r"[+-]?\d[\d .,]*\Z")
_CSV_FLUSH = 64 * 1024


def safe_cell(cell):
    """`cell`, with a leading ' when a spreadsheet would take it for a formula."""
    if cell.startswith(FORMULA_START) and not PLAIN_NUMBER.match(cell):
        return "'" + cell
    return cell


def csv_without_formulas(source):
    """The CSV in the open binary file `source` (closed at the end) as UTF-8 chunks with every
    formula-like cell neutralised (safe_cell), row by row: never the whole file in memory, and the
    source is read once (an object-store stream cannot seek). Same delimiter; quoting is re-done."""
    csv.field_size_limit(2**31 - 1)  # one long cell (a pasted note) must not cut a download short
    with source:
        sample = source.read(_CSV_FLUSH)
        bom = sample.startswith(codecs.BOM_UTF8)
        try:
            delimiter = csv.Sniffer().sniff(sample.decode("utf-8-sig", "replace"), delimiters=",;\t|").delimiter
        except csv.Error:  # one column, or nothing to tell from: commas
            delimiter = ","
        text = io.TextIOWrapper(io.BufferedReader(_Replay(sample, source)), encoding="utf-8-sig", errors="replace",
                                newline="")
        out = io.StringIO()
        ending = "\r\n" if b"\r\n" in sample or b"\n" not in sample else "\n"  # as the file has it
        writer = csv.writer(out, delimiter=delimiter, lineterminator=ending)
        if bom:
            out.write("\ufeff")
        for row in csv.reader(text, delimiter=delimiter):
            writer.writerow([safe_cell(cell) for cell in row])
            if out.tell() >= _CSV_FLUSH:
                yield out.getvalue().encode("utf-8")
                out.seek(0)
                out.truncate()
        yield out.getvalue().encode("utf-8")


class _Replay(io.RawIOBase):
    """The bytes already read (`first`), then the rest of `rest`: a sniffed stream read from the start."""

    def __init__(self, first, rest):
        self.first, self.rest = first, rest

    def readable(self):
        return True

    def readinto(self, buffer):
        data = self.first[:len(buffer)] if self.first else self.rest.read(len(buffer))
        self.first = self.first[len(data):] if self.first else b""
        buffer[:len(data)] = data
        return len(data)
