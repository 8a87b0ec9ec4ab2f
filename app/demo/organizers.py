"""The demo firm's "Individual tax organizer", in English and in Estonian; last year's copy answered and
reviewed for the first client, this year's waiting for them."""
from flask_babel import force_locale
from sqlalchemy import select

from app.extensions import db
from app.models import OrganizerTemplate
from app.services import organizer_templates as templates
from app.services import organizer_sending, organizers

# (section, [(key, kind, label, help, required, choices, condition (key, value) or None)]) per language.
_EN = ("Individual tax organizer", "Please answer for the tax year. Last year's answers are shown beside each question.", [
    ("About you", [
        ("marital", "single_choice", "Marital status on 31 December", None, True, "Single\nMarried\nDivorced\nWidowed", None),
        ("dependants", "yes_no", "Did you have new dependants this year?", "A child born or adopted, or a relative you support.",
         True, None, None),
        ("dependants_count", "number", "How many new dependants?", None, True, None, ("dependants", "yes")),
        ("moved", "date", "If you moved, the date you moved", None, False, None, None)]),
    ("Income", [
        ("wages", "money", "Wages and salary (total)", "From your W-2s.", True, None, None),
        ("w2", "file_upload", "Upload your W-2 forms", "Up to 3 files: PDF or a photo.", False, None, None),
        ("sold_property", "yes_no", "Did you sell property or shares?", None, True, None, None),
        ("sales", "long_text", "Describe what you sold, when, and for how much", None, True, None, ("sold_property", "yes")),
        ("crypto", "multiple_choice", "Did you hold or trade crypto assets?", None, False,
         "Held only\nSold or exchanged\nReceived as payment", None)]),
    ("Deductions", [
        ("charity", "money", "Charitable gifts", None, False, None, None),
        ("notes", "long_text", "Anything else we should know?", None, False, None, None)]),
])
_ET = ("Üksikisiku maksuküsimustik", "Palun vastake maksuaasta kohta. Eelmise aasta vastused on iga küsimuse kõrval.", [
    ("Teie andmed", [
        ("marital", "single_choice", "Perekonnaseis 31. detsembril", None, True, "Vallaline\nAbielus\nLahutatud\nLesk", None),
        ("dependants", "yes_no", "Kas teil lisandus sel aastal ülalpeetavaid?", "Sündinud või lapsendatud laps või toetatav sugulane.",
         True, None, None),
        ("dependants_count", "number", "Mitu ülalpeetavat lisandus?", None, True, None, ("dependants", "yes")),
        ("moved", "date", "Kui kolisite, siis kolimise kuupäev", None, False, None, None)]),
    ("Tulu", [
        ("wages", "money", "Palk kokku", "Tööandja väljavõtete järgi.", True, None, None),
        ("w2", "file_upload", "Laadige üles palgatõendid", "Kuni 3 faili: PDF või foto.", False, None, None),
        ("sold_property", "yes_no", "Kas müüsite kinnisvara või aktsiaid?", None, True, None, None),
        ("sales", "long_text", "Kirjeldage, mida, millal ja mis hinnaga müüsite", None, True, None, ("sold_property", "yes")),
        ("crypto", "multiple_choice", "Kas teil oli või kauplesite krüptovaraga?", None, False,
         "Ainult hoidsin\nMüüsin või vahetasin\nSain tasuna", None)]),
    ("Mahaarvamised", [
        ("charity", "money", "Annetused", None, False, None, None),
        ("notes", "long_text", "Midagi muud, mida peaksime teadma?", None, False, None, None)]),
])


def _build(user, spec, language):
    name, description, sections = spec
    row = templates.create(user, name, language, description)
    for title, _questions in sections:
        row = templates.add_section(row, user, title)
    for section, (_title, questions) in zip(list(row.sections), sections):
        for key, kind, label, help_text, required, choices, condition in questions:
            row = templates.save_question(row, user, section.id, {
                "key": key, "kind": kind, "label": label, "help": help_text, "required": required, "choices": choices,
                "max_files": 3 if kind == "file_upload" else 1, "condition_key": condition[0] if condition else None,
                "condition_value": condition[1] if condition else None})
    return row


def seed_organizers(entity, accountant, contact, estonian_entity=None):
    """Both templates (once); last year's English organizer answered by `contact` and reviewed, this year's
    sent; the Estonian one sent to `estonian_entity`."""
    if db.session.scalar(select(OrganizerTemplate.id).limit(1)) is not None:
        return
    english = _build(accountant, _EN, "en")
    estonian = _build(accountant, _ET, "et")
    with force_locale("en"):
        last = organizer_sending.send(accountant, english, [entity], 2024)[0]
        by_key = {q.key: q.id for s in english.sections for q in s.questions}
        for key, value in (("marital", "Married"), ("dependants", "no"), ("wages", "84250"),
                           ("sold_property", "no"), ("charity", "1200")):
            organizers.save_answer(last, by_key[key], contact.user or accountant, 0, value)
        organizers.submit(last, contact, contact.user or accountant)
        organizers.mark_reviewed(last, accountant)
        organizer_sending.send(accountant, english, [entity], 2025)
        if estonian_entity is not None:
            organizer_sending.send(estonian_entity.responsible or accountant, estonian, [estonian_entity], 2025)
