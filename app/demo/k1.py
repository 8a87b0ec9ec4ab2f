"""Demo K-1 partners for the demo partnership, each with a generated K-1 PDF (staff only)."""
import io
from decimal import Decimal

from sqlalchemy import select
from werkzeug.datastructures import FileStorage

from app.extensions import db
from app.models import Folder, K1Recipient
from app.models.documents import Direction, Visibility
from app.services import documents as document_service
from app.demo.documents import pdf_bytes

TAX_YEAR = 2025
FOLDER = f"K-1s {TAX_YEAR}"
# name, e-mail, share (percent); the last partner has no K-1 yet, so the portal shows why it cannot be sent.
PARTNERS = [
    ("Harbor Lane GP LLC", "gp@harborlane.example", Decimal("1")),
    ("Laura Quinn", "laura.quinn@client.example", Decimal("33")),
    ("Hannah Ito", "hannah.ito@client.example", Decimal("33")),
    ("Oscar Lind", "oscar.lind@client.example", Decimal("32.5")),
    ("Julia Weiss", "julia.weiss@client.example", Decimal("0.5")),
]


def seed_k1(entity, user):
    """Give `entity` its demo partners and their K-1 documents, unless it has partners already."""
    if db.session.scalar(select(K1Recipient.id).where(K1Recipient.entity_id == entity.id).limit(1)):
        return
    folder = db.session.scalar(select(Folder).where(Folder.entity_id == entity.id, Folder.name == FOLDER,
                                                    Folder.parent_id.is_(None)))
    folder = folder or document_service.create_folder(entity, FOLDER)
    for index, (name, email, share) in enumerate(PARTNERS):
        document = None
        if index < len(PARTNERS) - 1:
            filename = f"Schedule K-1 {TAX_YEAR} - {name}.pdf"
            data = pdf_bytes([entity.name, f"Schedule K-1 (Form 1065) tax year {TAX_YEAR}", f"Partner: {name}",
                              f"Share of profit, loss and capital: {share} %", "Demo data"])
            document = document_service.upload(entity, FileStorage(io.BytesIO(data), filename), user, folder,
                                               Direction.from_firm, Visibility.staff_only)
        db.session.add(K1Recipient(entity_id=entity.id, name=name, email=email, share=share, document=document))
    db.session.commit()
