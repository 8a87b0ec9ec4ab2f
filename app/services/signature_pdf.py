"""PDF work of e-signature: page sizes and previews, the stamps of the fields (or a signature page
when no field was placed), the certificate of completion, then the seal over the whole file."""
import hashlib
import io
import threading

from flask_babel import gettext as _
from reportlab.lib.utils import ImageReader
from reportlab.pdfgen import canvas

from app.models.signatures import FieldKind
from app.services import signature_seal

PREVIEW_WIDTH = 900  # pixels of a page preview (sharp on a phone, small enough to load fast)
MAX_PAGES = 500
# PDFium is not thread-safe: two threads rendering at once (threaded server, parallel page previews)
# crash the process, so every call into it holds this lock.
_PDFIUM_LOCK = threading.Lock()


class PdfError(ValueError):
    """A file that is not a readable PDF; the message is for the user."""


def sha256(data):
    """Hex SHA-256 of bytes."""
    return hashlib.sha256(data).hexdigest()


def page_sizes(pdf_bytes):
    """[(width, height)] in PDF points of each page (rotation applied)."""
    from pypdf import PdfReader

    try:
        reader = PdfReader(io.BytesIO(pdf_bytes))
        if reader.is_encrypted:
            raise PdfError(_("A password-protected PDF cannot be signed."))
        sizes = [(float(p.mediabox.width), float(p.mediabox.height)) if (p.rotation or 0) % 180 == 0
                 else (float(p.mediabox.height), float(p.mediabox.width)) for p in reader.pages]
    except PdfError:
        raise
    except Exception:  # pypdf raises many kinds on a broken file
        raise PdfError(_("This file could not be read as a PDF."))
    if not sizes or len(sizes) > MAX_PAGES:
        raise PdfError(_("A PDF to sign has between 1 and %(max)d pages.", max=MAX_PAGES))
    return sizes


def render_page(pdf_bytes, index, width=PREVIEW_WIDTH):
    """PNG bytes of one page, `width` pixels wide."""
    import pypdfium2 as pdfium

    with _PDFIUM_LOCK:
        pdf = pdfium.PdfDocument(pdf_bytes)
        try:
            page = pdf[index]
            scale = width / max(page.get_width(), 1)
            image = page.render(scale=scale).to_pil()  # may share the bitmap's buffer: encode before closing
            out = io.BytesIO()
            image.save(out, format="PNG", optimize=False)
            return out.getvalue()
        finally:
            pdf.close()


def _draw_signature(c, signer, x, y, w, h):
    if signer.signature_image:
        c.drawImage(ImageReader(io.BytesIO(signer.signature_image)), x, y, w, h, mask="auto",
                    preserveAspectRatio=True, anchor="sw")
    else:
        size = max(8, min(h * 0.7, 28))
        c.setFont("Times-Italic", size)
        c.drawString(x + 2, y + (h - size) / 2 + 2, _fit(c, signer.signature_text or signer.name, "Times-Italic",
                                                         size, w - 4))


def _fit(c, text, font, size, width):
    while text and c.stringWidth(text, font, size) > width:
        text = text[:-1]
    return text


def _draw_field(c, field, signer, when):
    x, y, w, h = field.x, field.y, field.w, field.h
    if field.kind is FieldKind.signature:
        _draw_signature(c, signer, x, y, w, h)
        return
    if field.kind is FieldKind.checkbox:
        c.rect(x, y, min(w, h), min(w, h))
        if field.value == "1":
            size = min(w, h)
            c.setFont("ZapfDingbats", size * 0.8)
            c.drawString(x + size * 0.12, y + size * 0.18, "4")
        return
    text = {FieldKind.initials: signer.initials or "", FieldKind.date_signed: when}.get(field.kind, field.value or "")
    size = max(6, min(h * 0.7, 12))
    c.setFont("Helvetica", size)
    c.drawString(x + 2, y + (h - size) / 2 + 2, _fit(c, text, "Helvetica", size, w - 4))


def _overlay(size, fields, signers, when):
    out = io.BytesIO()
    c = canvas.Canvas(out, pagesize=size)
    for field in fields:
        _draw_field(c, field, signers[field.signer_id], when(signers[field.signer_id]))
    c.save()
    return out.getvalue()


def _signature_page(size, signers, when):
    """The page added at the end when no field was placed: each signer's signature, name and date."""
    out = io.BytesIO()
    c = canvas.Canvas(out, pagesize=size)
    width, height = size
    c.setFont("Helvetica-Bold", 14)
    c.drawString(56, height - 72, _("Signatures"))
    y = height - 120
    for signer in signers:
        if y < 100:
            c.showPage()
            y = height - 72
        _draw_signature(c, signer, 56, y - 40, 220, 40)
        c.line(56, y - 44, 300, y - 44)
        c.setFont("Helvetica", 10)
        c.drawString(56, y - 58, f"{signer.name} <{signer.email}>")
        c.drawString(56, y - 72, _("Signed on %(when)s", when=when(signer)))
        y -= 110
    c.save()
    return out.getvalue()


def stamp(pdf_bytes, fields, signers, when):
    """The PDF with each field drawn on its page, or a signature page at the end when none was placed.
    `signers`: {id: Signer}; `when(signer)`: the signing time as text."""
    from pypdf import PdfReader, PdfWriter

    reader = PdfReader(io.BytesIO(pdf_bytes))
    writer = PdfWriter(clone_from=reader)
    _drop_signatures(writer)
    sizes = page_sizes(pdf_bytes)
    by_page = {}
    for field in fields:
        by_page.setdefault(field.page, []).append(field)
    for index, page_fields in by_page.items():
        overlay = PdfReader(io.BytesIO(_overlay(sizes[index], page_fields, signers, when))).pages[0]
        writer.pages[index].merge_transformed_page(overlay, _unrotate(writer.pages[index], sizes[index]))
        writer.pages[index].compress_content_streams()  # the merge leaves the page's content uncompressed
    if not fields:
        for page in PdfReader(io.BytesIO(_signature_page(sizes[-1], list(signers.values()), when))).pages:
            writer.add_page(page)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def _drop_signatures(writer):
    """Remove earlier signature fields (a PDF signed before, e.g. a sealed version sent again): stamping
    changes the pages, so they could only show as broken; the new seal covers the new file."""
    from pypdf.generic import ArrayObject, NameObject

    root = writer._root_object
    form = root.get("/AcroForm")
    if form is not None:
        form = form.get_object()
        kept = [f for f in form.get("/Fields", []) if f.get_object().get("/FT") != "/Sig"]
        form[NameObject("/Fields")] = ArrayObject(kept)
        for key in ("/SigFlags", "/NeedAppearances"):
            form.pop(key, None)
    for page in writer.pages:
        annots = page.get("/Annots")
        if annots is None:
            continue
        kept = [a for a in annots.get_object() if a.get_object().get("/FT") != "/Sig"]
        page[NameObject("/Annots")] = ArrayObject(kept)


def _unrotate(page, size):
    """The transformation that puts an upright overlay on a rotated page (identity for most pages)."""
    from pypdf import Transformation

    rotation = (page.rotation or 0) % 360
    width, height = size
    if rotation == 90:
        return Transformation().rotate(90).translate(height, 0)
    if rotation == 180:
        return Transformation().rotate(180).translate(width, height)
    if rotation == 270:
        return Transformation().rotate(270).translate(0, width)
    return Transformation()


def append_pages(pdf_bytes, extra_pdf):
    """`pdf_bytes` with the pages of `extra_pdf` added at the end."""
    from pypdf import PdfReader, PdfWriter

    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(pdf_bytes)))
    for page in PdfReader(io.BytesIO(extra_pdf)).pages:
        writer.add_page(page)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def finish(pdf_bytes, fields, signers, when, certificate_lines, reason):
    """Stamp, append the certificate of completion, seal: (sealed bytes, SHA-256 of the stamped file)."""
    stamped = stamp(pdf_bytes, fields, signers, when)
    stamped_hash = sha256(stamped)
    complete = append_pages(stamped, certificate_pdf(certificate_lines(stamped_hash)))
    return signature_seal.seal(complete, reason), stamped_hash


def certificate_pdf(lines):
    """A certificate of completion: `lines` of (style, text), style "h1", "h2" or "p", on A4 pages."""
    from reportlab.lib.pagesizes import A4

    out = io.BytesIO()
    c = canvas.Canvas(out, pagesize=A4)
    width, height = A4
    y = height - 60
    styles = {"h1": ("Helvetica-Bold", 15, 24), "h2": ("Helvetica-Bold", 11, 18), "p": ("Helvetica", 9, 12)}
    for style, text in lines:
        font, size, step = styles[style]
        for chunk in _wrap(c, str(text), font, size, width - 112):
            if y < 60:
                c.showPage()
                y = height - 60
            c.setFont(font, size)
            c.drawString(56, y, chunk)
            y -= step
    c.save()
    return out.getvalue()


def _wrap(c, text, font, size, width):
    lines = []
    for paragraph in text.splitlines() or [""]:
        line = ""
        for word in paragraph.split(" "):
            while c.stringWidth(word, font, size) > width:  # a hash or URL longer than the line
                cut = len(word)
                while cut > 1 and c.stringWidth(word[:cut], font, size) > width:
                    cut -= 1
                lines.append(word[:cut])
                word = word[cut:]
            candidate = f"{line} {word}".strip()
            if line and c.stringWidth(candidate, font, size) > width:
                lines.append(line)
                line = word
            else:
                line = candidate
        lines.append(line)
    return lines


def format_when(value):
    """A timestamp for stamps and the certificate (UTC, as stored)."""
    return value.strftime("%Y-%m-%d %H:%M:%S UTC") if value else ""
