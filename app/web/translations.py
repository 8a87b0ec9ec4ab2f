"""Translations looked up once per request instead of once per string.

Flask-Babel resolves the domain, the request's babel context and the locale (and formats the locale
as a string) for every `_()`: a staff list page translates 300 strings, and that lookup cost more
than the translating. `RequestDomain` keeps the request's translations next to the locale they were
loaded for, so a change of locale within the request (`force_locale`, `refresh`) still takes effect.
It reads Flask-Babel's request context (`_get_current_context`, Flask-Babel 4.0 as pinned) and
Flask's app-context variable directly.
"""
from flask.globals import _cv_app
from flask_babel import Domain, get_babel, get_translations
from flask_babel import _get_current_context as babel_context


class RequestDomain(Domain):
    """Flask-Babel's domain, with the translations of the request's locale kept for the request."""

    def get_translations(self):
        """The request's translations (loaded by Flask-Babel once per request and locale)."""
        ctx = babel_context()
        if ctx is None:
            return super().get_translations()
        kept = getattr(ctx, "portico_translations", None)
        locale = getattr(ctx, "babel_locale", None)
        if kept is not None and locale is not None and kept[0] is locale and kept[2] is self:
            return kept[1]
        translations = super().get_translations()  # sets ctx.babel_locale
        ctx.portico_translations = (ctx.babel_locale, translations, self)
        return translations


def request_translations():
    """The request's translations, straight from the babel context when RequestDomain kept them
    (templates translate hundreds of strings: each proxy lookup saved counts)."""
    app_ctx = _cv_app.get(None)
    babel = app_ctx.g.__dict__.get("_flask_babel") if app_ctx is not None else None
    kept = getattr(babel, "portico_translations", None)
    if kept is not None and kept[0] is getattr(babel, "babel_locale", None) and \
            getattr(babel, "babel_domain", None) is kept[2]:
        return kept[1]
    return get_translations()


def register(app):
    """Make the app's default domain a RequestDomain, and let templates ask it directly (before any
    request; the callables are Flask-Babel's own, minus the lookups)."""
    config = get_babel(app)
    config.instance.domain_instance = RequestDomain(domain=config.default_domain)
    app.jinja_env.install_gettext_callables(
        gettext=lambda s: request_translations().ugettext(s),
        ngettext=lambda s, p, n: request_translations().ungettext(s, p, n),
        newstyle=True,
        pgettext=lambda c, s: request_translations().upgettext(c, s),
        npgettext=lambda c, s, p, n: request_translations().unpgettext(c, s, p, n),
    )
