"""modify_deal: set the deal's title, amount or custom fields from templates (fires field_changed triggers)."""

from __future__ import annotations

import re
from typing import Any

from pydantic import Field, field_validator

from kanban.i18n import N_, _
from robots.context import RunContext
from robots.errors import PermanentError, core_refusals
from robots.registry import KindSettings, RobotKind, register

_FIELD = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")


class ModifyDealSettings(KindSettings):
    fields: dict[str, str] = Field(min_length=1, description=N_("Field name → template; `amount` in minor units"))

    @field_validator("fields")
    @classmethod
    def _names(cls, value: dict[str, str]) -> dict[str, str]:
        bad = [name for name in value if not _FIELD.match(name)]
        if bad:
            raise ValueError(f"not a field name: {', '.join(bad)} (letters, digits, _)")
        return value


@register
class ModifyDeal(RobotKind):
    """Change deal fields: `title`, `amount` (minor units) and any custom field name."""

    kind = "modify_deal"
    title = N_("Change deal fields")
    category = "deal"
    Settings = ModifyDealSettings
    outputs = ("changed",)
    templates = {"fields.*": "text"}

    def run(self, ctx: RunContext, settings: ModifyDealSettings) -> dict[str, Any]:
        """Render every value and apply them in one update as this robot."""
        changes: dict[str, Any] = {}
        custom: dict[str, Any] = {}
        for name, template in settings.fields.items():
            value = ctx.render(template).strip()
            if name == "title":
                changes["title"] = value
            elif name == "amount":
                if not value.isdigit():
                    raise PermanentError(_("amount must render to whole minor units, got %(value)s",
                                            value=repr(value[:40])))
                changes["amount"] = int(value)
            else:
                custom[name] = value
        if custom:
            changes["fields"] = custom
        with core_refusals():
            ctx.update_deal(changes)
        return {"changed": sorted(settings.fields)}
