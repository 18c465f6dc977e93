from __future__ import annotations

import os
import subprocess
import sys

from prognos.act.alerts import Alerts
from prognos.act.rules import Condition, Engine, Rule


def raise_alert(store, device="pump-1"):
    engine = Engine([Rule("hot", Condition("raw.temperature", above=80))])
    (t,) = engine.observe(device, 1000, {"raw.temperature": 99})
    return Alerts(store).apply(t, {"top_sensors": [["temperature", 1.0]]})


def test_the_alert_lifecycle_over_http(live):
    alert = raise_alert(live.store)
    http = live.http
    listed = http.get("/api/v1/alerts?state=open").json()["alerts"]
    assert [a["id"] for a in listed] == [alert.id] and listed[0]["explanation"]["top_sensors"][0][0] == "temperature"
    acked = http.post(f"/api/v1/alerts/{alert.id}/acknowledge", json={"by": "ana", "note": "on it"}).json()
    assert acked["state"] == "acknowledged" and acked["acknowledged_by"] == "ana"
    assert http.get("/api/v1/alerts?state=open").json()["alerts"] == []
    assert http.post(f"/api/v1/alerts/{alert.id}/resolve", json={"by": "ana"}).json()["state"] == "resolved"
    conflict = http.post(f"/api/v1/alerts/{alert.id}/acknowledge", json={"by": "ana"})
    assert conflict.status_code == 409
    assert http.get(f"/api/v1/alerts/{alert.id}").json()["history"][-1]["event"] == "resolve"
    assert http.get("/api/v1/alerts/nope").status_code == 404
    bad = http.post(f"/api/v1/alerts/{alert.id}/acknowledge", json={"note": "who?"})
    assert bad.status_code == 400 and bad.json()["error"]["field"] == "by"
    assert http.get("/api/v1/alerts?state=closed").json()["error"]["field"] == "state"
    assert http.get("/api/v1/alerts?limit=0").status_code == 400


def test_a_false_alarm_is_kept_on_the_alert_and_a_wrong_flag_refused(live):
    alert = raise_alert(live.store, "pump-3")
    http = live.http
    bad = http.post(f"/api/v1/alerts/{alert.id}/resolve", json={"by": "ana", "false_alarm": "yes"})
    assert bad.status_code == 400 and bad.json()["error"]["field"] == "false_alarm"
    done = http.post(f"/api/v1/alerts/{alert.id}/resolve", json={"by": "ana", "false_alarm": True}).json()
    assert done["state"] == "resolved" and done["history"][-1] == done["history"][-1] | {
        "false_alarm": True,
        "by": "ana",
    }
    assert Alerts(live.store).get(alert.id).history[-1]["false_alarm"] is True


def test_the_alerts_cli_on_the_store_and_through_the_api(live, tmp_path):
    raise_alert(live.store, "pump-9")

    def prognos(*args):
        return subprocess.run(
            [sys.executable, "-m", "prognos.cli", "alerts", *args],
            capture_output=True,
            text=True,
            env=os.environ,
            timeout=60,
        )

    out = prognos("list", "--api", live.url, "--state", "open")
    assert "pump-9" in out.stdout and "1 alerts" in out.stdout
    alert_id = out.stdout.split()[0]
    assert prognos("ack", alert_id, "--by", "ana", "--api", live.url).stdout.strip() == f"{alert_id}: acknowledged"
    missing = prognos("ack", "nope", "--by", "ana", "--api", live.url)
    assert missing.returncode == 1 and "404" in missing.stderr
    called = prognos("resolve", alert_id, "--by", "ana", "--false-alarm", "--api", live.url)
    assert called.stdout.strip() == f"{alert_id}: resolved (a false alarm)"
    assert live.http.get(f"/api/v1/alerts/{alert_id}").json()["history"][-1]["false_alarm"] is True

    url = f"duckdb:///{tmp_path}/cli.duckdb"
    from prognos.store import open_store

    store = open_store(url)
    other = raise_alert(store, "pump-4")
    store.close()
    assert prognos("resolve", other.id, "--by", "bo", "--store", url).stdout.strip() == f"{other.id}: resolved"
    assert '"state": "resolved"' in prognos("list", "--store", url, "--json").stdout
