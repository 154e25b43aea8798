"""Settings read from the environment (pydantic-settings), with an embedded default."""

from __future__ import annotations

import secrets
from functools import cached_property
from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Process configuration; every field maps to an environment variable."""

    model_config = SettingsConfigDict(env_prefix="", extra="ignore", populate_by_name=True)

    database_url: str | None = Field(default=None, alias="DATABASE_URL")
    redis_url: str | None = Field(default=None, alias="REDIS_URL")
    secret_key: str | None = Field(default=None, alias="KANBAN_SECRET_KEY")
    public_url: str = Field(default="http://127.0.0.1:8000", alias="KANBAN_PUBLIC_URL")
    smtp_url: str | None = Field(default=None, alias="KANBAN_SMTP_URL")
    mail_from: str = Field(default="crm@localhost", alias="KANBAN_MAIL_FROM")
    sms_url: str | None = Field(default=None, alias="KANBAN_SMS_URL")
    sms_token: str | None = Field(default=None, alias="KANBAN_SMS_TOKEN")
    stripe_webhook_secret: str | None = Field(default=None, alias="KANBAN_STRIPE_WEBHOOK_SECRET")
    stripe_api_base: str | None = Field(default=None, alias="KANBAN_STRIPE_API_BASE")
    stripe_api_key: str | None = Field(default=None, alias="KANBAN_STRIPE_API_KEY")
    demo: bool = Field(default=False, alias="KANBAN_DEMO")
    payment_provider: Literal["demo", "stripe", "none"] | None = Field(default=None, alias="KANBAN_PAYMENT_PROVIDER")
    trusted_proxies: str = Field(default="", alias="KANBAN_TRUSTED_PROXIES")
    session_idle_hours: float = Field(default=12, gt=0, alias="KANBAN_SESSION_IDLE_HOURS")
    session_max_days: float = Field(default=14, gt=0, alias="KANBAN_SESSION_MAX_DAYS")
    max_streams_per_user: int = Field(default=6, ge=1, alias="KANBAN_MAX_STREAMS_PER_USER")
    data_dir: Path = Field(default=Path("."), alias="KANBAN_DATA_DIR")
    secure_cookies: bool | None = Field(default=None, alias="KANBAN_SECURE_COOKIES")
    embedded_worker: bool | None = Field(default=None, alias="KANBAN_EMBEDDED_WORKER")
    board_page_size: int = Field(default=20, alias="KANBAN_BOARD_PAGE_SIZE")
    # Web Push: the VAPID key (PEM or raw base64url; generated once into the data dir when unset), the
    # contact the push services see, and whether endpoints on private addresses are allowed (tests, intranets).
    vapid_private_key: str | None = Field(default=None, alias="KANBAN_VAPID_PRIVATE_KEY")
    vapid_subject: str | None = Field(default=None, alias="KANBAN_VAPID_SUBJECT")
    push_allow_private: bool = Field(default=False, alias="KANBAN_PUSH_ALLOW_PRIVATE")
    digest_hour: int = Field(default=8, ge=0, le=23, alias="KANBAN_DIGEST_HOUR")  # daily digest time, UTC
    imap_url: str | None = Field(default=None, alias="KANBAN_IMAP_URL")  # imaps://user:pass@host[:port]/INBOX
    imap_interval: float = Field(default=30.0, alias="KANBAN_IMAP_INTERVAL")  # seconds between mailbox polls
    # Users' connected mailboxes: the key their credentials are encrypted with (comma-separated: the first
    # encrypts, all decrypt, for rotation; unset: derived from KANBAN_SECRET_KEY), and whether mail servers on
    # private addresses may be connected (tests, intranets).
    mailbox_key: str | None = Field(default=None, alias="KANBAN_MAILBOX_KEY")
    mailbox_allow_private: bool = Field(default=False, alias="KANBAN_MAILBOX_ALLOW_PRIVATE")
    # The seller's name on invoices and quotes until the company's requisites are filled in.
    company_name: str = Field(default="Our company", alias="KANBAN_COMPANY_NAME")
    # Country assumed for client phone numbers written without +<country code> (ISO 3166 alpha-2).
    phone_region: str = Field(default="US", alias="KANBAN_PHONE_REGION")
    # The deal page's "Why?" log: stored decisions are kept this many days, and at most this many per deal.
    decision_retention_days: int = Field(default=30, ge=1, alias="KANBAN_DECISION_RETENTION_DAYS")
    decision_cap: int = Field(default=200, ge=1, alias="KANBAN_DECISION_CAP")

    @cached_property
    def db_url(self) -> str:
        """The SQLAlchemy URL: DATABASE_URL, or a SQLite file in the data dir."""
        if self.database_url:
            url = self.database_url
            if url.startswith("postgres://"):
                url = "postgresql://" + url[len("postgres://") :]
            if url.startswith("postgresql://"):
                url = "postgresql+psycopg://" + url[len("postgresql://") :]
            return url
        self.data_dir.mkdir(parents=True, exist_ok=True)
        return f"sqlite:///{(self.data_dir / 'kanban.db').resolve()}"

    @property
    def is_sqlite(self) -> bool:
        """True when the database is the embedded SQLite file."""
        return self.db_url.startswith("sqlite")

    @property
    def run_embedded_worker(self) -> bool:
        """Embedded mode runs the Dramatiq worker and dispatcher inside the web process."""
        if self.embedded_worker is not None:
            return self.embedded_worker
        return not self.redis_url

    @property
    def cookies_secure(self) -> bool:
        """Secure cookie flag: on for https public URLs unless overridden."""
        if self.secure_cookies is not None:
            return self.secure_cookies
        return self.public_url.startswith("https://")

    @cached_property
    def secret(self) -> str:
        """KANBAN_SECRET_KEY, or a random key persisted in the data dir (embedded mode)."""
        if self.secret_key:
            return self.secret_key
        self.data_dir.mkdir(parents=True, exist_ok=True)
        path = self.data_dir / ".kanban-secret"
        if path.exists():
            return path.read_text().strip()
        key = secrets.token_urlsafe(48)
        path.write_text(key)
        path.chmod(0o600)
        return key

    @property
    def payments_kind(self) -> str:
        """Which payment provider runs: "demo" (the built-in pay page), "stripe", or "none" (links fail)."""
        if self.payment_provider:
            return self.payment_provider
        if self.stripe_api_base:
            return "stripe"
        # The built-in page marks invoices paid with no money moving: only ever in demo mode.
        return "demo" if self.demo else "none"

    @property
    def stripe_secrets(self) -> list[str]:
        """Webhook secrets accepted during rotation (comma-separated in the env)."""
        raw = self.stripe_webhook_secret or ""
        return [s.strip() for s in raw.split(",") if s.strip()]


def load_settings(**overrides: object) -> Settings:
    """Settings from the environment, with keyword overrides (used by tests)."""
    return Settings(**overrides)  # type: ignore[arg-type]
