"""Time the signing of a 20-page PDF: stamping the fields, the certificate of completion, the PAdES
seal (pyHanko, RSA 2048), and one page preview; prints the median of several runs in milliseconds.

Usage: .venv/bin/python bench/signature_pdf.py [--pages 20] [--runs 5]
Uses a throwaway self-signed certificate; no database, server or Redis.
"""
import argparse
import io
import os
import statistics
import sys
import tempfile
import time
from datetime import datetime
from types import SimpleNamespace

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)


def make_pdf(pages):
    """A text PDF of `pages` letter pages."""
    from reportlab.pdfgen import canvas

    out = io.BytesIO()
    c = canvas.Canvas(out, pagesize=(612, 792))
    for n in range(pages):
        for line in range(40):
            c.drawString(72, 740 - line * 16, f"Engagement letter, page {n + 1}, clause {line + 1}: terms and fees.")
        c.showPage()
    c.save()
    return out.getvalue()


def fixtures(pages):
    """Two signers with typed signatures, and a signature and a date field per signer on every page."""
    from app.models.signatures import FieldKind

    signers = {i: SimpleNamespace(id=i, name=f"Signer {i}", email=f"s{i}@client.example", signature_image=None,
                                  signature_text=f"Signer {i}", initials=f"S{i}", signed_on=datetime(2026, 12, 5))
               for i in (1, 2)}
    fields = [SimpleNamespace(page=p, signer_id=i, kind=kind, x=72 + 200 * (i - 1), y=y, w=180, h=40, value=None)
              for p in range(pages) for i in (1, 2)
              for kind, y in ((FieldKind.signature, 90), (FieldKind.date_signed, 60))]
    return signers, fields


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, default=20)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    folder = tempfile.mkdtemp(prefix="portico-bench-sign-")
    os.environ.update(PORTICO_ENV="testing", DATABASE_URL=f"sqlite:///{folder}/bench.db")
    from app import create_app
    from app.services import signature_pdf, signature_seal

    app = create_app()
    app.config["SIGNING_P12_PATH"] = os.path.join(folder, "seal.p12")
    with app.test_request_context():
        signature_seal.ensure_certificate("Bench Firm")
        source = make_pdf(args.pages)
        signers, fields = fixtures(args.pages)
        lines = [("h1", "Certificate of completion")] + [("p", f"line {n}") for n in range(40)]
        when = lambda s: signature_pdf.format_when(s.signed_on)  # noqa: E731
        timings = {"stamp": [], "certificate": [], "seal": [], "preview (1 page)": [], "total": []}
        for _ in range(args.runs):
            t0 = time.perf_counter()
            stamped = signature_pdf.stamp(source, fields, signers, when)
            t1 = time.perf_counter()
            complete = signature_pdf.append_pages(stamped, signature_pdf.certificate_pdf(lines))
            t2 = time.perf_counter()
            sealed = signature_seal.seal(complete, "bench")
            t3 = time.perf_counter()
            signature_pdf.render_page(source, 0)
            t4 = time.perf_counter()
            for key, value in (("stamp", t1 - t0), ("certificate", t2 - t1), ("seal", t3 - t2),
                               ("preview (1 page)", t4 - t3), ("total", t3 - t0)):
                timings[key].append(value * 1000)
    print(f"{args.pages}-page PDF ({len(source) / 1024:.0f} kB → sealed {len(sealed) / 1024:.0f} kB), "
          f"{len(fields)} fields, median of {args.runs} runs:")
    for key, values in timings.items():
        print(f"  {key:<18} {statistics.median(values):8.1f} ms")


if __name__ == "__main__":
    main()
