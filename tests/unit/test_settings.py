"""Settings come from INLOOP_* variables, read on every call, with documented defaults."""

from __future__ import annotations

from pathlib import Path

import pytest

from inloop.settings import Settings, get_settings


@pytest.fixture
def bare_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    for name in ("HOME", "API_URL", "UI_URL", "DATABASE_URL", "API_KEY", "MAX_REQUEST_BYTES"):
        monkeypatch.delenv(f"INLOOP_{name}", raising=False)
    return monkeypatch


def test_defaults(bare_env: pytest.MonkeyPatch) -> None:
    settings = get_settings()
    assert settings.home == Path.home() / ".inloop"
    assert settings.api_url == "http://127.0.0.1:4200/api"
    assert settings.api_key is None
    assert settings.server_host == "127.0.0.1"
    assert settings.server_port == 4200
    assert settings.max_request_bytes == 16 * 1024 * 1024


def test_database_defaults_to_sqlite_in_home(bare_env: pytest.MonkeyPatch, tmp_path: Path) -> None:
    bare_env.setenv("INLOOP_HOME", str(tmp_path))
    assert get_settings().resolved_database_url == f"sqlite+aiosqlite:///{tmp_path / 'inloop.db'}"


def test_database_url_wins(bare_env: pytest.MonkeyPatch) -> None:
    url = "postgresql+asyncpg://u:p@db.example:5432/inloop"
    bare_env.setenv("INLOOP_DATABASE_URL", url)
    assert get_settings().resolved_database_url == url


@pytest.mark.parametrize(
    ("api_url", "ui_url", "expected"),
    [
        ("http://127.0.0.1:4200/api", None, "http://127.0.0.1:4200"),
        ("http://host:9000/api/", None, "http://host:9000"),
        ("http://host:9000/prefix/api", None, "http://host:9000/prefix"),
        ("http://host:9000", None, "http://host:9000"),
        ("http://127.0.0.1:4200/api", "https://inloop.example.com/", "https://inloop.example.com"),
    ],
)
def test_ui_url(
    bare_env: pytest.MonkeyPatch, api_url: str, ui_url: str | None, expected: str
) -> None:
    bare_env.setenv("INLOOP_API_URL", api_url)
    if ui_url is not None:
        bare_env.setenv("INLOOP_UI_URL", ui_url)
    assert get_settings().resolved_ui_url == expected


def test_read_on_every_call_not_cached(bare_env: pytest.MonkeyPatch) -> None:
    bare_env.setenv("INLOOP_API_KEY", "first")
    assert get_settings().api_key == "first"
    bare_env.setenv("INLOOP_API_KEY", "second")
    assert get_settings().api_key == "second"


def test_typed_values_and_unknown_variables(bare_env: pytest.MonkeyPatch) -> None:
    bare_env.setenv("INLOOP_MAX_REQUEST_BYTES", "1024")
    bare_env.setenv("INLOOP_NOT_A_SETTING", "ignored")
    assert get_settings().max_request_bytes == 1024


def test_bad_value_names_the_setting(bare_env: pytest.MonkeyPatch) -> None:
    bare_env.setenv("INLOOP_MAX_REQUEST_BYTES", "lots")
    with pytest.raises(ValueError, match="max_request_bytes"):
        Settings()
