import pytest

from prognos.config import Settings
from prognos.errors import ConfigError
from prognos.store import open_store


def test_environment_then_explicit_overrides():
    s = Settings.from_env({"PROGNOS_PORT": "9000", "PROGNOS_STORE": "memory://"}, port=None, mqtt="mqtt://x:1")
    assert (s.server.port, s.store, s.mqtt.url) == (9000, "memory://", "mqtt://x:1")
    assert Settings.from_env({"PROGNOS_PORT": "9000"}, port=9100).server.port == 9100


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
    assert Settings.from_env({"PROGNOS_RETENTION_DAYS": "30"}).server.retention_days == 30
    assert Settings.from_env({}).server.retention_days is None


def test_every_setting_of_every_concern_has_its_variable():
    env = {
        "PROGNOS_MQTT_GROUP": "g",
        "PROGNOS_MAX_BATCH": "8",
        "PROGNOS_STREAM": "*=m",
        "PROGNOS_STREAM_GROUP": "w",
        "PROGNOS_RETRAIN_EPOCHS": "3",
        "PROGNOS_ACCESS_LOG": "off",
        "PROGNOS_REGISTRY": "models",
    }
    s = Settings.from_env(env)
    assert (s.mqtt.group, s.inference.max_batch, s.stream.assignments, s.stream.group) == ("g", 8, "*=m", "w")
    assert (s.retrain.epochs, s.inference.access_log, s.registry) == (3, False, "models")
    with pytest.raises(ConfigError, match="PROGNOS_ACCESS_LOG: expected true or false"):
        Settings.from_env({"PROGNOS_ACCESS_LOG": "maybe"})
    with pytest.raises(ConfigError, match="unknown setting 'prot'"):
        Settings.of(prot=1)
