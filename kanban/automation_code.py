"""Automations as code: a pipeline's robots, triggers and automations as one document (YAML or JSON) keyed by
stable names (stage names, robot keys, automation names; no database ids, no secrets), its diff against another
document, and applying a document in the caller's transaction.

The core knows only "sections" (robots, triggers, automations); robots/ and triggers/ register theirs at wiring.
Exports read rows with column selects, never mapped objects, so a snapshot taken inside a flush sees the database
and not the pending changes of the identity map (kanban.automation_versions relies on it).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import yaml
from sqlalchemy import select
from sqlalchemy.orm import Session

from kanban.errors import NotFoundError, ValidationError
from kanban.i18n import _
from kanban.models import Department, Pipeline, Stage, User

FORMAT = 1


@dataclass
class Section:
    """One kind of configuration a document carries: per stage (robots, triggers) or per pipeline (automations)."""

    name: str
    scope: str  # "stage" | "pipeline"
    identity: str  # the item field that names an item: "key" or "name"
    export: Callable[[Session, int, Refs], list[dict[str, Any]]]  # (session, stage or pipeline id, refs)
    # Make the owner's items what the document says; ValidationError fields are paths inside `items`.
    apply: Callable[[Session, int, list[Any], Refs], None]
    models: tuple[type, ...] = ()  # mapped classes whose saves change the document
    pipeline_of: Callable[[Session, Any], int | None] | None = None


SECTIONS: list[Section] = []


def register(section: Section) -> None:
    """Add (or replace, by name) a section; robots and triggers call it from their wiring."""
    SECTIONS[:] = [s for s in SECTIONS if s.name != section.name]
    SECTIONS.append(section)
    order = {"robots": 0, "triggers": 1, "automations": 2}
    SECTIONS.sort(key=lambda s: order.get(s.name, 9))


@dataclass
class Refs:
    """Translates database ids to stable names and back, for the pipeline a document is applied to."""

    session: Session
    pipeline_id: int
    _cache: dict[str, dict[Any, Any]] = field(default_factory=dict)

    def _table(self, name: str, stmt: Any) -> dict[Any, Any]:
        if name not in self._cache:
            self._cache[name] = {row[0]: row[1] for row in self.session.execute(stmt)}
        return self._cache[name]

    def user_email(self, user_id: Any) -> Any:
        """A user id as its email (unknown ids stay as they are)."""
        return self._table("users", select(User.id, User.email)).get(user_id, user_id)

    def user_id(self, email: Any) -> int | None:
        """The id of the user with this email (case-insensitive), or None."""
        if isinstance(email, int) and not isinstance(email, bool):
            return email if email in self._table("users", select(User.id, User.email)) else None
        wanted = str(email).strip().lower()
        found = [i for i, e in self._table("users", select(User.id, User.email)).items() if e.lower() == wanted]
        return found[0] if found else None

    def department_name(self, department_id: Any) -> Any:
        """A department id as its name."""
        return self._table("departments", select(Department.id, Department.name)).get(department_id, department_id)

    def department_id(self, name: Any) -> int | None:
        """The id of the department with this name, or None."""
        found = [i for i, n in self._table("departments", select(Department.id, Department.name)).items()
                 if n == name]
        return found[0] if found else None

    def pipeline_name(self, pipeline_id: Any) -> Any:
        """A pipeline id as its name."""
        return self._table("pipelines", select(Pipeline.id, Pipeline.name)).get(pipeline_id, pipeline_id)

    def pipeline_by_name(self, name: Any) -> int | None:
        """The id of the (first) pipeline with this name, or None."""
        found = sorted(i for i, n in self._table("pipelines", select(Pipeline.id, Pipeline.name)).items()
                       if n == name)
        return found[0] if found else None

    def stage_name(self, stage_id: Any) -> Any:
        """A stage id as its name."""
        return self._stages().get(stage_id, (None, stage_id))[1]

    def stage_id(self, name: Any, pipeline_id: int | None = None) -> int | None:
        """The id of the live stage with this name in a pipeline (default: the document's), or None."""
        pid = self.pipeline_id if pipeline_id is None else pipeline_id
        found = sorted(i for i, (p, n) in self._stages().items() if p == pid and n == name)
        return found[0] if found else None

    def _stages(self) -> dict[int, tuple[int, str]]:
        if "stages" not in self._cache:
            rows = self.session.execute(select(Stage.id, Stage.pipeline_id, Stage.name)
                                        .where(Stage.archived.is_(False)))
            self._cache["stages"] = {r[0]: (r[1], r[2]) for r in rows}
        return self._cache["stages"]

    def stages(self) -> list[tuple[int, str]]:
        """The document pipeline's live stages (id, name) in board order."""
        rows = self.session.execute(select(Stage.id, Stage.name).where(Stage.pipeline_id == self.pipeline_id,
                                                                       Stage.archived.is_(False))
                                    .order_by(Stage.position, Stage.id))
        return [(r[0], r[1]) for r in rows]


def export_document(session: Session, pipeline_id: int) -> dict[str, Any]:
    """The pipeline's automation as a plain document (the same every time for the same configuration)."""
    name = session.scalar(select(Pipeline.name).where(Pipeline.id == pipeline_id))
    if name is None:
        raise NotFoundError(_("pipeline %(pipeline_id)s not found", pipeline_id=pipeline_id))
    refs = Refs(session, pipeline_id)
    stages = []
    for stage_id, stage_name in refs.stages():
        entry: dict[str, Any] = {"name": stage_name}
        for section in SECTIONS:
            if section.scope == "stage":
                entry[section.name] = section.export(session, stage_id, refs)
        stages.append(entry)
    doc: dict[str, Any] = {"format": FORMAT, "pipeline": name, "stages": stages}
    for section in SECTIONS:
        if section.scope == "pipeline":
            doc[section.name] = section.export(session, pipeline_id, refs)
    return doc


def dump(doc: dict[str, Any], fmt: str) -> str:
    """A document as YAML (block style, keys in document order) or pretty JSON."""
    if fmt == "json":
        return json.dumps(doc, indent=2, ensure_ascii=False) + "\n"
    return yaml.safe_dump(doc, sort_keys=False, allow_unicode=True, default_flow_style=False, width=100)


class _Loader(yaml.SafeLoader):
    """safe_load without aliases: a small document cannot expand into a huge one (“billion laughs”)."""

    def compose_node(self, parent: Any, index: Any) -> Any:
        if self.check_event(yaml.AliasEvent):
            event = self.get_event()
            raise yaml.composer.ComposerError(None, None, "aliases (*name) are not allowed", event.start_mark)
        return super().compose_node(parent, index)


def parse(text: str | bytes) -> Any:
    """A YAML or JSON document (JSON is YAML); ValidationError when it cannot be read."""
    try:
        return yaml.load(text, Loader=_Loader)  # noqa: S506 - a SafeLoader subclass
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = _(" (line %(line)s, column %(column)s)", line=mark.line + 1, column=mark.column + 1) \
            if mark is not None else ""
        problem = f": {exc.problem}" if getattr(exc, "problem", None) else ""
        raise ValidationError(_("the document is not valid YAML or JSON%(where)s%(problem)s", where=where,
                                problem=problem),
                              {"document": _("not valid YAML or JSON%(where)s%(problem)s", where=where,
                                             problem=problem)}) from None


def apply_document(session: Session, pipeline_id: int, doc: Any) -> dict[str, list[dict[str, Any]]]:
    """Make the pipeline's automation what the document says (in the caller's transaction, which the caller
    rolls back for a dry run or on error) and return the diff; ValidationError names paths in the document."""
    before = export_document(session, pipeline_id)
    refs = Refs(session, pipeline_id)
    errors: dict[str, str] = {}
    stages = _stages_of(doc, refs, errors)
    if errors:
        raise ValidationError(_("invalid automation document"), errors)
    for section in SECTIONS:
        if section.scope == "stage":
            for stage_id, (index, entry) in stages.items():
                items = entry.get(section.name, []) if entry is not None else []
                _apply(section, session, stage_id, items, refs, f"stages[{index}].{section.name}", errors)
        else:
            _apply(section, session, pipeline_id, doc.get(section.name, []), refs, section.name, errors)
    if errors:
        raise ValidationError(_("invalid automation document"), errors)
    session.flush()
    return diff(before, export_document(session, pipeline_id))


def _stages_of(doc: Any, refs: Refs, errors: dict[str, str]) -> dict[int, tuple[int, dict[str, Any] | None]]:
    """Each live stage of the pipeline with its entry in the document (None: not listed, so nothing in it)."""
    if not isinstance(doc, dict):
        errors["document"] = _("the document is a mapping with format, stages and automations")
        return {}
    known = {"format", "pipeline", "stages", *(s.name for s in SECTIONS if s.scope == "pipeline")}
    for name in sorted(set(doc) - known, key=str):
        errors[str(name)] = _("unknown key")
    if doc.get("format", FORMAT) != FORMAT:
        errors["format"] = _("this server reads format %(format)s", format=FORMAT)
    entries = doc.get("stages", [])
    if not isinstance(entries, list):
        errors["stages"] = _("stages is a list")
        return {}
    stage_keys = {"name", *(s.name for s in SECTIONS if s.scope == "stage")}
    out: dict[int, tuple[int, dict[str, Any] | None]] = {sid: (-1, None) for sid, _ in refs.stages()}
    seen: set[int] = set()
    for i, entry in enumerate(entries):
        if not isinstance(entry, dict):
            errors[f"stages[{i}]"] = _("a stage is a mapping with name, robots and triggers")
            continue
        for name in sorted(set(entry) - stage_keys, key=str):
            errors[f"stages[{i}].{name}"] = _("unknown key")
        stage_id = refs.stage_id(entry.get("name"))
        if stage_id is None:
            errors[f"stages[{i}].name"] = _("this pipeline has no stage named “%(name)s”", name=entry.get('name'))
        elif stage_id in seen:
            errors[f"stages[{i}].name"] = _("the stage “%(name)s” is listed twice", name=entry.get('name'))
        else:
            seen.add(stage_id)
            out[stage_id] = (i, entry)
    for key in ("automations",):
        if key in doc and not isinstance(doc[key], list):
            errors[key] = _("%(key)s is a list", key=key)
    return out


def _apply(section: Section, session: Session, owner_id: int, items: Any, refs: Refs, path: str,
           errors: dict[str, str]) -> None:
    if items is None:
        items = []
    if not isinstance(items, list):
        errors[path] = _("%(section)s is a list", section=section.name)
        return
    try:
        section.apply(session, owner_id, items, refs)
    except ValidationError as exc:
        fields = exc.fields or {"": exc.message}
        for sub, message in fields.items():
            errors[path + (sub if sub.startswith("[") or not sub else "." + sub)] = message


def _items(doc: dict[str, Any]) -> dict[tuple[str, ...], dict[str, Any]]:
    """Every item of a document by a stable address (stage, section, key) or (section, name)."""
    out: dict[tuple[str, ...], dict[str, Any]] = {}
    for stage in doc.get("stages") or []:
        for section in SECTIONS:
            if section.scope == "stage":
                for item in stage.get(section.name) or []:
                    out[(str(stage.get("name")), section.name, str(item.get(section.identity)))] = item
    for section in SECTIONS:
        if section.scope == "pipeline":
            for item in doc.get(section.name) or []:
                out[("", section.name, str(item.get(section.identity)))] = item
    return out


def diff(before: dict[str, Any], after: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    """What changed between two documents: added, changed (with each changed field before/after), removed."""
    old, new = _items(before), _items(after)
    out: dict[str, list[dict[str, Any]]] = {"added": [], "changed": [], "removed": []}
    for address, item in new.items():
        if address not in old:
            out["added"].append({**_where(address), "item": item})
        elif old[address] != item:
            out["changed"].append({**_where(address), "fields": _fields(old[address], item)})
    for address, item in old.items():
        if address not in new:
            out["removed"].append({**_where(address), "item": item})
    return out


def _fields(before: dict[str, Any], after: dict[str, Any], prefix: str = "") -> list[dict[str, Any]]:
    """Changed fields; inside settings, delay and condition mappings, the changed keys (settings.text)."""
    out = []
    for key in dict.fromkeys([*before, *after]):
        old, new = before.get(key), after.get(key)
        if old == new or key == "robots":
            continue
        if not prefix and isinstance(old, dict) and isinstance(new, dict):
            out.extend(_fields(old, new, f"{key}."))
        else:
            out.append({"field": prefix + str(key), "before": old, "after": new})
    return out


def _where(address: tuple[str, ...]) -> dict[str, Any]:
    stage, section, key = address
    where: dict[str, Any] = {"section": section, "key": key}
    if stage:
        where["stage"] = stage
    return where


def summary(changes: dict[str, list[Any]]) -> str:
    """One line: “2 added, 1 changed, 0 removed” with the items named."""
    parts = []
    for verb in ("added", "changed", "removed"):
        for change in changes.get(verb, []):
            where = f"{change['stage']} / " if change.get("stage") else ""
            parts.append(f"{verb} {change['section'][:-1]} {where}{change['key']}")
    return "; ".join(parts) if parts else "no change"


def is_empty(changes: dict[str, list[Any]]) -> bool:
    """True when a diff has no added, changed or removed item."""
    return not any(changes.get(k) for k in ("added", "changed", "removed"))


def import_document(session: Session, pipeline_id: int, doc: Any, *, dry_run: bool,
                    source: str = "import") -> dict[str, list[dict[str, Any]]]:
    """Apply a document inside a savepoint: kept unless `dry_run` (then only the diff is returned); on a
    ValidationError nothing of it stays. `source` says in the version history how the change came."""
    nested = session.begin_nested()
    try:
        changes = apply_document(session, pipeline_id, doc)
    except BaseException:
        nested.rollback()
        raise
    if dry_run:
        nested.rollback()
    else:
        # Committing the savepoint records the version (kanban.automation_versions), saying how it came.
        session.info["automation_source"] = source
        nested.commit()
    return changes


def pipeline_id_of(session: Session, ref: str) -> int:
    """A pipeline named by id or by name (the CLI's PIPELINE argument)."""
    if ref.isdigit() and session.get(Pipeline, int(ref)) is not None:
        return int(ref)
    found = session.scalars(select(Pipeline.id).where(Pipeline.name == ref).order_by(Pipeline.id)).first()
    if found is None:
        raise NotFoundError(_("no pipeline “%(ref)s”", ref=ref))
    return found


def show(value: Any) -> str:
    """A value of a document on one line, as YAML writes it (for diffs on pages)."""
    if value is None:
        return "—"
    return yaml.safe_dump(value, default_flow_style=True, allow_unicode=True, width=10_000).strip().removesuffix(
        "\n...").strip()
