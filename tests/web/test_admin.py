"""Admin pages: pipelines and stages (create, rename, add, kind, reorder, delete with destination), roles."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from kanban.models import Deal, Pipeline, Stage
from tests.conftest import csrf_of
from tests.web.conftest import add_deal


def _stages(runtime, pipeline_id):
    with runtime.sessions() as s:
        return [(st.name, st.kind) for st in s.scalars(
            select(Stage).where(Stage.pipeline_id == pipeline_id, Stage.archived.is_(False)).order_by(Stage.position))]


def _post(client, path, **data):
    return client.post(path, data={"csrf_token": csrf_of(client, "/admin/pipelines"), **data},
                       follow_redirects=False)


def test_create_pipeline_with_stages(admin_web, runtime):
    response = _post(admin_web, "/admin/pipelines", name="Partners", stages="Lead\n\n  Demo  \nContract",
                     won_lost="1")
    assert response.status_code == 303
    with runtime.sessions() as s:
        created = s.scalars(select(Pipeline).where(Pipeline.name == "Partners")).one()
    assert response.headers["location"] == f"/admin/pipelines?pipeline_id={created.id}"
    assert _stages(runtime, created.id) == [("Lead", "open"), ("Demo", "open"), ("Contract", "open"),
                                            ("Won", "won"), ("Lost", "lost")]
    page = admin_web.get(response.headers["location"])
    assert page.context["message"] == "Pipeline “Partners” created."


def test_create_pipeline_validation(admin_web, runtime):
    response = _post(admin_web, "/admin/pipelines", name=" ", stages="")
    assert response.status_code == 422
    assert response.context["errors"] == {"name": "name is required", "stages": "a pipeline needs at least one stage"}
    assert "name is required" in response.text


def test_rename_pipeline_and_stage_and_kind(admin_web, runtime, pipeline):
    assert _post(admin_web, "/admin/pipelines/rename", pipeline_id=pipeline.id, name="Direct sales").status_code == 303
    assert _post(admin_web, "/admin/pipelines/rename", pipeline_id=pipeline.id, name="").status_code == 422
    with runtime.sessions() as s:
        assert s.get(Pipeline, pipeline.id).name == "Direct sales"
    stage = pipeline.stages[3]
    response = _post(admin_web, "/admin/stages/update", pipeline_id=pipeline.id, stage_id=stage.id,
                     name="Invoiced", kind="won")
    assert response.status_code == 303
    assert _stages(runtime, pipeline.id)[3] == ("Invoiced", "won")
    bad = _post(admin_web, "/admin/stages/update", pipeline_id=pipeline.id, stage_id=stage.id, name="X",
                kind="maybe")
    assert bad.status_code == 422 and bad.context["errors"]["kind"] == "kind is open, won or lost"


def test_add_stage_at_position(admin_web, runtime, pipeline):
    assert _post(admin_web, "/admin/stages", pipeline_id=pipeline.id, name="Demo", kind="open",
                 position="2").status_code == 303
    assert _post(admin_web, "/admin/stages", pipeline_id=pipeline.id, name="Archive", kind="lost",
                 position="").status_code == 303
    names = [n for n, _ in _stages(runtime, pipeline.id)]
    assert names == ["New", "Qualified", "Demo", "Proposal", "Invoice", "Won", "Lost", "Archive"]
    assert _post(admin_web, "/admin/stages", pipeline_id=pipeline.id, name="", kind="open").status_code == 422


def test_reorder_stages_up_and_down(admin_web, runtime, pipeline):
    won = pipeline.stages[4]
    assert _post(admin_web, "/admin/stages/move", pipeline_id=pipeline.id, stage_id=won.id,
                 direction="up").status_code == 303
    assert [n for n, _ in _stages(runtime, pipeline.id)][3:5] == ["Won", "Invoice"]
    new = pipeline.stages[0]
    _post(admin_web, "/admin/stages/move", pipeline_id=pipeline.id, stage_id=new.id, direction="down")
    assert [n for n, _ in _stages(runtime, pipeline.id)][:2] == ["Qualified", "New"]
    board = admin_web.get(f"/board?pipeline_id={pipeline.id}")
    assert [c.stage.name for c in board.context["columns"]][:2] == ["Qualified", "New"]


def test_delete_empty_stage(admin_web, runtime, pipeline):
    proposal = pipeline.stages[2]
    page = admin_web.get(f"/admin/stages/{proposal.id}/delete")
    assert page.status_code == 200 and page.context["count"] == 0
    assert _post(admin_web, f"/admin/stages/{proposal.id}/delete").status_code == 303
    assert "Proposal" not in [n for n, _ in _stages(runtime, pipeline.id)]


def test_delete_stage_with_deals_needs_a_destination(admin_web, runtime, pipeline, rep):
    new, won = pipeline.stages[0], pipeline.stages[4]
    ids = [add_deal(runtime, pipeline, rep, f"Deal {i}").id for i in range(3)]
    page = admin_web.get(f"/admin/stages/{new.id}/delete")
    assert page.context["count"] == 3 and "still holds <strong>3</strong> deals" in page.text
    refused = _post(admin_web, f"/admin/stages/{new.id}/delete")
    assert refused.status_code == 422
    assert refused.context["errors"]["move_to"] == "choose a stage for its 3 deals"
    assert "New" in [n for n, _ in _stages(runtime, pipeline.id)]
    assert _post(admin_web, f"/admin/stages/{new.id}/delete", move_to=str(new.id)).status_code == 422
    assert _post(admin_web, f"/admin/stages/{new.id}/delete", move_to=str(won.id)).status_code == 303
    assert "New" not in [n for n, _ in _stages(runtime, pipeline.id)]
    with runtime.sessions() as s:
        assert set(s.scalars(select(Deal.stage_id).where(Deal.id.in_(ids)))) == {won.id}


@pytest.mark.parametrize("method, path", [
    ("get", "/admin/pipelines"),
    ("post", "/admin/pipelines"),
    ("post", "/admin/pipelines/rename"),
    ("post", "/admin/stages"),
    ("post", "/admin/stages/update"),
    ("post", "/admin/stages/move"),
    ("get", "/admin/stages/{stage}/delete"),
    ("post", "/admin/stages/{stage}/delete"),
])
def test_reps_get_403(rep_web, runtime, pipeline, method, path):
    stage = pipeline.stages[0]
    url = path.format(stage=stage.id)
    if method == "get":
        response = rep_web.get(url)
    else:
        response = rep_web.post(url, data={"csrf_token": csrf_of(rep_web), "pipeline_id": pipeline.id,
                                           "stage_id": stage.id, "name": "Hacked", "stages": "A"})
    assert response.status_code == 403
    assert _stages(runtime, pipeline.id)[0] == ("New", "open")


def test_admin_link_only_for_admins(rep_web, pipeline):
    assert 'href="/admin/pipelines"' not in rep_web.get("/board").text
