"""The /imports pages: upload, map columns, dry run (nothing written), real run in the background to "done"."""

from __future__ import annotations

import time

from sqlalchemy import func, select

from kanban.models import Person
from tests.conftest import csrf_of

CSV = "Who,Mail,Extra\nAnn,ann@x.test,1\nBob,bob@x.test,2\n,nobody@x.test,3\n"


def _persons(runtime):
    with runtime.sessions() as s:
        return s.scalar(select(func.count()).select_from(Person))


def test_upload_map_dry_run_and_import(admin_web, runtime):
    token = csrf_of(admin_web, "/imports")
    made = admin_web.post("/imports", data={"csrf_token": token, "entity": "persons"},
                          files={"file": ("people.csv", CSV.encode(), "text/csv")}, follow_redirects=False)
    assert made.status_code == 303, made.text
    job_url = made.headers["location"]
    page = admin_web.get(job_url)
    assert page.status_code == 200 and 'name="map_0"' in page.text and "— skip —" in page.text
    mapping = {"csrf_token": token, "map_0": "name", "map_1": "email", "map_2": ""}
    bad = admin_web.post(f"{job_url}/dry-run", data={**mapping, "map_0": ""})
    assert bad.status_code == 422 and "map a column to name" in bad.text
    dry = admin_web.post(f"{job_url}/dry-run", data=mapping)
    assert dry.status_code == 200 and "would create 2" in dry.text and "name is required" in dry.text
    assert _persons(runtime) == 0
    queued = admin_web.post(f"{job_url}/run", data=mapping, follow_redirects=False)
    assert queued.status_code == 303
    for _ in range(200):  # the embedded background loop picks the job up
        fragment = admin_web.get(f"{job_url}/progress").text
        if 'data-status="done"' in fragment:
            break
        time.sleep(0.05)
    assert 'data-status="done"' in fragment and "2 created" in fragment and "<progress" in fragment
    assert _persons(runtime) == 2


def test_imports_are_for_admins(rep_web):
    assert rep_web.get("/imports").status_code == 403
