"""What every Portico back-office screen shares: rows, choices and actions go through access."""
import logging

from flask import abort, flash, redirect, request
from flask_appbuilder import ModelView
from flask_appbuilder.actions import action as fab_action
from flask_appbuilder.baseviews import expose
from flask_appbuilder.security.decorators import has_access
from flask_appbuilder.models.filters import BaseFilter
from flask_appbuilder.models.sqla.interface import SQLAInterface
from flask_appbuilder.utils.base import is_column_dotted
from flask_babel import format_number
from flask_babel import gettext as _
from flask_babel import ngettext
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from sqlalchemy.exc import SQLAlchemyError
from wtforms import SelectField
from wtforms.validators import ValidationError

from app.security import access
from app.security import roles as R
from app.security.guard import MAX_PK, parse_pk, require  # noqa: F401  (parse_pk: imported from here by the screens)
from app.views.choices import ChoicesMixin
from app.views.readable import ReadableMixin
from app.web import page_cache

log = logging.getLogger(__name__)


class InScope(BaseFilter):
    """FAB filter: only rows the current user may take the given action on (value = action)."""

    name = _l("In scope")

    def apply(self, query, value):
        """Add the access module's WHERE clause for this model."""
        return query.filter(access.scope(current_user, self.model, value or R.VIEW))


def in_scope(action=R.VIEW):
    """A base_filters / query_rel_fields entry limiting rows to the user's scope."""
    return [["id", InScope, action]]


class DataError(Exception):
    """A database refusal shown to the user without any row data or SQL."""


COUNT_CAP = 10_000  # list counts stop here; pages beyond it are not served (filter or sort instead)


class CappedCount(int):
    """A list's row count that reached COUNT_CAP: pagination works up to the cap, and the page
    shows "10,000+" instead of a number that would cost a full count(*) on every page."""

    def __str__(self):
        return _("%(count)s+", count=format_number(COUNT_CAP))


class SafeInterface(SQLAInterface):
    """SQLAInterface whose add/edit/delete failures never carry SQL or row data to the page.

    `eager` loader options are applied to list queries so a page runs a fixed number of queries.
    Counts stop at COUNT_CAP and pages past it come back empty, so no list runs a full count(*)
    or a deep OFFSET.
    """

    def __init__(self, obj, session=None, eager=()):
        super().__init__(obj, session)
        self.eager = tuple(eager)

    def query(self, filters=None, order_column="", order_direction="", page=None, page_size=None,
              select_columns=None, outer_default_load=False):
        """(capped count, the page's rows with their eager relations): the rows picked by id first
        (`_page_by_ids`) unless FAB asks for select columns or the order is on a related column."""
        query = self.session.query(self.obj)
        count = self.query_count(query, filters, select_columns)
        if page and page_size and page * page_size >= COUNT_CAP:
            return count, []
        if select_columns or is_column_dotted(order_column):  # the id subquery holds that join alone
            query = self.apply_all(query, filters, order_column, order_direction, page, page_size,
                                   select_columns, outer_default_load)
        else:
            query = self._page_by_ids(query, filters, order_column, order_direction, page, page_size)
        if self.eager:
            query = query.options(*self.eager)
        return count, query.all()

    def _page_by_ids(self, query, filters, order_column, order_direction, page, page_size):
        """The page's rows joined to a subquery picking their ids: the filter, order and LIMIT run on the
        narrow id query (index-only where an index covers them), and the eager joins only on the page's
        rows instead of every row before the top-N sort."""
        inner = self._apply_inner_all(query, filters, order_column, order_direction, page, page_size,
                                      aliases_mapping={})
        outer = self.get_outer_query_from_inner_query(query, inner)
        return self.apply_order_by(outer, order_column, order_direction, aliases_mapping={}, add_pk=True)

    def query_count(self, query, filters=None, select_columns=None):
        """The number of rows, counted no further than COUNT_CAP (then a CappedCount)."""
        inner = self._apply_inner_all(query, filters, select_columns=select_columns, aliases_mapping={})
        count = inner.limit(COUNT_CAP + 1).count()
        return CappedCount(COUNT_CAP) if count > COUNT_CAP else count

    def _safe(self, method, item):
        try:
            return method(item)
        except SQLAlchemyError as exc:
            log.warning("database refused %s on %s: %s", method.__name__, self.obj.__name__, exc)
            raise DataError(_("The change could not be saved. Please check the values and try again."))

    def add(self, item, raise_exception=False):
        """Add, hiding database details on failure."""
        return self._safe(super().add, item)

    def edit(self, item, raise_exception=False):
        """Edit, hiding database details on failure."""
        return self._safe(super().edit, item)

    def delete(self, item, raise_exception=False):
        """Delete, hiding database details on failure."""
        return self._safe(super().delete, item)


def older_than():
    """The ?before= message id of an "older messages" page of a thread, or None for the latest page."""
    raw = request.args.get("before", "")
    return int(raw) if raw.isascii() and raw.isdigit() and len(raw) < 20 and int(raw) <= MAX_PK else None


class SafeArgsMixin:
    """Malformed ids, filter numbers, sort columns and page sizes answer 404/400, never 500."""

    def _list(self, **kwargs):
        try:
            return super()._list(**kwargs)
        except (IndexError, KeyError, ValueError, OverflowError, SQLAlchemyError):
            self.datamodel.session.rollback()
            abort(400)

    def _show(self, pk):
        return super()._show(parse_pk(pk))

    def _get_list_widget(self, filters, order_column="", order_direction="", **kwargs):
        # `?_oc_<view>=` is sent by anyone: a column the list cannot sort by (a relation, a typo)
        # is ignored (default order) rather than handed to SQLAlchemy, which raises on relations.
        if order_column not in self.order_columns:
            order_column, order_direction = "", ""
        return super()._get_list_widget(filters, order_column=order_column, order_direction=order_direction,
                                        **kwargs)

    def get_action_permission_name(self, name):
        """The permission of action `name`; an unknown action is a 404 (FAB fails on it with a 500)."""
        if name not in self.actions:
            abort(404)
        return super().get_action_permission_name(name)

    @expose("/action_post", methods=["POST"])
    def action_post(self):
        """FAB's bulk action route, refusing single-row actions and malformed row ids."""
        act = self.actions.get(request.form.get("action", ""))
        pks = request.form.getlist("rowid")
        if act is None:
            abort(404)
        if not self.appbuilder.sm.has_access(self.get_action_permission_name(act.name), self.class_permission_name):
            abort(403)
        if not pks:
            flash(_("No rows were selected."), "warning")
            return redirect(self.get_redirect())
        if not act.multiple and len(pks) != 1:
            abort(400)
        pks = [parse_pk(pk) for pk in pks]
        items = [self._row_for_action(pk) for pk in pks]
        return act.func(items if act.multiple else items[0])

    def _row_for_action(self, pk):
        item = self.datamodel.get(pk, self._base_filters)
        if item is None:
            abort(404)
        return item


class SingleActionMixin:
    """For FAB's own screens: its single-row action route answers an unknown action with 404, one the
    user may not take with 403 and a bulk-only one with 400 (FAB would hand one row to a function that
    expects a list: a 500)."""

    @expose("/action/<string:name>/<pk>", methods=["POST"])
    def action(self, name, pk):
        """FAB's single-row action, once the action is known to take one row."""
        act = self.actions.get(name)
        if act is None:
            abort(404)
        if not self.appbuilder.sm.has_access(self.get_action_permission_name(name), self.class_permission_name):
            abort(403)
        if not act.single:
            abort(400)
        return super().action(name, parse_pk(pk))


class ScopedModelView(ReadableMixin, ChoicesMixin, SafeArgsMixin, ModelView):
    """A ModelView whose every route asks the access module.

    Out of the user's view scope → 404; in scope but without the right → 403. Bulk and single
    actions re-check each row because FAB fetches their rows by bare primary key. Relation fields
    and filters load their in-scope choices on demand (app.views.choices).
    """

    base_filters = in_scope(R.VIEW)
    edit_right = R.EDIT
    delete_right = R.DELETE
    action_rights = {"muldelete": R.DELETE}
    page_size = 25

    @expose("/list/")
    @has_access
    @page_cache.cacheable
    def list(self):
        """FAB's list, whose page may be served again while no row changed (app.web.page_cache)."""
        return super().list()

    def _init_forms(self):
        """Before FAB builds the search, add and edit forms: every relation choice not limited by the
        view itself is limited to the user's scope, so no filter or form names a row out of reach."""
        for attr, columns in (("search_form_query_rel_fields", self.search_columns),
                              ("add_form_query_rel_fields", self.add_columns),
                              ("edit_form_query_rel_fields", self.edit_columns)):
            fields = dict(getattr(self, attr) or {})  # a copy: the class's dict may be shared
            for column in columns:
                if column not in fields and self.datamodel.is_relation(column) and \
                        access.is_scoped(self.datamodel.get_related_model(column)):
                    fields[column] = in_scope(R.VIEW)
            setattr(self, attr, fields)
        super()._init_forms()

    def _item_or_404(self, pk):
        item = self.datamodel.get(parse_pk(pk), self._base_filters)
        if item is None:
            abort(404)
        return item

    def _row_for_action(self, pk):
        """A row for an action: in scope (else 404) and allowed (else 403)."""
        return self._checked_items(request.form.get("action", ""), [pk])[0]

    def _require(self, right, item):
        require(current_user, right, item)

    def _edit(self, pk):
        self._require(self.edit_right, self._item_or_404(pk))
        return super()._edit(pk)

    def _delete(self, pk):
        self._require(self.delete_right, self._item_or_404(pk))
        return super()._delete(pk)

    def _permitted_action(self, name):
        """The action called `name`, if it exists (404) and the user's roles allow it (403)."""
        act = self.actions.get(name)
        if act is None:
            abort(404)
        if not self.appbuilder.sm.has_access(self.get_action_permission_name(name), self.class_permission_name):
            abort(403)
        return act

    def _checked_items(self, name, pks):
        """The rows an action runs on: every one in scope (else 404) and allowed (else 403)."""
        items = [self._item_or_404(pk) for pk in pks]
        for item in items:
            self._require(self.action_rights.get(name, self.edit_right), item)
        return items

    @expose("/action/<string:name>/<pk>", methods=["POST"])
    def action(self, name, pk):
        """Run a single-row action after the permission, scope and right checks."""
        act = self._permitted_action(name)
        if not act.single:
            abort(400)
        return act.func(self._checked_items(name, [pk])[0])

    def download(self, filename):
        """FAB's generic file download is not offered; documents have their own guarded routes."""
        abort(404)


class BulkDeleteMixin:
    """Adds a "Delete" bulk action; each selected row is re-checked by ScopedModelView first."""

    @fab_action("muldelete", _l("Delete"), _l("Delete all selected rows?"), "fa-trash", single=False)
    def muldelete(self, items):
        """Delete the selected rows in one transaction."""
        session = self.datamodel.session
        try:
            for item in items:
                self.pre_delete(item)
                session.delete(item)
            session.commit()
            for item in items:
                self.post_delete(item)
            flash(ngettext("Deleted %(num)d row.", "Deleted %(num)d rows.", len(items)), "success")
        except SQLAlchemyError:
            session.rollback()
            log.warning("bulk delete refused on %s", self.datamodel.obj.__name__, exc_info=True)
            flash(_("The rows could not be deleted; they are still in use."), "danger")
        return redirect(self.get_redirect())


class EnumSelectField(SelectField):
    """A select for a Python Enum column whose option labels are translated when rendered."""

    def __init__(self, label, enum_class, labels, **kwargs):
        self.enum_class = enum_class
        super().__init__(
            label,
            choices=[(member.name, labels[member]) for member in enum_class],
            coerce=self._coerce,
            **kwargs,
        )

    def _coerce(self, value):
        if value is None or isinstance(value, self.enum_class):
            return value
        try:
            return self.enum_class[value]
        except KeyError:
            return value

    def pre_validate(self, form):
        """Accept only members of the enum."""
        if not isinstance(self.data, self.enum_class):
            raise ValidationError(self.gettext("Not a valid choice."))

    def _choices_generator(self, choices):
        for value, label in choices:
            yield (value, label, isinstance(self.data, self.enum_class) and self.data.name == value, {})
