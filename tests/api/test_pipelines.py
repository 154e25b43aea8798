"""Pipelines and stages over the API: read, create, add, rename, reorder, delete."""

from __future__ import annotations

from kanban.models import Deal, Stage
from tests.api.conftest import error_of


def test_list_and_get_pipelines(client, admin_h, pipeline):
    body = client.get("/api/v1/pipelines", headers=admin_h).json()
    assert body["next"] is None
    [item] = body["items"]
    assert item["id"] == pipeline.id and item["name"] == "Sales"
    assert [(s["name"], s["position"], s["kind"]) for s in item["stages"]] == [
        ("New", 0, "open"), ("Qualified", 1, "open"), ("Proposal", 2, "open"), ("Invoice", 3, "open"),
        ("Won", 4, "won"), ("Lost", 5, "lost")]
    assert client.get(f"/api/v1/pipelines/{pipeline.id}", headers=admin_h).json() == item
    error_of(client.get("/api/v1/pipelines/999", headers=admin_h), 404, "not_found")


def test_create_pipeline(client, admin_h):
    response = client.post("/api/v1/pipelines", headers=admin_h,
                           json={"name": " Hiring ", "stages": [{"name": "Applied"}, {"name": "Hired", "kind": "won"}]})
    assert response.status_code == 201
    body = response.json()
    assert body["name"] == "Hiring"
    assert [(s["name"], s["kind"]) for s in body["stages"]] == [("Applied", "open"), ("Hired", "won")]
    listed = client.get("/api/v1/pipelines", headers=admin_h).json()["items"]
    assert [p["id"] for p in listed] == [body["id"]]


def test_create_pipeline_validation(client, admin_h):
    err = error_of(client.post("/api/v1/pipelines", headers=admin_h, json={"name": "", "stages": []}),
                   422, "validation_error")
    assert set(err["fields"]) == {"name", "stages"}
    err = error_of(client.post("/api/v1/pipelines", headers=admin_h,
                               json={"name": "P", "stages": [{"name": "A", "kind": "maybe"}]}), 422, "validation_error")
    assert "stages.0.kind" in err["fields"]
    err = error_of(client.post("/api/v1/pipelines", headers=admin_h, json={"stages": [{"name": 5}]}),
                   400, "bad_request")
    assert err["fields"] == {"stages.0.name": "must be string"}
    err = error_of(client.post("/api/v1/pipelines", headers=admin_h, json={"stages": [{"name": "A"}]}),
                   422, "validation_error")
    assert err["fields"] == {"name": "is required"}
    error_of(client.post("/api/v1/pipelines", headers=admin_h, json=["not", "an", "object"]), 400, "bad_request")


def test_add_stage_at_a_position_and_last(client, admin_h, pipeline):
    url = f"/api/v1/pipelines/{pipeline.id}/stages"
    first = client.post(url, headers=admin_h, json={"name": "Triage", "position": 0})
    assert first.status_code == 201
    assert first.json()["position"] == 0 and first.json()["kind"] == "open"
    last = client.post(url, headers=admin_h, json={"name": "Archived", "kind": "lost"})
    assert last.json()["position"] == 7 and last.json()["kind"] == "lost"
    names = [s["name"] for s in client.get(f"/api/v1/pipelines/{pipeline.id}", headers=admin_h).json()["stages"]]
    assert names == ["Triage", "New", "Qualified", "Proposal", "Invoice", "Won", "Lost", "Archived"]
    err = error_of(client.post(url, headers=admin_h, json={"name": " ", "kind": "weird", "position": -1}),
                   422, "validation_error")
    assert set(err["fields"]) == {"name", "kind", "position"}
    error_of(client.post("/api/v1/pipelines/999/stages", headers=admin_h, json={"name": "X"}), 404, "not_found")


def test_patch_stage(client, admin_h, pipeline):
    stage_id = pipeline.stages[4].id
    body = client.patch(f"/api/v1/stages/{stage_id}", headers=admin_h, json={"name": "Paid", "kind": "won"}).json()
    assert body == {"id": stage_id, "pipeline_id": pipeline.id, "name": "Paid", "position": 4, "kind": "won",
                    "probability": 100, "rotting_days": None}
    err = error_of(client.patch(f"/api/v1/stages/{stage_id}", headers=admin_h, json={"colour": "red"}),
                   422, "validation_error")
    assert err["fields"] == {"colour": "unknown field"}
    error_of(client.patch("/api/v1/stages/999", headers=admin_h, json={"name": "X"}), 404, "not_found")


def test_reorder_stages(client, admin_h, pipeline):
    ids = [s.id for s in pipeline.stages]
    new_order = [ids[1], ids[0], *ids[2:]]
    url = f"/api/v1/pipelines/{pipeline.id}/stages/order"
    body = client.put(url, headers=admin_h, json={"ids": new_order}).json()
    assert [s["id"] for s in body["stages"]] == new_order
    assert [s["position"] for s in body["stages"]] == list(range(6))
    err = error_of(client.put(url, headers=admin_h, json={"ids": ids[:3]}), 422, "validation_error")
    assert "ids" in err["fields"]
    error_of(client.put(url, headers=admin_h, json={"ids": "1,2"}), 400, "bad_request")
    error_of(client.put("/api/v1/pipelines/999/stages/order", headers=admin_h, json={"ids": []}), 404, "not_found")


def test_delete_stage_needs_a_destination_for_its_deals(client, admin_h, pipeline, make_deal, runtime):
    deal_id = make_deal(stage=1)
    source, dest = pipeline.stages[1].id, pipeline.stages[2].id
    err = error_of(client.delete(f"/api/v1/stages/{source}", headers=admin_h), 422, "validation_error")
    assert "move_to" in err["fields"]
    error_of(client.delete(f"/api/v1/stages/{source}?move_to={source}", headers=admin_h), 422, "validation_error")
    error_of(client.delete(f"/api/v1/stages/{source}?move_to=x", headers=admin_h), 400, "bad_request")
    response = client.delete(f"/api/v1/stages/{source}?move_to={dest}", headers=admin_h)
    assert response.status_code == 204 and response.content == b""
    with runtime.sessions() as s:
        assert s.get(Deal, deal_id).stage_id == dest
        assert s.get(Stage, source).archived
    stages = client.get(f"/api/v1/pipelines/{pipeline.id}", headers=admin_h).json()["stages"]
    assert source not in [s["id"] for s in stages]
    assert [s["position"] for s in stages] == list(range(5))
    error_of(client.delete(f"/api/v1/stages/{source}", headers=admin_h), 404, "not_found")
    empty = pipeline.stages[3].id
    assert client.delete(f"/api/v1/stages/{empty}", headers=admin_h).status_code == 204
