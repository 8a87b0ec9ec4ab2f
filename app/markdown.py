"""Safe Markdown for descriptions and messages: rendered, then cleaned to an allow-list of tags."""
import markdown as md
import nh3
from markupsafe import Markup

TAGS = {"p", "br", "strong", "em", "ul", "ol", "li", "a", "code", "pre", "blockquote", "h3", "h4", "hr"}
ATTRIBUTES = {"a": {"href", "title"}}


def render(text):
    """HTML for user Markdown: raw HTML is escaped first, links are http(s)/mailto only, rel=noopener."""
    if not text:
        return Markup("")
    html = md.markdown(text.replace("<", "&lt;"), extensions=["sane_lists", "nl2br"], output_format="html")
    return Markup(nh3.clean(html, tags=TAGS, attributes=ATTRIBUTES, url_schemes={"http", "https", "mailto"},
                            link_rel="noopener noreferrer nofollow"))


def register(app):
    """Offer `{{ text|markdown }}` in templates."""
    app.jinja_env.filters["markdown"] = render
