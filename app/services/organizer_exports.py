"""What staff review and export of an organizer: each question shown with this year's and last year's
answer and whether it changed; as rows for the review page, CSV and PDF (reportlab)."""
import csv
import io
from dataclasses import dataclass

from flask_babel import gettext as _
from sqlalchemy import select

from app.extensions import db
from app.models import Document
from app.models.organizers import QuestionKind
from app.services import organizers


@dataclass
class Row:
    """One question of the review: its section, this year's and last year's answer, shown or hidden."""

    section: str
    question: object
    answer: object
    last: object
    shown: bool
    changed: bool
    files: list


def display(question, answer, names=None):
    """An answer as text: "does not apply", yes/no in the reader's language, choices joined, file names."""
    if answer is None:
        return ""
    if answer.not_applicable:
        return _("Does not apply")
    if question.kind is QuestionKind.file_upload:
        return ", ".join((names or {}).get(i, f"#{i}") for i in answer.documents())
    if question.kind is QuestionKind.yes_no and answer.value in ("yes", "no"):
        return _("Yes") if answer.value == "yes" else _("No")
    if question.kind is QuestionKind.multiple_choice:
        return ", ".join(organizers._list(answer.value))
    return answer.value or ""


def review_rows(organizer):
    """Every question of the organizer, in order (a fixed number of queries)."""
    sections = organizers.questions(organizer)
    answer_map = organizers.answers(organizer)
    last = organizers.previous(organizer)
    visible = organizers.shown(sections, answer_map)
    ids = {i for a in answer_map.values() for i in a.documents()}
    names = dict(db.session.execute(select(Document.id, Document.name).where(Document.id.in_(ids)))) if ids else {}
    rows = []
    for section in sections:
        for question in section.questions:
            answer, before = answer_map.get(question.id), last.get(question.key)
            rows.append(Row(section.title, question, display(question, answer, names),
                            display(before[0], before[1]) if before else "", question.id in visible,
                            bool(before) and organizers.changed(answer, before),
                            answer.documents() if answer else []))
    return rows


def to_csv(organizer):
    """The organizer as CSV text: section, question, answer, last year's answer, changed."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow([_("Section"), _("Question"), _("Answer"), _("Last year"), _("Changed")])
    for row in review_rows(organizer):
        if row.shown:
            writer.writerow([_safe(row.section), _safe(row.question.label), _safe(row.answer), _safe(row.last),
                             _("Yes") if row.changed else ""])
    return out.getvalue()


def _safe(text):
    """Text that a spreadsheet will not run as a formula."""
    text = str(text or "")
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def to_pdf(organizer):
    """The organizer as a PDF (bytes): a heading, then each section's questions and answers."""
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.styles import getSampleStyleSheet
    from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table
    from xml.sax.saxutils import escape

    styles = getSampleStyleSheet()
    buffer = io.BytesIO()
    story = [Paragraph(escape(f"{organizer.name} {organizer.tax_year} — {organizer.entity.name}"), styles["Title"])]
    section = None
    data = []
    for row in (r for r in review_rows(organizer) if r.shown):
        if row.section != section:
            if data:
                story += [Table(data, colWidths=[220, 160, 120]), Spacer(1, 8)]
            section, data = row.section, []
            story.append(Paragraph(escape(section), styles["Heading2"]))
        mark = " *" if row.changed else ""
        data.append([Paragraph(escape(row.question.label), styles["BodyText"]),
                     Paragraph(escape(row.answer + mark), styles["BodyText"]),
                     Paragraph(escape(row.last), styles["BodyText"])])
    if data:
        story.append(Table(data, colWidths=[220, 160, 120]))
    story.append(Paragraph(escape(_("* changed since last year")), styles["Italic"]))
    SimpleDocTemplate(buffer, pagesize=A4, title=f"{organizer.name} {organizer.tax_year}").build(story)
    return buffer.getvalue()
