"""Contract over the robot kind registry: one kind per module, keyed by file name, fully declared."""

from __future__ import annotations

import importlib
import inspect
import pkgutil

import pytest

import robots.kinds
from robots.registry import KindSettings, RobotKind, load_kinds, registry
from robots.templating import placeholders

CATEGORIES = {"notify", "communication", "email_sms", "payments", "deal", "integration"}
EXAMPLES = {
    "notify": {"text": "New deal {{ deal.title }}", "recipients": [{"type": "responsible"}], "sender_id": 1},
    "notify_supervisor": {"text": "Check {{ deal.title }}"},
    "add_comment": {"text": "Note on {{ deal.title }}"},
    "add_post": {"title": "{{ deal.title }}", "text": "Won", "recipients": [{"type": "everyone"}], "tag": "win"},
    "create_group_chat": {"name": "{{ deal.title }}", "members": [{"type": "role", "role": "rep"}]},
    "add_chat_members": {"chat": "{{ robots.chat.chat_id }}", "members": [{"type": "user", "id": 2}],
                         "show_history": False},
    "send_chat_message": {"chat": "{{ robots.chat.chat_id }}", "text": "Hi", "message_type": "important"},
    "send_private_message": {"to": [{"type": "supervisor"}], "text": "Hi"},
    "email_employee": {"to": [{"type": "department", "id": 1}], "subject": "S", "body": "B"},
    "email_client": {"subject": "Offer", "body": "<p>{{ contact.name }}</p>"},
    "sms_employee": {"to": [{"type": "responsible"}], "text": "Call {{ contact.name }}"},
    "create_payment_link": {"amount": 1000, "description": "{{ deal.title }}"},
    "modify_deal": {"fields": {"title": "{{ deal.title }}!", "chat": "{{ robots.chat.chat_id }}"}},
    "change_stage": {"stage_id": 3},
    "change_responsible": {"users": [1, 2], "mode": "round_robin"},
    "add_tag": {"tags": ["hot"]},
    "webhook": {"url": "https://hooks.example/in", "allow_private": False},
    "create_deal": {"pipeline_id": 2, "stage_id": 5, "title": "Onboarding {{ deal.title }}",
                    "fields": {"origin": "{{ deal.id }}"}},
    "create_activity": {"type": "call", "subject": "Call {{ person.name }}", "due": {"in_business_days": 2,
                        "time": "09:30"}, "assignee": {"type": "responsible"}, "note": "{{ next_activity.subject }}"},
    "set_status": {"status": "lost", "reason": "No answer from {{ organization.name }}"},
    "update_person": {"fields": {"phone": "{{ deal.fields.phone }}"}},
    "create_document": {"type": "quote"},
    "get_requisites": {"entity": "organization", "address_type": "delivery"},
    "modify_requisites": {"entity": "organization", "template": "fr_company", "address_type": "legal",
                          "fields": {"vat_number": "{{ deal.fields.vat }}", "city": "Paris"}},
    "sms_client": {"text": "Your order {{ deal.title }} is confirmed"},
    "delete_deal": {},
    "delete_activity": {"activity": "{{ robots.call.activity_id }}"},
    "delete_person": {},
    "update_activity": {"activity": "", "fields": {"subject": "Call {{ person.name }} again", "due_date": "2030-01-02"},
                        "mark": "open"},
    "create_organization": {"name": "{{ contact.company }}", "address": "1 Main St", "link": True},
    "update_organization": {"fields": {"address": "{{ deal.fields.address }}"}},
}
MODULES = sorted(m.name for m in pkgutil.iter_modules(robots.kinds.__path__))


def test_every_module_registers_exactly_one_kind_named_after_the_file():
    load_kinds()
    for name in MODULES:
        module = importlib.import_module(f"robots.kinds.{name}")
        kinds = [obj for obj in vars(module).values()
                 if inspect.isclass(obj) and issubclass(obj, RobotKind) and obj is not RobotKind
                 and obj.__module__ == module.__name__]
        assert len(kinds) == 1, f"{name}: {kinds}"
        assert kinds[0].kind == name and registry.get(name) is kinds[0]
    # Test-only kinds registered by fixtures live in test modules; everything shipped is one file here.
    shipped = sorted(key for key, cls in registry.items() if not cls.__module__.startswith("tests."))
    assert shipped == MODULES


def test_every_kind_has_an_example_here():
    assert sorted(EXAMPLES) == MODULES


@pytest.mark.parametrize("key", MODULES)
def test_kind_declaration(key):
    cls = load_kinds().get(key)
    module = importlib.import_module(f"robots.kinds.{key}")
    assert (module.__doc__ or "").strip() and (cls.__doc__ or "").strip() and (cls.run.__doc__ or "").strip()
    assert cls.title.strip() and cls.category in CATEGORIES and cls.effect in ("db", "external")
    assert issubclass(cls.Settings, KindSettings) and cls.Settings is not KindSettings
    assert isinstance(cls.outputs, tuple) and all(o.isidentifier() for o in cls.outputs)
    assert cls.run is not RobotKind.run
    schema = cls.Settings.model_json_schema()
    assert schema["type"] == "object" and schema.get("additionalProperties") is False


@pytest.mark.parametrize("key", MODULES)
def test_example_settings_validate_and_templates_name_real_fields(key):
    cls = load_kinds().get(key)
    settings = cls.Settings.model_validate(EXAMPLES[key])
    fields = cls.Settings.model_fields
    for spec, channel in cls.templates.items():
        name = spec.removesuffix(".*")
        assert name in fields, f"{key}: template {spec!r} is not a settings field"
        assert channel in ("text", "html")
        value = getattr(settings, name)
        texts = (list(value.values()) if spec.endswith(".*") else value if isinstance(value, list)
                 else [value] if value is not None else [])
        for text in texts:
            placeholders(text)  # parses in the sandbox


@pytest.mark.parametrize("key", MODULES)
def test_unknown_settings_are_refused(key):
    with pytest.raises(ValueError):
        load_kinds().get(key).Settings.model_validate({**EXAMPLES[key], "no_such_setting": 1})
