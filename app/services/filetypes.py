"""What an uploaded file really is: decided from its bytes, checked against an allow-list."""
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
# Markup or code a browser would run, wherever it appears in the first bytes of a document.
ACTIVE_CONTENT = re.compile(rb"<\s*(html|script|svg|body|iframe|!doctype|object|embed)\b|javascript:", re.I)
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


def detect(head, path, name):
    """The allowed FileType of a stored upload, or UploadRefused with the reason."""
    kind = _sniff(head, path)
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
