"""CSV import: mapping, dry run writes nothing, idempotent re-import, row errors, nothing fires, 50k rows."""

from __future__ import annotations

import io
from typing import Any

import pytest
from sqlalchemy import func, select

from kanban.domain_events import DomainEvent
from kanban.errors import ValidationError
from kanban.events import DealMoved, bus
from kanban.imports import import_csv
from kanban.models import Deal, DealTag, Organization, Person, StageEntry, TimelineEntry
from robots.models import Robot, RobotRun

PERSONS = """Full name,E-mail,Company,Phone
Ann Lee,ann@acme.test,Acme,+1
Bob Roe,BOB@acme.test,Acme,
,nobody@x.test,,
Cy Doe,not-an-email,,
"""
MAPPING = {"Full name": "name", "E-mail": "email", "Company": "organization", "Phone": "phone"}


def _count(runtime: Any, model: Any) -> int:
    with runtime.sessions() as s:
        return s.scalar(select(func.count()).select_from(model))


def _run(runtime: Any, entity: str, text: str, **kwargs: Any) -> dict[str, Any]:
    with runtime.sessions() as s, s.begin():
        return import_csv(s, entity, io.StringIO(text), **kwargs).as_dict()


def test_persons_dry_run_writes_nothing_then_real_run_then_idempotent(runtime):
    dry = _run(runtime, "persons", PERSONS, mapping=MAPPING, dry_run=True)
    assert (dry["created"], dry["updated"], dry["skipped"]) == (2, 0, 2)
    assert dry["errors"] == [{"row": 4, "field": "name", "message": "name is required"},
                             {"row": 5, "field": "email", "message": "not a valid email address"}]
    assert _count(runtime, Person) == 0 and _count(runtime, Organization) == 0
    real = _run(runtime, "persons", PERSONS, mapping=MAPPING)
    assert (real["created"], real["updated"], real["skipped"]) == (2, 0, 2)
    assert _count(runtime, Person) == 2 and _count(runtime, Organization) == 1
    again = _run(runtime, "persons", PERSONS.replace("+1", "+2"), mapping=MAPPING)
    assert (again["created"], again["updated"], again["skipped"]) == (0, 1, 3)
    with runtime.sessions() as s:
        bob = s.scalars(select(Person).where(Person.email_key == "bob@acme.test")).one()
        assert bob.organization_id is not None and bob.email == "BOB@acme.test"
    assert _count(runtime, DomainEvent) == 0


def test_mapping_is_checked(runtime):
    with pytest.raises(ValidationError) as err:
        _run(runtime, "persons", PERSONS, mapping={"Nope": "name", "E-mail": "shoe_size"})
    assert set(err.value.fields) == {"mapping.Nope", "mapping.E-mail"}
    with pytest.raises(ValidationError) as err:
        _run(runtime, "persons", PERSONS, mapping={"E-mail": "email"})
    assert set(err.value.fields) == {"mapping"}
    with pytest.raises(ValidationError):
        _run(runtime, "deals", "title\nA\n")  # deals need a pipeline
    # Without a mapping, columns named like fields are used.
    assert _run(runtime, "organizations", "Name,Address,External ID\nAcme,1 Road,o1\n")["created"] == 1


def test_deals_import_fires_nothing_and_reimports_by_external_id(runtime, pipeline, rep):
    with runtime.sessions() as s, s.begin():
        s.add(Robot(stage_id=pipeline.stages[0].id, kind="add_tag", name="tag", key="tag",
                    settings={"tags": ["robot"]}, active=True))
    moved: list[Any] = []
    bus.subscribe(DealMoved, lambda s, e: moved.append(e))
    text = ("Title,Value,Stage,Owner,Contact,Contact email,Org,Tags,Source,ID\n"
            "Big deal,\"1,250.50\",Qualified,rep@example.com,Ann,ann@x.test,Acme,\"vip; web\",fair,d1\n"
            "Small deal,10,,,,ann@x.test,,,,d2\n"
            "Broken,abc,,,,,,,,d3\n"
            "Nowhere,1,Mars,,,,,,,d4\n")
    mapping = {"Title": "title", "Value": "amount", "Stage": "stage", "Owner": "responsible", "Contact": "person_name",
               "Contact email": "person_email", "Org": "organization", "Tags": "tags", "Source": "fields.source",
               "ID": "external_id"}
    dry = _run(runtime, "deals", text, mapping=mapping, pipeline_id=pipeline.id, dry_run=True)
    assert (dry["created"], dry["skipped"]) == (2, 2) and _count(runtime, Deal) == 0
    assert [(e["row"], e["field"]) for e in dry["errors"]] == [(4, "amount"), (5, "stage")]
    real = _run(runtime, "deals", text, mapping=mapping, pipeline_id=pipeline.id)
    assert real["created"] == 2 and _count(runtime, Deal) == 2
    with runtime.sessions() as s:
        big = s.scalars(select(Deal).where(Deal.external_id == "d1")).one()
        small = s.scalars(select(Deal).where(Deal.external_id == "d2")).one()
        assert (big.amount, big.stage_id, big.responsible_id, big.fields) == (
            125050, pipeline.stages[1].id, rep.id, {"source": "fair"})
        assert big.person_id == small.person_id is not None and big.organization_id is not None
        assert sorted(s.scalars(select(DealTag.tag).where(DealTag.deal_id == big.id))) == ["vip", "web"]
        assert s.get(StageEntry, big.current_entry_id).stage_id == big.stage_id
        assert s.scalars(select(TimelineEntry.kind).where(TimelineEntry.deal_id == big.id)).all() == ["created"]
    assert _count(runtime, RobotRun) == 0 and _count(runtime, DomainEvent) == 0 and moved == []
    again = _run(runtime, "deals", text.replace("Small deal", "Smaller deal"), mapping=mapping,
                 pipeline_id=pipeline.id)
    assert (again["created"], again["updated"], again["skipped"]) == (0, 1, 3)
    assert _count(runtime, Deal) == 2


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_fifty_thousand_rows_in_one_go(runtime, pipeline, tmp_path):
    path = tmp_path / "big.csv"
    with path.open("w") as f:
        f.write("name,email,title,external_id\n")
        for i in range(50_000):
            f.write(f"Person {i},p{i}@big.test,Deal {i},x{i}\n")
    with runtime.sessions() as s, s.begin(), path.open() as f:
        persons = import_csv(s, "persons", f, mapping={"name": "name", "email": "email"})
    assert persons.created == 50_000 and _count(runtime, Person) == 50_000
    with runtime.sessions() as s, s.begin(), path.open() as f:
        deals = import_csv(s, "deals", f, mapping={"title": "title", "email": "person_email",
                                                   "external_id": "external_id"}, pipeline_id=pipeline.id)
    assert deals.created == 50_000 and _count(runtime, Deal) == 50_000 and _count(runtime, StageEntry) == 50_000
    assert _count(runtime, Person) == 50_000  # the deals found their persons by email
