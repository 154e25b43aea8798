"""link_clicked: a tracked link of an email_client message was followed (optionally one given URL)."""

from __future__ import annotations

from typing import Any

from pydantic import field_validator

from kanban.i18n import N_, _
from triggers.registry import KindSettings, Occurrence, TriggerKind, register


@register
class LinkClicked(TriggerKind):
    """Moves the deal when its contact clicks a tracked link, or only the link to `url`."""

    kind = "link_clicked"
    title = N_("Link clicked")

    class Settings(KindSettings):
        """url: react only to clicks on this exact URL (empty: any tracked link)."""

        url: str | None = None

        @field_validator("url")
        @classmethod
        def _http_url(cls, value: str | None) -> str | None:
            value = (value or "").strip() or None
            if value is not None and not value.startswith(("http://", "https://")):
                raise ValueError("url must start with http:// or https://")
            return value

    def matches(self, trigger_id: int, settings: Any, event: Occurrence) -> bool:
        """Any click, or only clicks whose original URL equals the configured one."""
        return settings.url is None or event.data.get("url") == settings.url

    def describe(self, event: Occurrence) -> str:
        """E.g. "link clicked: https://example.com/offer"."""
        return _("link clicked: %(url)s", url=event.data.get("url"))
