"""Core tables: people, pipelines, deals, timeline, and the records robots and triggers leave."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    Numeric,
    String,
    Text,
    UniqueConstraint,
    false,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from kanban.clock import now
from kanban.db import JSONType, UTCDateTime

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


# Trigram GIN indexes serve the board's ILIKE text search on PostgreSQL (without them `q` reads every deal of
# the pipeline); they need the pg_trgm extension, which the initial migration creates first (a trusted
# extension: the database owner may create it). SQLite builds plain, unused b-tree indexes from them.
TRGM = {"postgresql_using": "gin"}


class Base(DeclarativeBase):
    """Declarative base shared by core, robots and triggers tables."""

    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map = {datetime: UTCDateTime(), dict[str, Any]: JSONType, list[Any]: JSONType}


class Department(Base):
    __tablename__ = "departments"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    head_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", use_alter=True, name="fk_departments_head_id_users")
    )


class User(Base):
    __tablename__ = "users"
    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(320), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(20), default="rep")  # a roles.name, or "system" (robots' actor)
    department_id: Mapped[int | None] = mapped_column(ForeignKey("departments.id"))
    phone: Mapped[str | None] = mapped_column(String(40))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    password_hash: Mapped[str | None] = mapped_column(String(300))
    created_at: Mapped[datetime] = mapped_column(default=now)
    # IANA zone name (Europe/Paris); None: the company's (kanban.company)
    time_zone: Mapped[str | None] = mapped_column(String(64))
    language: Mapped[str | None] = mapped_column(String(10))  # en | fr | it; None: the company's (kanban.i18n)

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"


class Role(Base):
    """A permission set: for each deal action (read/create/edit/move/delete) a scope none|own|department|all.

    users.role holds the role's name; "admin" also configures the system (kanban.policy).
    """

    __tablename__ = "roles"
    name: Mapped[str] = mapped_column(String(20), primary_key=True)
    label: Mapped[str] = mapped_column(String(100), default="")
    scopes: Mapped[dict[str, Any]] = mapped_column(default=dict)
    builtin: Mapped[bool] = mapped_column(Boolean, default=False)


class ApiToken(Base):
    __tablename__ = "api_tokens"
    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[datetime] = mapped_column(default=now)
    last_used_at: Mapped[datetime | None]
    expires_at: Mapped[datetime | None]  # None: never expires


class Pipeline(Base):
    __tablename__ = "pipelines"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    position: Mapped[int] = mapped_column(Integer, default=0)
    lost_reason_required: Mapped[bool] = mapped_column(Boolean, default=False)
    # None: every department sees the pipeline; else a list of department ids (kanban.policy).
    visible_to: Mapped[list[Any] | None] = mapped_column(JSONType, default=None)
    created_at: Mapped[datetime] = mapped_column(default=now)
    # Deleted stages are archived (history still points at them) and hidden here.
    stages: Mapped[list[Stage]] = relationship(
        primaryjoin="and_(Pipeline.id == Stage.pipeline_id, Stage.archived.is_(False))",
        order_by="Stage.position",
        lazy="selectin",
        viewonly=True,
    )


class Stage(Base):
    __tablename__ = "stages"
    id: Mapped[int] = mapped_column(primary_key=True)
    pipeline_id: Mapped[int] = mapped_column(ForeignKey("pipelines.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    position: Mapped[int] = mapped_column(Integer, default=0)
    kind: Mapped[str] = mapped_column(String(10), default="open")  # open | won | lost
    archived: Mapped[bool] = mapped_column(Boolean, default=False)
    # Win probability in percent (the column's weighted sum) and days without activity before a deal rots.
    probability: Mapped[int] = mapped_column(Integer, default=100)
    rotting_days: Mapped[int | None] = mapped_column(Integer)


class Organization(Base):
    __tablename__ = "organizations"
    __table_args__ = (Index("ix_organizations_name_trgm", "name", postgresql_ops={"name": "gin_trgm_ops"}, **TRGM),)
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    address: Mapped[str | None] = mapped_column(String(500))
    external_id: Mapped[str | None] = mapped_column(String(100), unique=True)  # set by imports
    created_at: Mapped[datetime] = mapped_column(default=now)


class Person(Base):
    """A client contact person (the deal's former embedded contact)."""

    __tablename__ = "persons"
    __table_args__ = (Index("ix_persons_name_trgm", "name", postgresql_ops={"name": "gin_trgm_ops"}, **TRGM),)
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    email: Mapped[str | None] = mapped_column(String(320))
    # The lower-cased email: unique, so emails are unique case-insensitively on every backend.
    email_key: Mapped[str | None] = mapped_column(String(320), unique=True)
    phone: Mapped[str | None] = mapped_column(String(40))
    organization_id: Mapped[int | None] = mapped_column(
        ForeignKey("organizations.id", ondelete="SET NULL"), index=True
    )
    language: Mapped[str | None] = mapped_column(String(10))
    external_id: Mapped[str | None] = mapped_column(String(100), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=now)
    organization: Mapped[Organization | None] = relationship(lazy="raise")
    # Asked not to receive SMS: sms_client refuses to text them and records the refusal.
    sms_opt_out: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    sms_opt_out_at: Mapped[datetime | None]


class Deal(Base):
    __tablename__ = "deals"
    __table_args__ = (
        Index("ix_deals_board", "pipeline_id", "stage_id", "rank"),
        Index("ix_deals_stage_amount", "stage_id", "currency", "amount"),
        Index("ix_deals_title_trgm", "title", postgresql_ops={"title": "gin_trgm_ops"}, **TRGM),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    pipeline_id: Mapped[int] = mapped_column(ForeignKey("pipelines.id"))
    # active_history: stage_totals needs the old values of these three even when they were never loaded.
    stage_id: Mapped[int] = mapped_column(ForeignKey("stages.id"), active_history=True)
    title: Mapped[str] = mapped_column(String(300))
    amount: Mapped[int] = mapped_column(BigInteger, default=0, active_history=True)
    currency: Mapped[str] = mapped_column(String(3), default="USD", active_history=True)
    responsible_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    # Indexed: text search matches persons first, then finds their deals (kanban.queries).
    person_id: Mapped[int | None] = mapped_column(ForeignKey("persons.id", ondelete="SET NULL"), index=True)
    organization_id: Mapped[int | None] = mapped_column(
        ForeignKey("organizations.id", ondelete="SET NULL"), index=True
    )
    status: Mapped[str] = mapped_column(String(10), default="open")  # open | won | lost
    lost_reason: Mapped[str | None] = mapped_column(String(300))
    closed_at: Mapped[datetime | None]
    # Last stage change, note or activity: the board tells rotting deals from it without another query.
    last_activity_at: Mapped[datetime] = mapped_column(default=now)
    external_id: Mapped[str | None] = mapped_column(String(100), unique=True)
    fields: Mapped[dict[str, Any]] = mapped_column(default=dict)
    tags: Mapped[list[Any]] = mapped_column(default=list)
    version: Mapped[int] = mapped_column(Integer, default=1)
    rank: Mapped[float] = mapped_column(Float, default=0.0)
    stage_entered_at: Mapped[datetime] = mapped_column(default=now)
    current_entry_id: Mapped[int | None] = mapped_column(
        ForeignKey("stage_entries.id", use_alter=True, name="fk_deals_current_entry_id_stage_entries")
    )
    created_at: Mapped[datetime] = mapped_column(default=now)
    updated_at: Mapped[datetime] = mapped_column(default=now, onupdate=now)
    person: Mapped[Person | None] = relationship(lazy="raise")
    organization: Mapped[Organization | None] = relationship(lazy="raise")
    responsible: Mapped[User | None] = relationship(lazy="raise")
    # Every UPDATE checks and bumps version, so concurrent writers cannot silently overwrite.
    __mapper_args__ = {"version_id_col": version}


class DealTag(Base):
    """One row per (deal, tag): lets the board filter by tag through an index."""

    __tablename__ = "deal_tags"
    deal_id: Mapped[int] = mapped_column(ForeignKey("deals.id", ondelete="CASCADE"), primary_key=True)
    tag: Mapped[str] = mapped_column(String(100), primary_key=True, index=True)


class StageTotal(Base):
    """Deal count and amount sum per (stage, currency), kept in step by kanban.stage_totals (the board reads it).

    Split over a few shard rows (deal id modulo kanban.stage_totals.SHARDS): concurrent moves between the same
    stages then mostly lock different rows. Readers sum the shards.
    """

    __tablename__ = "stage_totals"
    stage_id: Mapped[int] = mapped_column(ForeignKey("stages.id", ondelete="CASCADE"), primary_key=True)
    currency: Mapped[str] = mapped_column(String(3), primary_key=True)
    shard: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    deal_count: Mapped[int] = mapped_column(BigInteger, default=0)
    # numeric on PostgreSQL: a bigint sum of 10^15-unit amounts could overflow (SQLite integers are 64-bit).
    amount_sum: Mapped[int] = mapped_column(Numeric(38, 0).with_variant(BigInteger(), "sqlite"), default=0)


class StageEntry(Base):
    """One row per time a deal enters a stage; robot runs hang off it."""

    __tablename__ = "stage_entries"
    id: Mapped[int] = mapped_column(primary_key=True)
    deal_id: Mapped[int] = mapped_column(ForeignKey("deals.id", ondelete="CASCADE"), index=True)
    stage_id: Mapped[int] = mapped_column(ForeignKey("stages.id"))
    from_stage_id: Mapped[int | None] = mapped_column(ForeignKey("stages.id"))
    entered_at: Mapped[datetime] = mapped_column(default=now)
    left_at: Mapped[datetime | None]
    actor_type: Mapped[str] = mapped_column(String(20), default="user")  # user|robot|trigger|system
    actor_id: Mapped[int | None]
    cause: Mapped[list[Any]] = mapped_column(default=list)  # chain of automatic causes


class TimelineEntry(Base):
    __tablename__ = "timeline_entries"
    __table_args__ = (Index("ix_timeline_deal_at", "deal_id", "id"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    deal_id: Mapped[int] = mapped_column(ForeignKey("deals.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(30))
    at: Mapped[datetime] = mapped_column(default=now)
    actor_type: Mapped[str] = mapped_column(String(20), default="system")
    actor_id: Mapped[int | None]
    text: Mapped[str] = mapped_column(Text, default="")
    data: Mapped[dict[str, Any]] = mapped_column(default=dict)
    run_id: Mapped[int | None] = mapped_column(unique=True)  # comments written by a robot run


class Notification(Base):
    __tablename__ = "notifications"
    __table_args__ = (UniqueConstraint("run_id", "user_id"), Index("ix_notifications_user", "user_id", "id"))
    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    sender_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    deal_id: Mapped[int | None] = mapped_column(ForeignKey("deals.id", ondelete="SET NULL"))
    run_id: Mapped[int | None]
    text: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=now)
    read_at: Mapped[datetime | None]


class FeedPost(Base):
    __tablename__ = "feed_posts"
    id: Mapped[int] = mapped_column(primary_key=True)
    author_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    deal_id: Mapped[int | None] = mapped_column(ForeignKey("deals.id", ondelete="SET NULL"))
    run_id: Mapped[int | None] = mapped_column(unique=True)
    title: Mapped[str] = mapped_column(String(300))
    text: Mapped[str] = mapped_column(Text)
    tag: Mapped[str | None] = mapped_column(String(100))
    recipients: Mapped[list[Any]] = mapped_column(default=list)  # resolved user ids, or ["everyone"]
    attachments: Mapped[list[Any]] = mapped_column(default=list)
    created_at: Mapped[datetime] = mapped_column(default=now)


class Chat(Base):
    __tablename__ = "chats"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(10), default="group")  # group | private
    deal_id: Mapped[int | None] = mapped_column(ForeignKey("deals.id", ondelete="SET NULL"))
    run_id: Mapped[int | None] = mapped_column(unique=True)  # set when a robot created it
    created_by_robot: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(default=now)


class ChatMember(Base):
    __tablename__ = "chat_members"
    chat_id: Mapped[int] = mapped_column(ForeignKey("chats.id", ondelete="CASCADE"), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    joined_at: Mapped[datetime] = mapped_column(default=now)
    sees_history: Mapped[bool] = mapped_column(Boolean, default=True)


class ChatMessage(Base):
    __tablename__ = "chat_messages"
    __table_args__ = (Index("ix_chat_messages_chat", "chat_id", "id"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    chat_id: Mapped[int] = mapped_column(ForeignKey("chats.id", ondelete="CASCADE"))
    sender_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    run_id: Mapped[int | None] = mapped_column(unique=True)
    text: Mapped[str] = mapped_column(Text)
    message_type: Mapped[str] = mapped_column(String(20), default="general")
    created_at: Mapped[datetime] = mapped_column(default=now)


class EmailMessage(Base):
    """Email outbox: written with the run, delivered by SMTP or shown in the dev mailbox."""

    __tablename__ = "email_outbox"
    # Notification emails are keyed by (run, user): a run emails each recipient at most once.
    __table_args__ = (UniqueConstraint("run_id", "user_id"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    run_id: Mapped[int | None] = mapped_column(index=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    deal_id: Mapped[int | None] = mapped_column(ForeignKey("deals.id", ondelete="SET NULL"), index=True)
    kind: Mapped[str] = mapped_column(String(20), default="employee")  # employee | client | notification | digest | rep
    from_address: Mapped[str] = mapped_column(String(320))
    to_address: Mapped[str] = mapped_column(String(320))
    subject: Mapped[str] = mapped_column(String(500))
    body_html: Mapped[str | None] = mapped_column(Text)
    body_text: Mapped[str] = mapped_column(Text, default="")
    status: Mapped[str] = mapped_column(String(20), default="queued")  # queued|sending|sent|failed|captured
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    error: Mapped[str | None] = mapped_column(Text)
    tracking_token: Mapped[str | None] = mapped_column(String(200), unique=True)
    links: Mapped[list[Any]] = mapped_column(default=list)  # original URLs of tracked links
    opened_at: Mapped[datetime | None]
    open_count: Mapped[int] = mapped_column(Integer, default=0)
    clicked_at: Mapped[datetime | None]
    # Delivery backoff, and the lease of a row being sent (a crashed sender's rows are re-queued after it).
    next_attempt_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=now)
    sent_at: Mapped[datetime | None]
    # Sent through this user's connected mailbox (None: the company sender); why the company sender was used
    # instead of the mailbox asked for.
    mailbox_id: Mapped[int | None] = mapped_column(ForeignKey("user_mailboxes.id", ondelete="SET NULL"))
    fallback_reason: Mapped[str | None] = mapped_column(Text)


class SmsMessage(Base):
    __tablename__ = "sms_outbox"
    id: Mapped[int] = mapped_column(primary_key=True)
    run_id: Mapped[int | None] = mapped_column(index=True)
    deal_id: Mapped[int | None] = mapped_column(ForeignKey("deals.id", ondelete="SET NULL"), index=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    to_phone: Mapped[str] = mapped_column(String(40))
    text: Mapped[str] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(20), default="queued")  # queued|sending|sent|failed|logged
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    provider: Mapped[str] = mapped_column(String(40), default="log")
    provider_message_id: Mapped[str | None] = mapped_column(String(200))
    error: Mapped[str | None] = mapped_column(Text)
    next_attempt_at: Mapped[datetime | None]  # delivery backoff / lease, as for emails
    created_at: Mapped[datetime] = mapped_column(default=now)
    sent_at: Mapped[datetime | None]


class Invoice(Base):
    __tablename__ = "invoices"
    id: Mapped[int] = mapped_column(primary_key=True)
    deal_id: Mapped[int] = mapped_column(ForeignKey("deals.id", ondelete="CASCADE"), index=True)
    run_id: Mapped[int | None] = mapped_column(unique=True)
    amount: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    description: Mapped[str] = mapped_column(String(500), default="")
    # pending (a provider's link not created yet) | open | paid | void
    status: Mapped[str] = mapped_column(String(20), default="open")
    provider: Mapped[str] = mapped_column(String(40), default="embedded")
    payment_link_id: Mapped[str | None] = mapped_column(String(200))
    pay_token: Mapped[str | None] = mapped_column(String(100), unique=True)
    url: Mapped[str | None] = mapped_column(String(1000))
    created_at: Mapped[datetime] = mapped_column(default=now)
    paid_at: Mapped[datetime | None]


# Tables of other core modules live on the same metadata; importing them here registers them wherever the
# models are loaded (migrations, tests, the app).
import kanban.automation_versions  # noqa: E402,F401
import kanban.channels  # noqa: E402,F401
import kanban.commerce  # noqa: E402,F401
import kanban.company  # noqa: E402,F401
import kanban.crm_models  # noqa: E402,F401
import kanban.decisions  # noqa: E402,F401
import kanban.domain_events  # noqa: E402,F401
import kanban.logins  # noqa: E402,F401
import kanban.mailbox_models  # noqa: E402,F401
