"""Settings: one table drives the variables and the flags, README's table matches it, and every
value is checked however the settings are made."""

from __future__ import annotations

from dataclasses import fields
from pathlib import Path

import pytest

from tokens_server.settings import OPTIONS, Option, Settings, SettingsError

README = Path(__file__).parent.parent / "README.md"
URI_FILE = "TOKENS_MONGO_URI_FILE"


def _readme_row(option: Option) -> str:
    flag = f" `{option.flag}` " if option.flag else " "
    return f"|{flag}| `{option.variable}` | {option.default_text()} | {option.help} |"


def test_every_setting_has_a_variable() -> None:
    assert {o.field for o in OPTIONS} == {f.name for f in fields(Settings)}
    variables = [o.variable for o in OPTIONS]
    assert all(v.startswith("TOKENS_") for v in variables) and len(set(variables)) == len(variables)


def test_readme_lists_every_variable_as_the_table_says() -> None:
    text = README.read_text()
    missing = [_readme_row(o) for o in OPTIONS if _readme_row(o) not in text]
    assert missing == []


def test_every_variable_is_read() -> None:
    env = {
        "TOKENS_HOST": "::1",
        "TOKENS_PORT": "9000",
        "TOKENS_MONGO_URI": "mongodb://db.example:27017/",
        "TOKENS_DB": "other",
        "TOKENS_DATA_DIR": "/srv/tokens",
        "TOKENS_ADMIN_KEY": "a" * 32,
        "TOKENS_SECRET_KEY": "s" * 16,
        "TOKENS_PREVIOUS_SECRET_KEY": "p" * 16,
        "TOKENS_MAX_IN_FLIGHT": "7",
        "TOKENS_MAX_TOKENS_PER_USER": "8",
        "TOKENS_DB_TIMEOUT_MS": "900",
        "TOKENS_LIST_TIMEOUT_MS": "20000",
        "TOKENS_AUTH_FAILURE_LIMIT": "5",
        "TOKENS_AUTH_FAILURE_WINDOW_S": "30",
        "TOKENS_MAX_SUBSCRIBERS": "50",
        "TOKENS_MAX_STREAMS_PER_USER": "3",
        "TOKENS_EVENT_RETENTION_DAYS": "90",
        "TOKENS_USAGE_RETENTION_DAYS": "30",
        "TOKENS_MEMORY_TOKENS": "0",
        "TOKENS_MEMORY_USERS": "10",
        "TOKENS_LIST_MEMORY_TOKENS": "500",
    }
    # The URI's other form, a file, is read by the next test: the two exclude each other.
    assert sorted(env) == sorted(o.variable for o in OPTIONS if o.variable != URI_FILE)
    assert Settings.from_env(env) == Settings(
        host="::1",
        port=9000,
        mongo_uri="mongodb://db.example:27017/",
        db_name="other",
        data_dir=Path("/srv/tokens"),
        admin_key="a" * 32,
        secret_key="s" * 16,
        previous_secret_key="p" * 16,
        max_in_flight=7,
        max_tokens_per_user=8,
        db_timeout_ms=900,
        list_timeout_ms=20000,
        auth_failure_limit=5,
        auth_failure_window_s=30,
        max_subscribers=50,
        max_streams_per_user=3,
        event_retention_days=90,
        usage_retention_days=30,
        memory_tokens=0,
        memory_users=10,
        list_memory_tokens=500,
    )


def test_the_database_uri_may_come_from_a_file(tmp_path: Path) -> None:
    held = tmp_path / "db.uri"
    held.write_text("mongodb://tokens:secret@127.0.0.1:27017/?directConnection=true\n")
    settings = Settings.from_env({URI_FILE: str(held)})
    assert settings.mongo_uri == "mongodb://tokens:secret@127.0.0.1:27017/?directConnection=true"
    assert "secret" in settings.secrets
    # A flag wins over a variable, whichever form either takes.
    assert Settings.from_env({URI_FILE: str(held)}, mongo_uri="mongodb://other/").mongo_uri == (
        "mongodb://other/"
    )


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({URI_FILE: "{dir}/missing"}, f"{URI_FILE} cannot be read: No such file or directory"),
        ({URI_FILE: "{dir}/empty"}, f"{URI_FILE} names an empty file"),
        ({URI_FILE: "{dir}/empty", "TOKENS_MONGO_URI": "mongodb://db/"},
         f"TOKENS_MONGO_URI and {URI_FILE} are both set; give one"),
    ],
)
def test_a_uri_file_that_holds_no_uri_is_refused(
    tmp_path: Path, env: dict[str, str], message: str
) -> None:
    (tmp_path / "empty").write_text(" \n")
    env = {name: value.format(dir=tmp_path) for name, value in env.items()}
    with pytest.raises(SettingsError, match=message):
        Settings.from_env(env)


@pytest.mark.parametrize("option", OPTIONS, ids=[o.variable for o in OPTIONS])
def test_an_empty_variable_counts_as_unset(option: Option) -> None:
    assert Settings.from_env({option.variable: ""}) == Settings()


def test_overrides_win_over_variables_unless_none() -> None:
    env = {"TOKENS_PORT": "9000", "TOKENS_HOST": "::1"}
    settings = Settings.from_env(env, port=9100, host=None)
    assert (settings.port, settings.host) == (9100, "::1")


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"port": 70000}, "TOKENS_PORT must be between 0 and 65535, not 70000"),
        ({"db_name": "a.b"}, "database name 'a.b' is not a valid MongoDB name"),
        ({"admin_key": "short"}, "TOKENS_ADMIN_KEY must be at least 32 characters"),
        ({"secret_key": "short"}, "TOKENS_SECRET_KEY must be at least 16 characters"),
        ({"max_in_flight": 0}, "TOKENS_MAX_IN_FLIGHT must be at least 1, not 0"),
        ({"db_timeout_ms": -1}, "TOKENS_DB_TIMEOUT_MS must be at least 1, not -1"),
        ({"previous_secret_key": "p" * 16}, "TOKENS_PREVIOUS_SECRET_KEY needs TOKENS_SECRET_KEY"),
    ],
)
def test_values_are_checked_however_settings_are_made(
    values: dict[str, object], message: str
) -> None:
    with pytest.raises(SettingsError, match=message):
        Settings(**values)  # type: ignore[arg-type]


def test_secrets_name_the_keys_and_the_database_password() -> None:
    settings = Settings(
        mongo_uri="mongodb://tokens:pass%2Fword@db.example:27017/?authSource=admin",
        admin_key="a" * 32,
        secret_key="s" * 16,
    )
    assert settings.secrets == ["a" * 32, "s" * 16, "pass%2Fword"]
    assert Settings().secrets == []
