"""CSV import of persons, organizations and deals: column mapping, dry run, idempotent re-import, batches.

Rows stream through in batches (each batch: a few lookup queries, then one flush), so 50,000 rows import in one
go in bounded memory. Nothing fires: no domain events (events_suppressed), no DealMoved, so no robots, triggers
or automations; imported deals still get their stage entry. Re-importing matches persons by email (or external
id), organizations and deals by external id (organizations also by name), and updates changed rows only.
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from itertools import islice
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from kanban.domain_events import events_suppressed
from kanban.errors import ValidationError
from kanban.i18n import _
from kanban.import_deals import DealWriter
from kanban.import_rows import OrganizationWriter, PersonWriter, RowError, Writer
from kanban.models import Pipeline

ENTITIES = ("persons", "organizations", "deals")
FIELDS: dict[str, tuple[str, ...]] = {
    "persons": ("name", "email", "phone", "organization", "language", "external_id"),
    "organizations": ("name", "address", "external_id"),
    "deals": ("title", "amount", "currency", "stage", "responsible", "person_name", "person_email", "person_phone",
              "organization", "tags", "status", "lost_reason", "external_id"),
}
REQUIRED = {"persons": "name", "organizations": "name", "deals": "title"}
BATCH = 1000
MAX_ERRORS = 1000  # a dry run of a broken 50k file lists the first thousand problems, not 50,000


@dataclass
class ImportResult:
    """Counts and row errors ({"row", "field", "message"}; row 2 is the first line after the header)."""

    created: int = 0
    updated: int = 0
    skipped: int = 0
    errors: list[dict[str, Any]] = field(default_factory=list)
    processed: int = 0

    def as_dict(self) -> dict[str, Any]:
        """The API's answer."""
        return {"created": self.created, "updated": self.updated, "skipped": self.skipped,
                "errors": self.errors[:MAX_ERRORS]}


def default_mapping(entity: str, header: list[str]) -> dict[str, str]:
    """Columns whose name is a field name (case and spaces ignored) map to it."""
    known = {f.replace("_", ""): f for f in FIELDS[entity]}
    return {col: known[key] for col in header if (key := col.strip().lower().replace(" ", "").replace("_", ""))
            in known}


def check_mapping(entity: str, header: list[str], mapping: dict[str, Any] | None) -> dict[str, str]:
    """The mapping to use: given ones checked against the header and the entity's fields (422 otherwise)."""
    if entity not in ENTITIES:
        raise ValidationError(_("unknown entity"), {"entity": _("persons, organizations or deals")})
    if mapping is None:
        mapping = default_mapping(entity, header)
    if not isinstance(mapping, dict):
        raise ValidationError(_("invalid mapping"), {"mapping": _("an object {CSV column: field}")})
    errors: dict[str, str] = {}
    for column, target in mapping.items():
        if column not in header:
            errors[f"mapping.{column}"] = _("no such column in the file")
        elif not isinstance(target, str) or not (target in FIELDS[entity] or (
                entity == "deals" and target.startswith("fields.") and len(target) > 7)):
            errors[f"mapping.{column}"] = _("unknown field for %(entity)s: %(target)s", entity=entity, target=target)
    targets = [t for t in mapping.values() if isinstance(t, str)]
    if len(targets) != len(set(targets)):
        errors["mapping"] = _("a field is mapped from two columns")
    if REQUIRED[entity] not in targets:
        errors["mapping"] = _("map a column to %(required)s", required=REQUIRED[entity])
    if errors:
        raise ValidationError(_("invalid column mapping"), errors)
    return {k: v for k, v in mapping.items() if v}


def _writer(session: Session, entity: str, pipeline_id: int | None, actor_id: int | None, dry_run: bool) -> Writer:
    if entity == "persons":
        return PersonWriter(session, dry_run, actor_id)
    if entity == "organizations":
        return OrganizationWriter(session, dry_run, actor_id)
    pipeline = session.get(Pipeline, pipeline_id) if isinstance(pipeline_id, int) else None
    if pipeline is None or not pipeline.stages:
        raise ValidationError(_("deals need a pipeline"), {"pipeline_id": _("unknown pipeline, or it has no stages")})
    return DealWriter(session, dry_run, actor_id, pipeline)


def _rows(reader: Iterator[list[str]], header: list[str], mapping: dict[str, str]) -> Iterator[tuple[int, dict]]:
    index = {col: i for i, col in enumerate(header)}
    for line, cells in enumerate(reader, start=2):
        if not any(c.strip() for c in cells):
            continue
        yield line, {target: (cells[index[col]].strip() if index[col] < len(cells) else "")
                     for col, target in mapping.items()}


def import_csv(session: Session, entity: str, lines: Iterable[str], *, mapping: dict[str, Any] | None = None,
               pipeline_id: int | None = None, dry_run: bool = False, actor_id: int | None = None,
               after_batch: Callable[[ImportResult], None] | None = None) -> ImportResult:
    """Import CSV text lines (header first); `after_batch` may commit and report progress. A dry run writes
    nothing and reports what a real run would do."""
    reader = csv.reader(iter(lines))
    header = [h.strip() for h in next(reader, [])]
    if not header:
        raise ValidationError(_("the file is empty"), {"file": _("no header line")})
    columns = check_mapping(entity, header, mapping)
    result = ImportResult()
    rows = _rows(reader, header, columns)
    with events_suppressed():
        writer = _writer(session, entity, pipeline_id, actor_id, dry_run)
        while batch := list(islice(rows, BATCH)):
            for outcome in writer.write(batch):
                if isinstance(outcome, RowError):
                    result.skipped += 1
                    if len(result.errors) < MAX_ERRORS:
                        result.errors.append(outcome.as_dict())
                else:
                    setattr(result, outcome, getattr(result, outcome) + 1)
            result.processed += len(batch)
            if not dry_run:
                session.flush()
            if after_batch is not None:
                after_batch(result)
    return result


def count_rows(lines: Iterable[str]) -> int:
    """Data rows of a CSV (for a progress bar's total)."""
    return max(0, sum(1 for _ in csv.reader(iter(lines))) - 1)


def pipeline_named(session: Session, name: str) -> int:
    """A pipeline's id by name (case-insensitive), for the CLI's --pipeline."""
    found = session.scalars(select(Pipeline.id).where(func.lower(Pipeline.name) == name.strip().lower())).first()
    if found is None:
        raise ValidationError(_("unknown pipeline"), {"pipeline": _("no pipeline named %(name)s", name=repr(name))})
    return found
