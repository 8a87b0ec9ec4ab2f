"""User Markdown is rendered safely: formatting kept, HTML and script links removed."""
import pytest

from app.markdown import render


@pytest.mark.parametrize("text, present, absent", [
    ("**Bold** and _it_", ["<strong>Bold</strong>", "<em>it</em>"], []),
    ("<script>alert(1)</script>", ["&lt;script&gt;"], ["<script>"]),
    ("[x](javascript:alert(1))", [], ["javascript:"]),
    ('<img src=x onerror="alert(1)">', ["&lt;img"], ["<img"]),
    ("[site](https://example.com)", ['href="https://example.com"', 'rel="noopener noreferrer nofollow"'], []),
    ("- one\n- two", ["<li>one</li>", "<li>two</li>"], []),
])
def test_markdown_is_rendered_and_sanitised(text, present, absent):
    """Allowed formatting survives; raw HTML is escaped and unsafe link schemes are dropped."""
    html = str(render(text))
    for part in present:
        assert part in html
    for part in absent:
        assert part not in html
