"""Email open and click tracking: unguessable signed tokens, a pixel, rewritten links."""

from __future__ import annotations

import html
import re
import secrets
from datetime import timedelta

from kanban.security import signer, unsign

SALT_CLICK = "kanban.track.click"
# Opens and clicks of emails older than this are ignored: tokens expire with the campaign they belong to.
TRACKING_MAX_AGE = timedelta(days=180)
_HREF = re.compile(r"""(<a\b[^>]*?\bhref\s*=\s*)(["'])(https?://[^"'<>\s]+)\2""", re.IGNORECASE)


def new_email_token() -> str:
    """A random, unguessable token identifying one sent email."""
    return secrets.token_urlsafe(24)


def click_token(secret: str, email_token: str, link_index: int) -> str:
    """A signed token naming an email and which of its links was followed."""
    return signer(secret, SALT_CLICK).dumps([email_token, link_index])


def parse_click_token(secret: str, token: str) -> tuple[str, int] | None:
    """(email token, link index) from a click token, or None when forged or expired."""
    value = unsign(secret, SALT_CLICK, token, max_age=int(TRACKING_MAX_AGE.total_seconds()))
    if (isinstance(value, list) and len(value) == 2 and isinstance(value[0], str)
            and isinstance(value[1], int)):
        return value[0], value[1]
    return None


def prepare_html(body_html: str, *, secret: str, public_url: str, email_token: str) -> tuple[str, list[str]]:
    """Rewrite http(s) links to tracked redirects and append the open pixel; returns (html, original links)."""
    base = public_url.rstrip("/")
    links: list[str] = []

    def rewrite(match: re.Match[str]) -> str:
        original = html.unescape(match.group(3))
        links.append(original)
        tracked = f"{base}/t/c/{click_token(secret, email_token, len(links) - 1)}"
        return f"{match.group(1)}{match.group(2)}{tracked}{match.group(2)}"

    rewritten = _HREF.sub(rewrite, body_html)
    pixel = f'<img src="{base}/t/o/{email_token}.gif" width="1" height="1" alt="" style="display:none">'
    return rewritten + pixel, links
