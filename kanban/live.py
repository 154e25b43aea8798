"""Live notices ("board changed", "deal changed"): in-process pub/sub, fanned out through Redis when set.

Notices are small dicts:
- ``{"type": "board", "pipeline_id": P, "stage_ids": [..], "deal_ids": [..]}``: columns of a board changed;
- ``{"type": "deal", "deal_id": D}``: an open deal page should refresh its timeline and panels;
- ``{"type": "notifications", "user_ids": [..]}``: these users' notifications changed (the bell's count);
- ``{"type": "chat", "chat_id": C}``: a message was posted in a chat (its open pages show it).

They are queued during a transaction and published only after it commits (dropped on rollback), merged
per transaction so a bulk change sends one notice per board and deal.
"""

from __future__ import annotations

import asyncio
import json
import logging
import queue
import threading
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import event
from sqlalchemy.orm import Session, object_session

from kanban.db import on_commit
from kanban.events import DealDeleted, DealFieldsChanged, DealMoved, DealsMoved, bus
from kanban.models import ChatMessage, Deal, Notification

log = logging.getLogger(__name__)
CHANNEL = "kanban:live"
QUEUE_SIZE = 200
# Publishing to Redis happens on a sender thread, never on the request (or robot) path, with a short timeout:
# a frozen Redis must not slow a move. Notices beyond the outbox are dropped (pages refresh anyway).
PUBLISH_TIMEOUT = 0.5
OUTBOX_SIZE = 1000
SEND_BATCH = 200  # notices sent to Redis in one pipelined round trip at most


@dataclass(eq=False)
class Subscription:
    """One listener (an SSE stream): its event loop, its queue and what it watches."""

    loop: asyncio.AbstractEventLoop
    pipeline_id: int | None = None
    deal_id: int | None = None
    user_id: int | None = None  # whose notifications (every page's stream carries its user's)
    chat_id: int | None = None
    queue: asyncio.Queue[dict[str, Any]] = field(default_factory=lambda: asyncio.Queue(QUEUE_SIZE))

    def wants(self, notice: dict[str, Any]) -> bool:
        """True when the notice concerns the board or deal this listener shows."""
        if notice.get("type") == "board":
            return self.pipeline_id is not None and notice.get("pipeline_id") == self.pipeline_id
        if notice.get("type") == "deal":
            return self.deal_id is not None and notice.get("deal_id") == self.deal_id
        if notice.get("type") == "notifications":
            return self.user_id is not None and self.user_id in (notice.get("user_ids") or ())
        if notice.get("type") == "chat":
            return self.chat_id is not None and notice.get("chat_id") == self.chat_id
        return False

    def _push(self, notice: dict[str, Any]) -> None:
        if self.queue.full():
            # A slow reader loses the oldest notice rather than blocking publishers; pages refresh anyway.
            self.queue.get_nowait()
        self.queue.put_nowait(notice)

    async def get(self) -> dict[str, Any]:
        """Wait for the next notice."""
        return await self.queue.get()


class LiveHub:
    """Delivers notices to this process's subscribers, and through Redis to other processes."""

    def __init__(self, redis_url: str | None = None) -> None:
        self.redis_url = redis_url
        self.origin = uuid.uuid4().hex
        self._subs: set[Subscription] = set()
        self._loops: dict[asyncio.AbstractEventLoop, int] = {}  # event loops with listeners, and how many
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._redis: Any = None
        self._publisher: Any = None
        self._outbox: queue.Queue[str] = queue.Queue(OUTBOX_SIZE)
        self._sender: threading.Thread | None = None
        self.dropped = 0
        if redis_url:
            import redis

            self._redis = redis.Redis.from_url(redis_url, socket_timeout=5)
            self._publisher = redis.Redis.from_url(redis_url, socket_timeout=PUBLISH_TIMEOUT,
                                                   socket_connect_timeout=PUBLISH_TIMEOUT)

    def subscribe(self, *, pipeline_id: int | None = None, deal_id: int | None = None,
                  user_id: int | None = None, chat_id: int | None = None,
                  limit: int | None = None) -> Subscription | None:
        """Register a listener on the running event loop (call unsubscribe when done); None when the user
        already has `limit` open streams in this process."""
        sub = Subscription(asyncio.get_running_loop(), pipeline_id, deal_id, user_id, chat_id)
        with self._lock:
            if limit is not None and sum(1 for s in self._subs if s.user_id == user_id) >= limit:
                return None
            self._subs.add(sub)
            self._loops[sub.loop] = self._loops.get(sub.loop, 0) + 1
        return sub

    def unsubscribe(self, sub: Subscription) -> None:
        """Forget a listener."""
        with self._lock:
            if sub in self._subs:
                self._subs.discard(sub)
                left = self._loops.get(sub.loop, 1) - 1
                if left > 0:
                    self._loops[sub.loop] = left
                else:
                    self._loops.pop(sub.loop, None)

    def publish(self, notice: dict[str, Any]) -> None:
        """Deliver locally at once; queue the Redis fan-out (other processes) for the sender thread."""
        self.deliver(notice)
        if self._publisher is None:
            return
        self._ensure_sender()
        try:
            self._outbox.put_nowait(json.dumps({"origin": self.origin, "notice": notice}))
        except queue.Full:
            self.dropped += 1

    def _ensure_sender(self) -> None:
        with self._lock:
            if self._sender is None or not self._sender.is_alive():
                self._sender = threading.Thread(target=self._send_loop, name="kanban-live-send", daemon=True)
                self._sender.start()

    def _send_loop(self) -> None:
        import redis

        while True:
            batch = [self._outbox.get()]
            # Whatever queued meanwhile (a worker finishing runs, a bulk move) goes in one round trip.
            while len(batch) < SEND_BATCH:
                try:
                    batch.append(self._outbox.get_nowait())
                except queue.Empty:
                    break
            try:
                if len(batch) == 1:
                    self._publisher.publish(CHANNEL, batch[0])
                else:
                    pipe = self._publisher.pipeline(transaction=False)
                    for message in batch:
                        pipe.publish(CHANNEL, message)
                    pipe.execute()
            except redis.RedisError as exc:
                # Live updates are a convenience: a Redis outage must not break anything else.
                log.warning("live notice not sent through Redis: %s", exc)

    def deliver(self, notice: dict[str, Any]) -> None:
        """Hand a notice to every local subscriber that wants it (thread-safe).

        The caller (a request's after-commit, the Redis listener) only posts the notice to each event loop that
        has listeners — one hop per loop, whatever the number of open streams; the fan-out over the streams
        runs on the loop itself, so a move's latency does not grow with the number of viewers. There it is a
        timer of 0 s: the ready callbacks go first (the move's own response, resumed by the same commit), then the
        streams."""
        with self._lock:
            loops = list(self._loops)
        for loop in loops:
            try:
                loop.call_soon_threadsafe(loop.call_later, 0.0, self._fan_out, loop, notice)
            except RuntimeError:
                self._forget_loop(loop)  # the event loop is closed

    def _fan_out(self, loop: asyncio.AbstractEventLoop, notice: dict[str, Any]) -> None:
        with self._lock:
            subs = [s for s in self._subs if s.loop is loop and s.wants(notice)]
        for sub in subs:
            sub._push(notice)

    def _forget_loop(self, loop: asyncio.AbstractEventLoop) -> None:
        with self._lock:
            self._subs = {s for s in self._subs if s.loop is not loop}
            self._loops.pop(loop, None)

    def close_all(self) -> None:
        """End every open stream of this process (its reader receives a "close" notice)."""
        with self._lock:
            subs = list(self._subs)
        for sub in subs:
            try:
                sub.loop.call_soon_threadsafe(sub._push, {"type": "close"})
            except RuntimeError:
                self.unsubscribe(sub)

    def start(self) -> None:
        """Start the Redis listener thread (no-op without Redis)."""
        if self._redis is None or self._thread is not None:
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._listen, name="kanban-live", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop the Redis listener thread."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def _listen(self) -> None:
        import redis

        while not self._stop.is_set():
            try:
                pubsub = self._redis.pubsub(ignore_subscribe_messages=True)
                pubsub.subscribe(CHANNEL)
                try:
                    while not self._stop.is_set():
                        message = pubsub.get_message(timeout=0.5)
                        if message is not None:
                            self._receive(message.get("data"))
                finally:
                    pubsub.close()
            except redis.RedisError as exc:
                log.warning("live listener lost Redis, retrying: %s", exc)
                self._stop.wait(1.0)

    def _receive(self, data: Any) -> None:
        try:
            payload = json.loads(data)
        except (TypeError, ValueError):
            return
        if isinstance(payload, dict) and payload.get("origin") != self.origin:
            notice = payload.get("notice")
            if isinstance(notice, dict):
                self.deliver(notice)


_hub: LiveHub | None = None


def hub() -> LiveHub | None:
    """The hub of this process (None before install)."""
    return _hub


def _pending(session: Session) -> dict[str, Any]:
    """Notices queued in the session's current transaction, with one after-commit flush registered."""
    pending = session.info.get("live_pending")
    callbacks = session.info.get("after_commit", [])
    if pending is None or pending["flush"] not in callbacks:
        pending = {"boards": {}, "deals": set(), "users": set(), "chats": set()}
        target = _hub

        def flush() -> None:
            session.info.pop("live_pending", None)
            if target is not None:
                for notice in _notices(pending):
                    target.publish(notice)

        pending["flush"] = flush
        session.info["live_pending"] = pending
        on_commit(session, flush)
    return pending


def _notices(pending: dict[str, Any]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for pipeline_id, (stages, deals) in pending["boards"].items():
        out.append({"type": "board", "pipeline_id": pipeline_id, "stage_ids": sorted(stages),
                    "deal_ids": sorted(deals)})
    out.extend({"type": "deal", "deal_id": d} for d in sorted(pending["deals"]))
    if pending["users"]:
        out.append({"type": "notifications", "user_ids": sorted(pending["users"])})
    out.extend({"type": "chat", "chat_id": c} for c in sorted(pending["chats"]))
    return out


def publish_board_changed(session: Session, pipeline_id: int, stage_ids: list[int], deal_id: int | None = None) -> None:
    """After the session commits, tell open boards of the pipeline to refresh these columns."""
    stages, deals = _pending(session)["boards"].setdefault(pipeline_id, (set(), set()))
    stages.update(s for s in stage_ids if s is not None)
    if deal_id is not None:
        deals.add(deal_id)


def publish_deal_changed(session: Session, deal_id: int) -> None:
    """After the session commits, tell open pages of deal `deal_id` to refresh their timeline and panels.

    Signature: ``publish_deal_changed(session: Session, deal_id: int) -> None``. Call it inside the
    transaction that made the change (robot run finished, trigger fired, ...); nothing is sent if it
    rolls back, and several calls in one transaction send one notice. No-op before ``install``.
    """
    _pending(session)["deals"].add(deal_id)


def publish_notifications_changed(session: Session, user_ids: Iterable[int]) -> None:
    """After the session commits, tell these users' open pages that their notifications changed.

    New notification rows are announced by themselves (a mapper event); call this for other changes
    (marked read).
    """
    _pending(session)["users"].update(user_ids)


def publish_chat_changed(session: Session, chat_id: int) -> None:
    """After the session commits, tell open pages of the chat that it has a new message (new message rows
    announce themselves through a mapper event, from people and robots alike)."""
    _pending(session)["chats"].add(chat_id)


def _on_message_inserted(_mapper: Any, _connection: Any, target: ChatMessage) -> None:
    session = object_session(target)
    if session is not None:
        publish_chat_changed(session, target.chat_id)


def _on_notification_inserted(_mapper: Any, _connection: Any, target: Notification) -> None:
    session = object_session(target)
    if session is not None and target.user_id is not None:
        publish_notifications_changed(session, [target.user_id])


def _on_moved(session: Session, event: DealMoved) -> None:
    deal = session.get(Deal, event.deal_id)
    if deal is not None:
        publish_board_changed(session, deal.pipeline_id, [event.from_stage_id, event.to_stage_id], deal.id)
    publish_deal_changed(session, event.deal_id)


def _on_deals_moved(session: Session, event: DealsMoved) -> None:
    """A bulk move: one board notice for the pipeline (every column touched) and a notice per deal page."""
    for moved in event.moves:
        deal = session.get(Deal, moved.deal_id)
        if deal is not None:
            publish_board_changed(session, deal.pipeline_id, [moved.from_stage_id, moved.to_stage_id], deal.id)
        publish_deal_changed(session, moved.deal_id)


def _on_fields_changed(session: Session, event: DealFieldsChanged) -> None:
    deal = session.get(Deal, event.deal_id)
    if deal is not None:
        publish_board_changed(session, deal.pipeline_id, [deal.stage_id], deal.id)
    publish_deal_changed(session, event.deal_id)


def _on_deleted(session: Session, event: DealDeleted) -> None:
    publish_board_changed(session, event.pipeline_id, [event.stage_id], event.deal_id)
    publish_deal_changed(session, event.deal_id)


def install(runtime: Any) -> LiveHub:
    """Create this process's hub, subscribe it to deal events, and run its Redis listener with the app."""
    global _hub
    if _hub is not None:
        _hub.stop()
    live = LiveHub(runtime.settings.redis_url)
    _hub = live
    runtime.extras["live"] = live
    bus.subscribe(DealMoved, _on_moved)
    bus.subscribe(DealsMoved, _on_deals_moved)
    bus.subscribe(DealFieldsChanged, _on_fields_changed)
    bus.subscribe(DealDeleted, _on_deleted)
    if not event.contains(Notification, "after_insert", _on_notification_inserted):
        event.listen(Notification, "after_insert", _on_notification_inserted)
    if not event.contains(ChatMessage, "after_insert", _on_message_inserted):
        event.listen(ChatMessage, "after_insert", _on_message_inserted)
    starter: Callable[[], None] = live.start
    runtime.startup.append(starter)
    runtime.shutdown.append(live.stop)
    return live
