import pytest

from prognos.config import Settings
from prognos.errors import ConfigError
from prognos.store import open_store


def test_environment_then_explicit_overrides():
    s = Settings.from_env({"PROGNOS_PORT": "9000", "PROGNOS_STORE": "memory://"}, port=None, mqtt="mqtt://x:1")
    assert (s.port, s.store, s.mqtt) == (9000, "memory://", "mqtt://x:1")
    assert Settings.from_env({"PROGNOS_PORT": "9000"}, port=9100).port == 9100


def test_bad_values_name_the_variable():
    with pytest.raises(ConfigError, match="PROGNOS_PORT"):
        Settings.from_env({"PROGNOS_PORT": "eighty"})
    with pytest.raises(ConfigError, match="unknown store URL"):
        open_store("sqlite:///x")
    with pytest.raises(ConfigError, match="names no file"):
        open_store("duckdb://")


def test_duckdb_url_options(tmp_path):
    store = open_store(f"duckdb:///{tmp_path}/a.duckdb?threads=1")
    assert store._con.execute("SELECT current_setting('threads')").fetchone() == (1,)  # type: ignore[attr-defined]
    store.close()
    with pytest.raises(ConfigError, match="threads must be a positive integer"):
        open_store(f"duckdb:///{tmp_path}/b.duckdb?threads=zero")


def test_optional_integers_from_the_environment():
    assert Settings.from_env({"PROGNOS_RETENTION_DAYS": "30"}).retention_days == 30
    assert Settings.from_env({}).retention_days is None
