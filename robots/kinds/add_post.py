"""add_post: a feed post with title, text, author, recipients, tag and attachments from a deal field."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from kanban.i18n import N_
from kanban.models import FeedPost
from robots.context import RunContext
from robots.recipients import Recipient, resolve
from robots.registry import KindSettings, RobotKind, register


class AddPostSettings(KindSettings):
    title: str = Field(min_length=1, max_length=300, description=N_("Post title"))
    text: str = Field(min_length=1, description=N_("Post text"))
    recipients: list[Recipient] = Field(default_factory=lambda: [Recipient(type="everyone")], min_length=1,
                                        description=N_("Who sees it (default: everyone)"))
    author_id: int | None = Field(default=None, description=N_("Author (default: the deal's responsible)"))
    tag: str | None = Field(default=None, max_length=100, description=N_("Tag shown on the post"))
    attachments_field: str | None = Field(default=None, description=N_("Deal field holding a file URL (or a list)"))


@register
class AddPost(RobotKind):
    """Publish a post in the feed."""

    kind = "add_post"
    title = N_("Post in the feed")
    category = "communication"
    Settings = AddPostSettings
    outputs = ("post_id",)
    templates = {"title": "text", "text": "text"}
    needs_deal = False  # also acts without a deal (robots.subjects)

    def run(self, ctx: RunContext, settings: AddPostSettings) -> dict[str, Any]:
        """One feed post per run (feed_posts.run_id is unique)."""
        author = ctx.user(settings.author_id)
        if any(ref.type == "everyone" for ref in settings.recipients):
            audience: list[Any] = ["everyone"]
        else:
            audience = [user.id for user in resolve(ctx, settings.recipients)]
        attachments: list[Any] = []
        if settings.attachments_field and ctx.deal_id is not None:
            value = (ctx.deal().fields or {}).get(settings.attachments_field)
            attachments = [str(v) for v in (value if isinstance(value, list) else [value]) if v]
        post = FeedPost(author_id=author.id, deal_id=ctx.deal_id, run_id=ctx.run_id,
                        title=ctx.render(settings.title)[:300], text=ctx.render(settings.text),
                        tag=settings.tag or None, recipients=audience, attachments=attachments, created_at=ctx.now)
        ctx.session.add(post)
        ctx.session.flush()
        return {"post_id": post.id}
