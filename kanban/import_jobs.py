"""Import jobs: an uploaded CSV waits as a row; a background loop runs queued ones and reports progress."""

from __future__ import annotations

import csv
import io
import logging
import threading
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from kanban import clock
from kanban.crm_models import ImportJob
from kanban.db import on_commit
from kanban.errors import KanbanError, NotFoundError, ValidationError
from kanban.i18n import N_, _
from kanban.imports import ENTITIES, ImportResult, check_mapping, default_mapping, import_csv

log = logging.getLogger(__name__)
TICK_SECONDS = 0.5  # how soon the loop notices it should stop or was woken
POLL_SECONDS = 15.0  # how often it looks for jobs queued by another process
# Set after a job is queued here: the loop looks at once instead of waiting for its next poll (every look is a
# write transaction on SQLite, so an idle loop should look rarely).
_wakeup = threading.Event()
MAX_UPLOAD_BYTES = 50 * 1024 * 1024


def create_job(session: Session, *, entity: str, content: str, user_id: int | None,
               pipeline_id: int | None = None) -> ImportJob:
    """Store an uploaded CSV as a draft job (status "draft") with the default mapping."""
    if entity not in ENTITIES:
        raise ValidationError(_("unknown entity"), {"entity": _("persons, organizations or deals")})
    if not content.strip():
        raise ValidationError(_("the file is empty"), {"file": _("choose a CSV file with a header line")})
    if len(content) > MAX_UPLOAD_BYTES:
        raise ValidationError(_("the file is too large"), {"file": _("at most 50 MB")})
    job = ImportJob(entity=entity, status="draft", user_id=user_id, pipeline_id=pipeline_id, content=content,
                    mapping=default_mapping(entity, header_of(content)), created_at=clock.now())
    session.add(job)
    session.flush()
    return job


def header_of(content: str) -> list[str]:
    """The CSV's column names."""
    return [h.strip() for h in next(csv.reader(io.StringIO(content)), [])]


def get_job(session: Session, job_id: int) -> ImportJob:
    """Load a job or raise NotFoundError."""
    job = session.get(ImportJob, job_id)
    if job is None:
        raise NotFoundError(_("import %(job_id)s not found", job_id=job_id))
    return job


def dry_run(session: Session, job: ImportJob, mapping: dict[str, str]) -> ImportResult:
    """Check the mapping, remember it, and report what a real run would do (nothing is imported)."""
    job.mapping = check_mapping(job.entity, header_of(job.content), mapping)
    return import_csv(session, job.entity, io.StringIO(job.content), mapping=job.mapping,
                      pipeline_id=job.pipeline_id, dry_run=True)


def queue(session: Session, job: ImportJob, mapping: dict[str, str]) -> None:
    """Check the mapping and queue the job for the background loop."""
    job.mapping = check_mapping(job.entity, header_of(job.content), mapping)
    job.total = max(0, sum(1 for _ in csv.reader(io.StringIO(job.content))) - 1)
    job.status = "queued"
    on_commit(session, _wakeup.set)


def _claim(sessions: sessionmaker[Session]) -> int | None:
    with sessions() as session, session.begin():
        job_id = session.scalars(select(ImportJob.id).where(ImportJob.status == "queued")
                                 .order_by(ImportJob.id).limit(1)).first()
        if job_id is None:
            return None
        claimed = session.execute(update(ImportJob).where(ImportJob.id == job_id, ImportJob.status == "queued")
                                  .values(status="running"))
        return job_id if claimed.rowcount == 1 else None


def run_job(sessions: sessionmaker[Session], job_id: int) -> None:
    """Import a claimed job, committing after each batch with its progress (one writer at a time on SQLite);
    a job that fails half-way can simply be run again: re-imports match what the first run wrote."""
    with sessions() as session:
        job = get_job(session, job_id)

        def progress(result: ImportResult) -> None:
            job.processed = result.processed
            session.commit()

        try:
            result = import_csv(session, job.entity, io.StringIO(job.content), mapping=job.mapping,
                                pipeline_id=job.pipeline_id, actor_id=job.user_id, after_batch=progress)
            job.status, job.result, job.processed = "done", result.as_dict(), result.processed
            job.content, job.finished_at = "", clock.now()
            session.commit()
        except Exception:
            session.rollback()
            raise


def _run_guarded(sessions: sessionmaker[Session], job_id: int) -> None:
    try:
        run_job(sessions, job_id)
    except KanbanError as exc:
        _fail(sessions, job_id, exc.message)
    except Exception as exc:  # noqa: BLE001 - a job boundary: record the failure, keep the loop alive
        log.exception("import %s failed", job_id)
        _fail(sessions, job_id, str(exc))


def _fail(sessions: sessionmaker[Session], job_id: int, message: str) -> None:
    with sessions() as s, s.begin():
        s.execute(update(ImportJob).where(ImportJob.id == job_id).values(
            status="failed", result={"error": message}, finished_at=clock.now()))


def install(runtime: Any) -> None:
    """Run queued imports in the background loops of `kanban serve` (embedded) and `kanban worker`."""
    def import_loop(stop: threading.Event) -> None:
        idle = POLL_SECONDS  # look once at start: jobs may be waiting
        while not stop.is_set():
            if not _wakeup.wait(TICK_SECONDS) and idle < POLL_SECONDS:
                idle += TICK_SECONDS
                continue
            _wakeup.clear()
            idle = 0.0
            while not stop.is_set() and (job_id := _claim(runtime.sessions)) is not None:
                _run_guarded(runtime.sessions, job_id)

    runtime.background.append(import_loop)
    runtime.nav_links.append((N_("Import"), "/imports", True))
