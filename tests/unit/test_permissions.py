"""Every API route names the permission it needs; the table maps each to known roles."""

from __future__ import annotations

import importlib
import pkgutil
from typing import Any

import inloop.server.api
from inloop.server.permissions import PERMISSIONS
from inloop.server.store.users import ROLES

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
