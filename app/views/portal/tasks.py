"""Portal task page: description, checklist, files, thread, reply, uploads, mark as done."""
from flask import render_template

from app.models import Task
from app.views.portal import bp, load_or_404, use_entity


@bp.route("/tasks/<int:task_id>")
def task(task_id):
    """One task assigned to the contact."""
    row = load_or_404(Task, task_id)
    use_entity(row.entity_id)
    return render_template("portal/tasks/show.html", task=row, title=row.title)
