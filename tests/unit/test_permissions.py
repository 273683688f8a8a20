"""Every API route names the permission it needs; the table maps each to known roles."""

from __future__ import annotations

import importlib
import inspect
import pkgutil
from typing import Any

import inloop.server.api
from inloop import client
from inloop.server import run_tokens
from inloop.server.access import PERMISSIONS, ROLES, RUN_GRANTS
from inloop.server.api import deployments as deployments_api

# Answered to anyone the middleware let through: liveness, sign-in itself, and a signed resume
# link (its token is the credential).
OPEN_ROUTES = {("GET", "/health"), ("GET", "/session"), ("POST", "/session"),
               ("DELETE", "/session"), ("GET", "/links/{token}"), ("POST", "/links/{token}"),
               ("GET", "/session/sso"), ("GET", "/session/sso/callback")}


def _routers() -> list[Any]:
    """Every API module with a router: one added later is checked without being listed here."""
    found = []
    for info in pkgutil.iter_modules(inloop.server.api.__path__):
        module = importlib.import_module(f"inloop.server.api.{info.name}")
        if hasattr(module, "router"):
            found.append(module)
    assert len(found) >= 15
    return found


def test_every_route_requires_exactly_one_permission() -> None:
    unguarded = []
    for module in _routers():
        for route in module.router.routes:
            for method in route.methods:  # type: ignore[attr-defined]
                needs = [
                    d.dependency.permission  # type: ignore[union-attr]
                    for d in route.dependencies  # type: ignore[attr-defined]
                    if hasattr(d.dependency, "permission")
                ]
                if (method, route.path) in OPEN_ROUTES:  # type: ignore[attr-defined]
                    assert needs == []
                elif len(needs) != 1:
                    unguarded.append((method, route.path))  # type: ignore[attr-defined]
    assert unguarded == []


def test_permissions_name_only_known_roles_and_admin_has_all() -> None:
    for permission, roles in PERMISSIONS.items():
        assert set(roles) <= set(ROLES), permission
        assert "admin" in roles, permission


def _routes_needing(permission: str) -> list[Any]:
    found = []
    for module in _routers():
        for route in module.router.routes:
            needs = [getattr(d.dependency, "permission", None) for d in route.dependencies]
            if permission in needs:
                found.append(route)
    return found


def test_a_run_token_carries_no_runner_deployment_or_people_rights() -> None:
    assert set(RUN_GRANTS) <= set(PERMISSIONS)
    never = {"runners:claim", "deployments:register", "users:manage", "automations:read",
             "automations:manage", "runs:cancel", "runs:resume", "links:create", "tokens:own"}
    assert never.isdisjoint(RUN_GRANTS)


def test_the_runner_role_only_claims_heartbeats_registers_and_reads() -> None:
    has = {permission for permission, roles in PERMISSIONS.items() if "runner" in roles}
    assert has == {"runs:read", "runs:heartbeat", "runners:claim", "deployments:register",
                   "tokens:own"}


def test_run_scoped_grants_name_their_run() -> None:
    """`own`/`family` grants need the run in the path; `body` grants a check in the route."""
    for permission, scope in RUN_GRANTS.items():
        for route in _routes_needing(permission):
            if scope in ("own", "family"):
                assert "{flow_run_id}" in route.path, (permission, route.path)
            if scope == "body":
                source = inspect.getsource(route.endpoint)
                if route.path.startswith("/deployments/") and route.path.endswith("/run"):
                    source += inspect.getsource(deployments_api._schedule)
                assert "check_run_targets" in source or "check_block_write" in source, (
                    permission, route.path,
                )


def test_the_client_knows_the_run_over_answer() -> None:
    assert client.RUN_OVER == run_tokens.RUN_OVER
