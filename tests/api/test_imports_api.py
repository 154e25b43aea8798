"""POST /imports over the API (multipart) and `kanban import` on the command line."""

from __future__ import annotations

import json

from click.testing import CliRunner
from sqlalchemy import func, select

from kanban.cli import main
from kanban.models import Deal, Organization
from tests.api.conftest import error_of

ORGS = "name,address,ext\nAcme,1 Road,a1\nGlobex,,g1\n"


def _count(runtime, model):
    with runtime.sessions() as s:
        return s.scalar(select(func.count()).select_from(model))


def test_import_api_dry_run_then_real(client, admin_h, runtime):
    mapping = json.dumps({"name": "name", "address": "address", "ext": "external_id"})
    files = {"file": ("orgs.csv", ORGS.encode(), "text/csv")}
    dry = client.post("/api/v1/imports", headers=admin_h, files=files,
                      data={"entity": "organizations", "mapping": mapping, "dry_run": "1"})
    assert dry.status_code == 200, dry.text
    assert dry.json() == {"created": 2, "updated": 0, "skipped": 0, "errors": []}
    assert _count(runtime, Organization) == 0
    real = client.post("/api/v1/imports", headers=admin_h, files=files,
                       data={"entity": "organizations", "mapping": mapping})
    assert real.json()["created"] == 2 and _count(runtime, Organization) == 2
    again = client.post("/api/v1/imports", headers=admin_h, files=files,
                        data={"entity": "organizations", "mapping": mapping})
    assert (again.json()["created"], again.json()["skipped"]) == (0, 2)


def test_import_api_errors(client, admin_h, rep_h):
    error_of(client.post("/api/v1/imports", headers=rep_h, files={"file": ("x.csv", b"name\nA\n", "text/csv")},
                         data={"entity": "persons"}), 403, "forbidden")
    error_of(client.post("/api/v1/imports", files={"file": ("x.csv", b"name\nA\n", "text/csv")},
                         data={"entity": "persons"}), 401, "unauthorized")
    err = error_of(client.post("/api/v1/imports", headers=admin_h, data={"entity": "persons"}), 422,
                   "validation_error")
    assert "file" in err["fields"]
    err = error_of(client.post("/api/v1/imports", headers=admin_h, files={"file": ("x.csv", b"title\nA\n", "text/csv")},
                               data={"entity": "deals"}), 422, "validation_error")
    assert "pipeline_id" in err["fields"]


def test_cli_import(runtime, pipeline, tmp_path):
    env = {"DATABASE_URL": runtime.settings.database_url, "KANBAN_SECRET_KEY": "k", "KANBAN_DATA_DIR": str(tmp_path),
           "REDIS_URL": None}
    path = tmp_path / "deals.csv"
    path.write_text("title,amount,stage\nA,10,New\nB,x,New\n")
    runner = CliRunner()
    dry = runner.invoke(main, ["import", "deals", str(path), "--pipeline", "sales", "--dry-run"], env=env)
    assert dry.exit_code == 1 and "would import: 1 created" in dry.output and "row 3, amount" in dry.output
    assert _count(runtime, Deal) == 0
    real = runner.invoke(main, ["import", "deals", str(path), "--pipeline", "Sales",
                                "--mapping", '{"title": "title", "amount": "amount"}'], env=env)
    assert "imported: 1 created" in real.output and _count(runtime, Deal) == 1
    unknown = runner.invoke(main, ["import", "deals", str(path), "--pipeline", "Nope"], env=env)
    assert unknown.exit_code == 1 and "unknown pipeline" in unknown.stderr
