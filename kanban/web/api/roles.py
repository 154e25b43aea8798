"""API: roles — the permission sets (deal action → scope) that users.role names."""

from __future__ import annotations

from typing import Any

from starlette.routing import Route

from kanban import policy
from kanban.models import Role
from kanban.services import roles as svc
from kanban.web.api.base import Call, endpoint, page
from kanban.web.api.schema import BOOL, STR, component, obj, page_of

SCOPE = {"type": "string", "enum": list(policy.SCOPES)}
SCOPES = obj(dict.fromkeys(policy.ACTIONS, SCOPE))
ROLE = component("Role", obj({"name": STR, "label": STR, "builtin": BOOL, "scopes": SCOPES},
                             ["name", "label", "builtin", "scopes"]))
ROLE_CHANGES = obj({"scopes": SCOPES}, ["scopes"])


def role_view(role: Role) -> dict[str, Any]:
    """A role as JSON, every action with its scope."""
    scopes = {a: (role.scopes or {}).get(a, "none") for a in policy.ACTIONS}
    return {"name": role.name, "label": role.label, "builtin": bool(role.builtin), "scopes": scopes}


@endpoint("List roles and their scopes", response=page_of(ROLE), access="authenticated")
def list_roles(call: Call) -> dict[str, Any]:
    """Built-in roles first."""
    return page([role_view(r) for r in svc.list_roles(call.session)], None)


@endpoint("Change a role's scopes (admin)", admin=True, body=ROLE_CHANGES, response=ROLE)
def update_role(call: Call) -> dict[str, Any]:
    """The role after the change; applies to its users at their next request."""
    name = call.request.path_params["name"]
    return role_view(svc.update_role(call.session, name, call.body()["scopes"]))


routes = [
    Route("/api/v1/roles", list_roles, methods=["GET"]),
    Route("/api/v1/roles/{name}", update_role, methods=["PATCH"]),
]
