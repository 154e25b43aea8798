"""Engine rules: scheduling on enter, cancel on leave, conditions at due time, chains, outputs."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from kanban.models import TimelineEntry
from robots.scheduling import count_existing, schedule_existing


def _comments(runtime: Any, deal_id: int) -> list[str]:
    with runtime.sessions() as s:
        return list(s.scalars(select(TimelineEntry.text).where(TimelineEntry.deal_id == deal_id,
                                                              TimelineEntry.kind == "comment")
                              .order_by(TimelineEntry.id)))


def test_entering_a_stage_creates_runs_that_execute(runtime, stages, add_robot, new_deal, runs, run_all) -> None:
    add_robot(stages["New"], "hello", settings={"text": "Hi {{ deal.title }} in {{ stage.name }}"})
    add_robot(stages["New"], "off", active=False)
    deal_id = new_deal()
    [run] = runs(deal_id)
    assert (run.status, run.robot_key, run.position) == ("scheduled", "hello", 0)
    assert run.enqueued_at is not None  # sent after commit, so the dispatcher leaves it alone for now
    run_all()
    [run] = runs(deal_id)
    assert run.status == "done" and run.attempts == 1 and run.finished_at is not None
    assert run.outputs == {"text": "Hi Acme in New", "run_id": run.id}
    assert _comments(runtime, deal_id) == ["Hi Acme in New"]


def test_leaving_cancels_pending_runs_and_reentry_starts_again(clock, stages, add_robot, new_deal, move, runs,
                                                              run_all) -> None:
    add_robot(stages["Qualified"], "later", delay={"type": "after", "seconds": 3600})
    add_robot(stages["Qualified"], "now")
    deal_id = new_deal()
    move(deal_id, stages["Qualified"])
    run_all()
    later, now = runs(deal_id)
    assert (later.status, now.status) == ("scheduled", "done")
    move(deal_id, stages["Proposal"])
    later, now = runs(deal_id)
    assert (later.status, later.reason) == ("cancelled", "deal left the stage")
    assert now.status == "done"
    move(deal_id, stages["Qualified"])
    all_runs = runs(deal_id)
    assert len(all_runs) == 4
    assert all_runs[2].stage_entry_id != later.stage_entry_id
    run_all()
    clock.advance(3600)
    run_all()
    assert [r.status for r in runs(deal_id)] == ["cancelled", "done", "done", "done"]


def test_skipped_stages_run_nothing(stages, add_robot, new_deal, move, runs, run_all) -> None:
    add_robot(stages["Qualified"], "q")
    add_robot(stages["Proposal"], "p")
    deal_id = new_deal()
    move(deal_id, stages["Proposal"])
    run_all()
    assert [(r.robot_key, r.status) for r in runs(deal_id)] == [("p", "done")]


def test_robot_added_later_runs_only_when_asked(runtime, stages, add_robot, new_deal, runs, run_all) -> None:
    first, second = new_deal(), new_deal()
    robot_id = add_robot(stages["New"], "late")
    assert runs(first) == [] and runs(second) == []
    with runtime.sessions() as s:
        assert count_existing(s, robot_id) == 2
    with runtime.sessions() as s, s.begin():
        assert schedule_existing(s, robot_id) == 2
    with runtime.sessions() as s, s.begin():
        assert count_existing(s, robot_id) == 0
        assert schedule_existing(s, robot_id) == 0
    run_all()
    assert [r.status for r in runs(first) + runs(second)] == ["done", "done"]


def test_condition_is_evaluated_when_due_not_when_scheduled(runtime, clock, stages, add_robot, new_deal, runs,
                                                            run_all) -> None:
    from kanban.events import Actor
    from kanban.services.deals import update_deal

    condition = {"all": [{"field": "deal.fields.source", "op": "=", "value": "web"}]}
    add_robot(stages["New"], "web_only", delay={"type": "after", "seconds": 60}, condition=condition)
    kept, changed = new_deal(fields={"source": "web"}), new_deal(fields={"source": "web"})
    with runtime.sessions() as s, s.begin():
        update_deal(s, changed, {"fields": {"source": "phone"}}, actor=Actor("system"))
    run_all()
    assert [r.status for r in runs(kept) + runs(changed)] == ["scheduled", "scheduled"]
    clock.advance(60)
    run_all()
    [done], [skipped] = runs(kept), runs(changed)
    assert done.status == "done"
    assert skipped.status == "skipped"
    assert skipped.reason == "condition not met: deal.fields.source is 'phone' (needs = 'web')"
    assert skipped.outputs == {"condition_values": {"deal.fields.source": "phone"}}


def test_after_previous_chain_passes_outputs_along(clock, stages, add_robot, new_deal, runs, run_all) -> None:
    add_robot(stages["New"], "chat", settings={"text": "chat-{{ deal.id }}"})
    add_robot(stages["New"], "invite", after_previous=True, delay={"type": "after", "seconds": 30},
              settings={"text": "joined {{ robots.chat.text }} (run {{ robots.chat.run_id }})"})
    add_robot(stages["New"], "say", after_previous=True, settings={"text": "{{ robots.invite.text }}!"})
    add_robot(stages["New"], "parallel", settings={"text": "[{{ robots.chat.text }}]"})
    deal_id = new_deal()
    chat, invite, say, parallel = runs(deal_id)
    assert [r.status for r in (chat, invite, say, parallel)] == ["scheduled", "waiting", "waiting", "scheduled"]
    assert invite.due_at is None
    run_all()
    chat, invite, say, parallel = runs(deal_id)
    assert chat.status == "done" and parallel.status == "done"
    assert invite.status == "scheduled"
    assert (invite.due_at - clock.at).total_seconds() == 30  # the delay counts from when the previous one finished
    clock.advance(30)
    run_all()
    chat, invite, say, parallel = runs(deal_id)
    assert invite.outputs["text"] == f"joined chat-{deal_id} (run {chat.id})"
    assert say.status == "done" and say.outputs["text"] == f"joined chat-{deal_id} (run {chat.id})!"


def test_skipped_robot_releases_the_next_one(stages, add_robot, new_deal, runs, run_all) -> None:
    add_robot(stages["New"], "never", condition={"all": [{"field": "deal.amount", "op": ">", "value": 10**6}]})
    add_robot(stages["New"], "next", after_previous=True, settings={"text": "[{{ robots.never.text }}]"})
    deal_id = new_deal()
    run_all()
    never, nxt = runs(deal_id)
    assert never.status == "skipped" and "deal.amount is '0.00'" in never.reason
    assert nxt.status == "done" and nxt.outputs["text"] == "[]"


def test_first_robot_with_after_previous_is_not_waiting(stages, add_robot, new_deal, runs) -> None:
    add_robot(stages["New"], "first", after_previous=True)
    [run] = runs(new_deal())
    assert run.status == "scheduled"
