"""The demo pipeline's robots: seeded valid, and the Invoice chain works end to end."""

from __future__ import annotations

from sqlalchemy import select

from kanban.commerce import Document, EmailAttachment
from kanban.demo import demo_pipeline, seed_demo
from kanban.demo_commerce import COURIER_EMAIL
from kanban.events import Actor
from kanban.models import Deal, EmailMessage, Invoice, Notification, SmsMessage, User
from kanban.services.deals import move_deal
from robots.actors import drain
from robots.demo import DEMO_ROBOTS
from robots.models import Robot, RobotRun


def test_demo_seed_adds_every_demo_robot_and_stays_idempotent(runtime):
    with runtime.sessions() as s, s.begin():
        assert seed_demo(s) is True
    with runtime.sessions() as s, s.begin():
        assert seed_demo(s) is False
    with runtime.sessions() as s:
        assert s.query(Robot).filter(Robot.stage_id.is_not(None)).count() == len(DEMO_ROBOTS) + 2  # + Delivery's two
        # Robots are added after the demo deals exist: none of those deals ran them.
        assert s.query(RobotRun).count() == 0


def test_invoice_chain_sends_the_payment_url_by_email_and_sms(runtime):
    with runtime.sessions() as s, s.begin():
        seed_demo(s)
    with runtime.sessions() as s, s.begin():
        pipeline = demo_pipeline(s)
        stages = {st.name: st.id for st in pipeline.stages}
        deal = s.scalars(select(Deal).where(Deal.stage_id == stages["Proposal"]).order_by(Deal.id)).first()
        move_deal(s, deal.id, stages["Invoice"], actor=Actor.user(deal.responsible_id))
        deal_id = deal.id
    drain(runtime)
    with runtime.sessions() as s:
        runs = s.scalars(select(RobotRun).where(RobotRun.deal_id == deal_id).order_by(RobotRun.position)).all()
        assert [r.status for r in runs] == ["done"] * 4, [(r.robot_key, r.error) for r in runs]
        invoice = s.scalars(select(Invoice).where(Invoice.deal_id == deal_id)).one()
        email = s.scalars(select(EmailMessage).where(EmailMessage.deal_id == deal_id)).one()
        sms = s.scalars(select(SmsMessage).where(SmsMessage.deal_id == deal_id)).one()
        document = s.scalars(select(Document).where(Document.deal_id == deal_id)).one()
        attached = s.scalars(select(EmailAttachment.document_id).where(EmailAttachment.email_id == email.id)).all()
        assert invoice.url and invoice.url.rsplit("/", 1)[1] == invoice.pay_token
        assert invoice.url in sms.text
        # The PDF invoice carries the pay link and the buyer's requisites, and goes with the email.
        assert document.pay_url == invoice.url and document.gross == invoice.amount
        assert document.data["buyer"]["name"].endswith("Inc.") and document.data["seller"]["vat_number"]
        assert attached == [document.id] and document.number in email.subject
        # The email's link to the pay page is tracked: the original URL is kept for the redirect.
        assert invoice.url in email.links


def test_delivery_stage_tells_the_courier_the_delivery_address(runtime):
    with runtime.sessions() as s, s.begin():
        seed_demo(s)
    with runtime.sessions() as s, s.begin():
        stages = {st.name: st.id for st in demo_pipeline(s).stages}
        assert list(stages)[3:6] == ["Invoice", "Delivery", "Paid"]
        deal = s.scalars(select(Deal).where(Deal.stage_id == stages["Invoice"]).order_by(Deal.id)).first()
        move_deal(s, deal.id, stages["Delivery"], actor=Actor.user(deal.responsible_id))
        deal_id = deal.id
    drain(runtime)
    with runtime.sessions() as s:
        runs = s.scalars(select(RobotRun).where(RobotRun.deal_id == deal_id).order_by(RobotRun.position)).all()
        assert [r.status for r in runs] == ["done", "done"], [(r.robot_key, r.error) for r in runs]
        courier = s.scalars(select(User).where(User.email == COURIER_EMAIL)).one()
        note = s.scalars(select(Notification).where(Notification.user_id == courier.id)).one()
    assert runs[0].outputs["address"].startswith("Dock ") and runs[0].outputs["address"].endswith(", US")
    assert note.text == f"Deliver {deal.title} to {runs[0].outputs['company_name']}, {runs[0].outputs['address']}"


def test_timeline_names_robots_and_triggers(runtime):
    from kanban.queries import deal_timeline

    with runtime.sessions() as s, s.begin():
        seed_demo(s)
    with runtime.sessions() as s, s.begin():
        stages = {st.name: st.id for st in demo_pipeline(s).stages}
        deal = s.scalars(select(Deal).where(Deal.stage_id == stages["Proposal"]).order_by(Deal.id)).first()
        move_deal(s, deal.id, stages["Invoice"], actor=Actor.user(deal.responsible_id))
        deal_id = deal.id
    drain(runtime)
    with runtime.sessions() as s:
        names = {item.actor_name for item in deal_timeline(s, deal_id)}
    assert "Robot “Payment link”" in names
    assert not any(name.startswith("robot #") for name in names)


def test_demo_automations_are_seeded_and_fire(runtime):
    from kanban.services.deals import create_deal
    from robots.demo import DEMO_AUTOMATIONS
    from robots.models import Automation

    with runtime.sessions() as s, s.begin():
        seed_demo(s)
    with runtime.sessions() as s, s.begin():
        assert s.query(Automation).count() == len(DEMO_AUTOMATIONS)
        pipeline = demo_pipeline(s)
        stages = {st.name: st.id for st in pipeline.stages}
        deal = create_deal(s, title="Demo lead", pipeline_id=pipeline.id, actor=Actor("system"),
                           contact={"name": "Carla", "email": "carla@client.example"})
        deal_id = deal.id
    drain(runtime)
    with runtime.sessions() as s, s.begin():
        deal = s.get(Deal, deal_id)
        assert deal.responsible_id is not None  # round-robin on creation
        move_deal(s, deal_id, stages["Proposal"], actor=Actor.user(deal.responsible_id))
    drain(runtime)
    with runtime.sessions() as s:
        deal = s.get(Deal, deal_id)
        runs = s.scalars(select(RobotRun).where(RobotRun.deal_id == deal_id, RobotRun.execution_id.is_not(None))).all()
        assert "quote-sent" in deal.tags
        assert s.scalars(select(EmailMessage).where(EmailMessage.deal_id == deal_id)).first() is not None
        assert {r.kind for r in runs} >= {"notify", "change_responsible", "notify_supervisor", "email_client",
                                          "add_tag", "create_activity"}
        assert all(r.status in ("done", "skipped") for r in runs), [(r.kind, r.status, r.error) for r in runs]
    from kanban.services.outcomes import mark_won

    with runtime.sessions() as s, s.begin():
        mark_won(s, deal_id, actor=Actor("system"))
    drain(runtime)
    with runtime.sessions() as s:
        assert "Upsell opportunity" in s.get(Deal, deal_id).tags
    # noCRM "notify on lead deleted": the deal is gone, its snapshot fills the notification
    from kanban.services.deals import delete_deal
    from robots.models import AutomationExecution

    with runtime.sessions() as s, s.begin():
        delete_deal(s, deal_id, actor=Actor("system"))
    drain(runtime)
    with runtime.sessions() as s:
        deleted = s.scalars(select(Automation).where(Automation.event == "deal.deleted")).one()
        execution = s.scalars(select(AutomationExecution).where(AutomationExecution.automation_id == deleted.id)).one()
        runs = s.scalars(select(RobotRun).where(RobotRun.execution_id == execution.id)).all()
        assert [(r.kind, r.status) for r in runs] == [("notify", "done")], [(r.kind, r.error) for r in runs]
        admins = s.scalars(select(User.id).where(User.role == "admin")).all()
        texts = s.scalars(select(Notification.text).where(Notification.user_id.in_(admins))).all()
        assert "Deal deleted: Demo lead" in texts
