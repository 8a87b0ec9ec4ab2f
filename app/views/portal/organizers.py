"""Portal organizer pages: one section at a time with progress; every answer saved as it is given
(app/static/portal/organizer.js posts each change; without the script each question's form posts);
"same as last year"; uploads for file questions; submit.

The organizer comes through the access scope (its task must be assigned to the contact: else 404).
A save names the answer's version it started from: a stale one is refused with 409 and the newer
answer, so two tabs never overwrite each other silently. Views only read the form and delegate to
app.services.organizers.
"""
from flask import flash, g, jsonify, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from app.models import Organizer
from app.models.organizers import QuestionKind
from app.security import guard
from app.services import documents, organizer_exports, organizer_uploads, organizers
from app.views.portal import bp, may_contribute, use_entity
from app.views.portal.tasks import chosen_files, refuse, save_files, upload_answer, upload_settings, wants_json


def _organizer(organizer_id):
    row = guard.load(current_user, Organizer, organizer_id)
    use_entity(row.entity_id)
    return row


def _review_url(row):
    return url_for("OrganizerView.show", organizer_id=row.id, _external=True)


def _number(raw, top):
    return min(max(int(raw), 0), top) if raw and raw.isascii() and raw.isdigit() and len(raw) < 6 else 0


@bp.route("/organizers/<int:organizer_id>")
def organizer(organizer_id):
    """One section of the organizer (?section=N, from 0), with last year's answers beside."""
    row = _organizer(organizer_id)
    sections = organizers.questions(row)
    answer_map = organizers.answers(row)
    visible = organizers.shown(sections, answer_map)
    number = _number(request.args.get("section"), max(len(sections) - 1, 0))
    done, total, missing = organizers.progress(row, sections, answer_map)
    last = organizers.previous(row)
    return render_template(
        "portal/organizers/show.html", item=row, title=str(row), sections=sections, number=number,
        section=sections[number] if sections else None, answers=answer_map, visible=visible,
        last={k: organizer_exports.display(q, a) for k, (q, a) in last.items()}, done=done,
        total=total, missing=missing if row.is_open() else [],
        kinds=QuestionKind, can_upload=may_contribute(row.entity), upload=upload_settings(),
        files=organizer_uploads.uploaded(current_user, answer_map),
        values=lambda a: organizers._list(a.value) if a else [])


def _answer_json(row, answer, status=200, error=None):
    """The saved answer, the questions shown now and the progress (the page updates without a reload)."""
    sections, answer_map = organizers.questions(row), organizers.answers(row)
    done, total, missing = organizers.progress(row, sections, answer_map)
    body = {"version": answer.version if answer else 0, "value": answer.value if answer else None,
            "not_applicable": bool(answer and answer.not_applicable),
            "shown": sorted(organizers.shown(sections, answer_map)),
            "progress": {"done": done, "total": total, "missing": [q.label for q in missing],
                         "text": _("%(done)d of %(total)d questions answered", done=done, total=total)}}
    if error:
        body["error"] = error
    return jsonify(body), status


def _back(row, question_id):
    section = request.form.get("section", "")
    return redirect(url_for("portal.organizer", organizer_id=row.id, section=section if section.isdigit() else 0,
                            _anchor=f"q-{question_id}"))


def _save(row, question_id, save, done=None):
    """Run one save and answer: JSON for the script (409 for a stale version), else flash (`done` on
    success, when given) and back."""
    try:
        answer = save()
    except organizers.StaleAnswer as exc:
        if wants_json():
            return _answer_json(row, exc.answer, 409, str(exc))
        flash(str(exc), "warning")
    except organizers.OrganizerError as exc:
        if wants_json():
            return jsonify({"error": str(exc)}), 400
        flash(str(exc), "error")
    except LookupError:
        return (jsonify({"error": _("Not found")}), 404) if wants_json() else _back(row, question_id)
    else:
        if wants_json():
            return _answer_json(row, answer)
        if done:
            flash(done, "success")
    return _back(row, question_id)


def _version():
    raw = request.form.get("version", "")
    return int(raw) if raw.isascii() and raw.isdigit() and len(raw) < 10 else 0


@bp.route("/organizers/<int:organizer_id>/answers/<int:question_id>", methods=["POST"])
def organizer_answer(organizer_id, question_id):
    """Save one answer (value, or several values for multiple choice; or "does not apply")."""
    row = _organizer(organizer_id)
    values = request.form.getlist("value")
    value = values if request.form.get("multiple") else (values[0] if values else None)
    return _save(row, question_id, lambda: organizers.save_answer(
        row, question_id, current_user, _version(), value, not_applicable=request.form.get("not_applicable") == "1"))


@bp.route("/organizers/<int:organizer_id>/answers/<int:question_id>/same", methods=["POST"])
def organizer_same(organizer_id, question_id):
    """Take last year's answer to the question (files are not copied: they belong to last year)."""
    row = _organizer(organizer_id)

    def same():
        question = next((q for s in organizers.questions(row) for q in s.questions if q.id == question_id), None)
        before = organizers.previous(row).get(getattr(question, "key", None))
        if question is None or before is None:
            raise LookupError(question_id)
        value = organizers._list(before[1].value) if question.kind is QuestionKind.multiple_choice else before[1].value
        return organizers.save_answer(row, question_id, current_user, _version(), value,
                                      not_applicable=before[1].not_applicable)
    return _save(row, question_id, same)


@bp.route("/organizers/<int:organizer_id>/answers/<int:question_id>/files", methods=["POST"])
def organizer_upload(organizer_id, question_id):
    """Files for a file question: the entity's documents, linked to the question."""
    row = _organizer(organizer_id)
    if not may_contribute(row.entity):
        return refuse(_("Your access lets you read and reply, not add files."))
    back = url_for("portal.organizer", organizer_id=row.id, section=request.form.get("section", "0"),
                   _anchor=f"q-{question_id}")
    files = chosen_files()
    if not files:
        return upload_answer([], [_("Choose at least one file.")], 400, back)

    def one(storage):
        try:
            return organizer_uploads.add_upload(row, question_id, current_user, storage)[1]
        except (LookupError, organizers.OrganizerError) as exc:  # reported per file, like a refused type
            raise documents.DocumentError(str(exc) if isinstance(exc, ValueError) else _("Not found")) from None
    saved, errors, status = save_files(files, one)
    return upload_answer(saved, errors, status, back)


@bp.route("/organizers/<int:organizer_id>/answers/<int:question_id>/files/<int:doc_id>/remove", methods=["POST"])
def organizer_file_remove(organizer_id, question_id, doc_id):
    """Take a file off its question while the organizer is open (the document stays in the entity's
    documents unless the remover may delete it)."""
    row = _organizer(organizer_id)
    try:
        return _save(row, question_id, lambda: organizer_uploads.remove_upload(row, question_id, current_user, doc_id),
                     _("The file was taken off the question."))
    except PermissionError as exc:
        return refuse(str(exc))


@bp.route("/organizers/<int:organizer_id>/submit", methods=["POST"])
def organizer_submit(organizer_id):
    """Hand the organizer in to the firm (read-only afterwards)."""
    row = _organizer(organizer_id)
    try:
        organizers.submit(row, g.contact, current_user, review_url=_review_url(row))
    except organizers.OrganizerError as exc:
        flash(str(exc), "error")
        return redirect(url_for("portal.organizer", organizer_id=row.id, section=request.form.get("section", "0")))
    flash(_("Thank you. The organizer was sent to the firm."), "success")
    return redirect(url_for("portal.organizer", organizer_id=row.id))
