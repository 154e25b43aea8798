"""Registry of robot kinds, keyed by the persisted `kind` string; one module per kind."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

from kanban.registry import KindSettings, Registry, import_all

__all__ = ["KindSettings", "Registry", "RobotKind", "load_kinds", "register", "registry"]

if TYPE_CHECKING:
    from robots.context import RunContext


# Output name → what it refers to, unless a kind says otherwise (a chat message's message_id is not an email).
OUTPUT_TYPES = {"chat_id": "chat", "invoice_id": "invoice", "message_id": "email", "url": "url", "user_id": "user",
                "activity_id": "activity", "deal_id": "deal"}


class RobotKind:
    """A robot kind: its settings shape, outputs, template fields and what it does."""

    kind: ClassVar[str]
    title: ClassVar[str]
    category: ClassVar[str]  # notify | communication | email_sms | payments | deal | integration
    Settings: ClassVar[type[KindSettings]]
    outputs: ClassVar[tuple[str, ...]] = ()
    # Settings fields that are templates, with the channel used to escape them ("text" or "html").
    # "fields.*" means every value of the dict-valued setting `fields`.
    templates: ClassVar[dict[str, str]] = {}
    # "db": every effect is a row written in the run's transaction (exactly once by construction);
    # "external": calls out (HTTP, provider) with the run id as idempotency key.
    effect: ClassVar[str] = "db"
    # Typed outputs (API.md): what an output refers to, when its name alone does not say (OUTPUT_TYPES);
    # and settings that take one type of reference, e.g. {"chat": "chat"}: checked when the robot is saved.
    output_types: ClassVar[dict[str, str]] = {}
    has_secret: ClassVar[bool] = False  # gets a signing secret when created (shown once)
    setting_types: ClassVar[dict[str, str]] = {}

    @classmethod
    def output_type(cls, output: str) -> str | None:
        """What an output refers to (chat, invoice, email, url, user, activity, deal…), or None when untyped."""
        return cls.output_types.get(output, OUTPUT_TYPES.get(output))
    # An automation's run may have no deal (a person's or organization's event, a deleted deal: robots.subjects).
    # Kinds that need the deal row keep True and are skipped there, saying why; the others act on the subject.
    needs_deal: ClassVar[bool] = True

    def run(self, ctx: RunContext, settings: Any) -> dict[str, Any]:
        """Do the robot's work inside the run's transaction and return its outputs."""
        raise NotImplementedError


registry: Registry[type[RobotKind]] = Registry()


def register(cls: type[RobotKind]) -> type[RobotKind]:
    """Class decorator: add a kind to the registry under its persisted key."""
    registry.add(cls.kind, cls)
    return cls


def load_kinds() -> Registry[type[RobotKind]]:
    """Import every module in robots/kinds so each registers itself."""
    import_all("robots.kinds")
    return registry
