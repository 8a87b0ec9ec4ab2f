"""Relation choices loaded on demand: form fields and search filters that never embed every row.

A relation field renders only its selected rows plus, in every form but the search filters, a small
first page (so forms work without JavaScript); Select2 fetches the rest from the view's `choices`
endpoint as the user types. Every row offered, searched or accepted comes from the access module's
scope for the related model.
"""
from flask import abort, jsonify, redirect, request, url_for
from flask_appbuilder.baseviews import expose
from flask_appbuilder.models.sqla.interface import SQLAInterface
from flask_appbuilder.widgets import SearchWidget
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from markupsafe import Markup, escape
from sqlalchemy import or_
from wtforms.fields import Field
from wtforms.validators import DataRequired, ValidationError

from app.extensions import db
from app.models import ClientRequest, Contact, ContactEmail, ContactGroup, Document, Entity, Folder, Task, TaskSeries
from app.security import access
from app.security import roles as R

FIRST_PAGE = 20  # options rendered into a page (the no-JavaScript fallback)
PAGE_SIZE = 20  # rows per typeahead answer
MAX_PAGE = 50  # deeper pages are refused: type more letters instead
NONE = "__None"


def _user_model():
    from flask_appbuilder.security.sqla.models import User

    return User


def search_columns(model):
    """The text columns a typeahead matches and orders by, per related model."""
    user = _user_model()
    columns = {
        Entity: (Entity.name,), Contact: (Contact.last_name, Contact.first_name), ContactGroup: (ContactGroup.name,),
        ContactEmail: (ContactEmail.email,), Folder: (Folder.name,), Document: (Document.name,),
        Task: (Task.title,), TaskSeries: (TaskSeries.title,), ClientRequest: (ClientRequest.subject,),
        user: (user.last_name, user.first_name, user.username),
    }
    return columns.get(model)


def is_scoped(model):
    """Whether `model` gets on-demand choices: the access module scopes it and it has a name to search."""
    return search_columns(model) is not None and access.is_scoped(model)


def scope_action(rel_filters):
    """The access action an `in_scope(...)` entry of *_query_rel_fields asks for (VIEW if none)."""
    for entry in rel_filters or ():
        if getattr(entry[1], "__name__", "") == "InScope":
            return entry[2] or R.VIEW
    return R.VIEW


def choices_query(model, action, text="", rel_filters=None):
    """Rows of `model` in the current user's scope for `action`, matching `text`, in label order."""
    query = db.session.query(model).filter(access.scope(current_user, model, action))
    others = [entry for entry in rel_filters or () if getattr(entry[1], "__name__", "") != "InScope"]
    if others:
        query = SQLAInterface(model, db.session).get_filters().add_filter_list(others).apply_all(query)
    columns = search_columns(model)
    text = (text or "").strip()[:100]
    if text:
        pattern = "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        query = query.filter(or_(*[column.ilike(pattern, escape="\\") for column in columns]))
    return query.order_by(*columns, model.id)


def page_of(model, action, text, page, rel_filters=None):
    """One page of typeahead results as Select2 expects them: {results: [{id, text}], pagination}."""
    rows = choices_query(model, action, text, rel_filters).offset(page * PAGE_SIZE).limit(PAGE_SIZE + 1).all()
    more = len(rows) > PAGE_SIZE and page + 1 < MAX_PAGE
    return {"results": [{"id": row.id, "text": str(row)} for row in rows[:PAGE_SIZE]], "pagination": {"more": more}}


def _pks(values):
    """Integer ids from submitted values; None if any value is not a plain id."""
    out = []
    for raw in values:
        raw = str(raw)
        if not (raw.isascii() and raw.isdigit()) or len(raw) > 18:
            return None
        out.append(int(raw))
    return out


class ChoicesWidget:
    """A <select> holding the selected rows and a first page; Select2 loads the rest by URL."""

    def __call__(self, field, **kwargs):
        selected = {row.id for row in field.selected_rows()}
        options = [] if field.multiple or not field.allow_blank else [(NONE, "", not selected)]
        seen = set()
        for row in field.selected_rows() + field.first_page():
            if row.id not in seen:
                seen.add(row.id)
                options.append((str(row.id), str(row), row.id in selected))
        kwargs.pop("class", None)
        kwargs.pop("class_", None)
        attrs = {"id": kwargs.pop("id", field.id), "name": field.name, "class": "form-control portico-choices",
                 "data-choices-url": field.url(), "data-placeholder": str(_l("Type to search")), **kwargs}
        if field.multiple:
            attrs["multiple"] = "multiple"
        html = " ".join(f'{key}="{escape(value)}"' for key, value in attrs.items())
        body = "".join(f'<option value="{escape(v)}"{" selected" if s else ""}>{escape(t)}</option>'
                       for v, t, s in options)
        return Markup(f"<select {html}>{body}</select>")


class ChoicesField(Field):
    """A relation (many-to-one, or many-to-many when `multiple`) whose rows come from the scope."""

    widget = ChoicesWidget()

    def __init__(self, label=None, validators=None, model=None, action=R.VIEW, rel_filters=None,
                 endpoint=None, form_kind="search", multiple=False, allow_blank=True, **kwargs):
        super().__init__(label, validators, default=[] if multiple else None, **kwargs)
        self.model, self.action, self.rel_filters = model, action, rel_filters
        self.endpoint, self.form_kind, self.multiple, self.allow_blank = endpoint, form_kind, multiple, allow_blank
        self._pending = None
        self._invalid = False
        self._first = None
        self.preselected = []

    def url(self):
        """The typeahead endpoint for this field."""
        return url_for(f"{self.endpoint}.choices", field=self.short_name, form=self.form_kind)

    def _query(self):
        return choices_query(self.model, self.action, rel_filters=self.rel_filters)

    def first_page(self):
        """The first rows in label order (rendered so a form works without JavaScript).
        A search filter renders none: FAB's filters need JavaScript anyway, and Select2 fetches the
        rows when the filter opens (two queries of a list page fewer: 30 ms for a scoped member at
        100,000 clients)."""
        if self._first is None:
            self._first = [] if self.form_kind == "search" else self._query().limit(FIRST_PAGE).all()
        return self._first

    def selected_rows(self):
        """The rows currently chosen (data or preselected ids), as objects."""
        data = self.data if self.multiple else ([self.data] if self.data is not None else [])
        data = [row for row in data if isinstance(row, self.model)]
        if self.preselected:
            wanted = [pk for pk in _pks(self.preselected) or [] if pk not in {row.id for row in data}]
            if wanted:
                data = data + self._query().filter(self.model.id.in_(wanted)).all()
        return data

    def process_formdata(self, valuelist):
        """Load the submitted ids, in scope only; anything else marks the field invalid."""
        values = [v for v in valuelist if v not in ("", NONE)]
        if not self.multiple:
            values = values[:1]
        pks = _pks(values)
        if pks is None:
            self._invalid = True
            self.data = [] if self.multiple else None
            return
        rows = self._query().filter(self.model.id.in_(pks)).all() if pks else []
        self._invalid = len({row.id for row in rows}) != len(set(pks))
        self.data = rows if self.multiple else (rows[0] if rows else None)

    def pre_validate(self, form):
        """Refuse ids outside the scope or malformed; a single choice may be required."""
        if self._invalid:
            raise ValidationError(self.gettext("Not a valid choice"))


class ChoicesSearchWidget(SearchWidget):
    """FAB's search widget, whose relation filters show only the active filter's row."""

    def __call__(self, **kwargs):
        form = self.template_args["form"]
        active = self.filters.get_filters_values()
        for col in self.template_args["include_cols"]:
            if isinstance(form[col], ChoicesField):
                values = [value for flt, value in active if flt.column_name == col]
                form[col].preselected = [str(v) for value in values
                                         for v in (value if isinstance(value, list) else [value])]
        return super().__call__(**kwargs)


FORM_PERMISSIONS = {"search": "can_list", "add": "can_add", "edit": "can_edit"}


class ChoicesMixin:
    """For a ModelView: relation fields of the search, add and edit forms become ChoicesFields, and
    `/<view>/api/choices/<field>?form=search|add|edit&q=…&page=…` answers their typeahead."""

    search_widget = ChoicesSearchWidget
    # Custom forms of the view with ChoicesFields: {form kind: (permission, {field: (model, action)})}.
    extra_choice_forms = {}

    def __init__(self, **kwargs):
        if self.include_route_methods is not None:  # views that list their routes still get the typeahead
            self.include_route_methods = set(self.include_route_methods) | {"choices"}
        super().__init__(**kwargs)

    def _init_forms(self):
        self._choice_fields = {(kind, col): (model, action, None) for kind, (_, fields) in
                               self.extra_choice_forms.items() for col, (model, action) in fields.items()}
        for kind in FORM_PERMISSIONS:
            extra = self._choice_extras(kind)
            setattr(self, f"{kind}_form_extra_fields", {**extra, **(getattr(self, f"{kind}_form_extra_fields") or {})})
        super()._init_forms()

    def _choice_extras(self, kind):
        """ChoicesFields for the scoped relation columns of one form."""
        columns = self.search_columns if kind == "search" else getattr(self, f"{kind}_columns") or []
        taken = getattr(self, f"{kind}_form_extra_fields") or {}
        rel_fields = getattr(self, f"{kind}_form_query_rel_fields") or {}
        extra = {}
        for col in columns:
            if col in taken or not self.datamodel.is_relation(col):
                continue
            model = self.datamodel.get_related_model(col)
            many = self.datamodel.is_relation_many_to_many(col)
            if not is_scoped(model) or not (many or self.datamodel.is_relation_many_to_one(col)):
                continue
            action = scope_action(rel_fields.get(col))
            self._choice_fields[(kind, col)] = (model, action, rel_fields.get(col))
            extra[col] = self._choice_field(kind, col, model, action, rel_fields.get(col), many and kind != "search")
        return extra

    def _choice_field(self, kind, col, model, action, rel_filters, multiple):
        required = kind != "search" and not multiple and not self.datamodel.is_nullable(col)
        validators = list(self.validators_columns.get(col, [])) if kind != "search" else []
        if required:
            validators.insert(0, DataRequired())
        return ChoicesField(
            self.label_columns.get(col, col), validators, model=model, action=action, rel_filters=rel_filters,
            endpoint=type(self).__name__, form_kind=kind, multiple=multiple, allow_blank=not required,
            description=self.description_columns.get(col, "") if kind != "search" else "")

    @expose("/api/choices/<field>")
    def choices(self, field):
        """Typeahead for one relation field: a page of in-scope rows matching ?q= (JSON)."""
        if not current_user.is_authenticated:
            return redirect(url_for(f"{type(self.appbuilder.sm.auth_view).__name__}.login", next=request.url))
        kind = request.args.get("form", "search")
        permission = FORM_PERMISSIONS.get(kind) or self.extra_choice_forms.get(kind, (None,))[0]
        if permission is None:
            abort(404)
        if not self.appbuilder.sm.has_access(permission, self.class_permission_name):
            abort(403)
        spec = self._choice_fields.get((kind, field))
        page = request.args.get("page", "1")
        if spec is None or not page.isdigit() or not 1 <= int(page) <= MAX_PAGE:
            abort(404)
        model, action, rel_filters = spec
        return jsonify(page_of(model, action, request.args.get("q", ""), int(page) - 1, rel_filters))
