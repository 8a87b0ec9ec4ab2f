"""The firm's sealing certificate (PKCS#12) and the PAdES seal over a whole PDF.

The seal is a PDF signature (pyHanko, PAdES baseline B) made with the firm's key: any later change
of the file shows in every PDF reader. A self-signed certificate proves integrity (the file is as the
firm sealed it) but not identity: readers show it as "unknown" until the firm's certificate is
trusted or replaced by one a public CA issued (see the README).
"""
import io
import os
from datetime import datetime, timedelta, timezone

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.serialization import BestAvailableEncryption, NoEncryption, pkcs12
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from flask import current_app

SEAL_FIELD = "PorticoSeal"
_SIGNERS = {}  # (path, mtime) -> pyHanko signer, so the key is read once per process


class SealError(RuntimeError):
    """The firm's certificate is missing or unreadable."""


def _password():
    value = current_app.config.get("SIGNING_P12_PASSWORD") or ""
    return value.encode() if value else None


def ensure_certificate(firm_name):
    """Create a self-signed sealing certificate at SIGNING_P12_PATH when none exists; True if made."""
    path = current_app.config["SIGNING_P12_PATH"]
    if os.path.exists(path):
        return False
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    data = self_signed_p12(firm_name, _password())
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
    return True


def self_signed_p12(common_name, password=None, years=10):
    """A PKCS#12 archive with a new RSA key and a self-signed document-signing certificate."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, (common_name or "Portico")[:64]),
                      x509.NameAttribute(NameOID.ORGANIZATION_NAME, (common_name or "Portico")[:64])])
    now = datetime.now(timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - timedelta(minutes=5))
            .not_valid_after(now + timedelta(days=365 * years))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(x509.KeyUsage(digital_signature=True, content_commitment=True, key_encipherment=False,
                                         data_encipherment=False, key_agreement=False, key_cert_sign=True,
                                         crl_sign=False, encipher_only=False, decipher_only=False), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.EMAIL_PROTECTION]), critical=False)
            .sign(key, hashes.SHA256()))
    encryption = BestAvailableEncryption(password) if password else NoEncryption()
    return pkcs12.serialize_key_and_certificates(b"portico-seal", key, cert, None, encryption)


def _signer():
    from pyhanko.sign import signers

    path = current_app.config["SIGNING_P12_PATH"]
    try:
        stamp = (path, os.stat(path).st_mtime_ns)
    except OSError:
        raise SealError(f"no sealing certificate at {path}: run `flask portico init` or set SIGNING_P12_PATH")
    if stamp not in _SIGNERS:
        with open(path, "rb") as handle:
            signer = signers.SimpleSigner.load_pkcs12_data(handle.read(), other_certs=(), passphrase=_password())
        if signer is None:
            raise SealError(f"the sealing certificate at {path} could not be read (SIGNING_P12_PASSWORD?)")
        _SIGNERS.clear()
        _SIGNERS[stamp] = signer
    return _SIGNERS[stamp]


def certificate():
    """The firm's sealing certificate (asn1crypto), e.g. as the trust root when validating."""
    return _signer().signing_cert


def seal(pdf_bytes, reason, location=""):
    """The PDF sealed with the firm's certificate: a PAdES signature covering the whole file."""
    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
    from pyhanko.sign import fields, signers

    writer = IncrementalPdfFileWriter(io.BytesIO(pdf_bytes), strict=False)
    meta = signers.PdfSignatureMetadata(field_name=SEAL_FIELD, subfilter=fields.SigSeedSubFilter.PADES,
                                        reason=reason[:200], location=location[:200] or None,
                                        md_algorithm="sha256")
    out = signers.sign_pdf(writer, meta, signer=_signer())
    return out.getvalue()
