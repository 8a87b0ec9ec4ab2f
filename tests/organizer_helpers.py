"""A small organizer template and an organizer sent from it, for the organizer tests."""
from app.services import organizer_templates as templates
from app.services import organizer_sending, organizers


def template(user, name="Individual tax organizer"):
    """A template: About you (dependants yes/no; how many, required, shown on "yes"), Income (wages,
    required money; W-2s, up to 2 files)."""
    row = templates.create(user, name)
    row = templates.add_section(row, user, "About you")
    row = templates.add_section(row, user, "Income")
    about, income = row.sections
    row = templates.save_question(row, user, about.id, {"key": "dependants", "label": "New dependants?",
                                                        "kind": "yes_no", "required": True})
    row = templates.save_question(row, user, about.id, {"key": "how_many", "label": "How many?", "kind": "number",
                                                        "required": True, "condition_key": "dependants",
                                                        "condition_value": "yes"})
    row = templates.save_question(row, user, income.id, {"key": "wages", "label": "Wages", "kind": "money",
                                                         "required": True})
    row = templates.save_question(row, user, income.id, {"key": "w2", "label": "Your W-2s", "kind": "file_upload",
                                                         "max_files": 2})
    return row


def question(row, key):
    """The question of `row` (a template version) with `key`."""
    return next(q for s in row.sections for q in s.questions if q.key == key)


def send(user, row, entity, year=2026):
    """One organizer of `row` for `entity`."""
    return organizer_sending.send(user, row, [entity], year)[0]
