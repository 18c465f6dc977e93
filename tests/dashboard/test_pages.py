"""Every page of the dashboard in headless Chromium against a live server: loads clean, draws real data,
acts through the public API, updates live, works from the keyboard."""

from __future__ import annotations

import time

import pytest

from tests.dashboard.conftest import Site, Tab


def first_open_alert(site: Site, rule: str | None = None) -> dict:
    alerts = site.http.get("/api/v1/alerts", params={"state": "open"}).json()["alerts"]
    return next(a for a in alerts if rule is None or a["rule"] == rule)


def pages(site: Site) -> dict[str, str]:
    alert = first_open_alert(site)
    return {
        "fleet": "/fleet",
        "device": f"/device/{alert['device_id']}",
        "alerts": "/alerts",
        "alert": f"/alert/{alert['id']}",
        "models": "/models",
        "model": "/model/pump-anomaly",
        "health": "/health",
    }


@pytest.mark.parametrize("name", ["fleet", "device", "alerts", "alert", "models", "model", "health"])
def test_each_page_loads_without_console_errors(site: Site, tab: Tab, name: str):
    page = tab.goto(site, pages(site)[name])
    page.wait_for_timeout(4500 if name == "health" else 1500)  # charts, live events, a few samples of the numbers
    assert page.locator(".error").count() == 0, page.locator(".error").all_inner_texts()
    assert page.locator("h1").count() == 1
    tab.shot(name)
    assert tab.errors == []


def test_the_fleet_lists_every_device_with_status_and_predictions(site: Site, tab: Tab):
    page = tab.goto(site, "/fleet")
    rows = page.locator("#fleet tbody tr")
    assert rows.count() == len(site.devices)
    statuses = set(page.locator("#fleet tbody tr").evaluate_all("rows => rows.map(r => r.dataset.status)"))
    assert statuses <= {"healthy", "warning", "alarm", "offline"} and "offline" in statuses  # one failed in history
    scored = page.locator('#fleet tbody tr[data-device^="pump"] td').nth(4).inner_text()
    assert scored != "–"  # the anomaly score of a pump, from its model
    page.fill("#filter", "motor")
    assert page.locator("#fleet tbody tr").count() == sum(d.startswith("motor") for d in site.devices)


def test_sorting_the_fleet_works_from_the_keyboard(site: Site, tab: Tab):
    page = tab.goto(site, "/fleet")
    header = page.locator('th[data-key="device_id"]')
    header.focus()
    page.keyboard.press("Enter")
    assert header.get_attribute("aria-sort") == "ascending"
    first = page.locator("#fleet tbody tr").first.get_attribute("data-device")
    page.keyboard.press("Enter")
    assert header.get_attribute("aria-sort") == "descending"
    assert page.locator("#fleet tbody tr").first.get_attribute("data-device") != first
    assert first == sorted(site.devices)[0]


def test_device_charts_draw_the_stored_series(site: Site, tab: Tab):
    pump = next(
        d
        for d in site.devices
        if d.startswith("pump")
        and site.http.get(f"/api/v1/devices/{d}").json()["latest"].get("pred.pump-anomaly.anomaly.score")
    )
    page = tab.goto(site, f"/device/{pump}")
    page.wait_for_selector("main[data-drawn]")
    drawn = page.locator("main").get_attribute("data-drawn")
    page.click('[data-range="1h"]')  # the live part, in finer buckets
    page.wait_for_function(f"() => document.querySelector('main').dataset.drawn !== '{drawn}'")
    main = page.locator("main")
    window = {k: main.get_attribute(f"data-{k}") for k in ("start", "end", "points")}
    stored = site.http.get(
        f"/api/v1/devices/{pump}/telemetry", params={"keys": "pred.pump-anomaly.anomaly.score", **window}
    ).json()
    want = stored["series"]["pred.pump-anomaly.anomaly.score"]["values"]
    drawn_points = int(page.locator("#score").get_attribute("data-points"))
    # every point the API gave; the feed is live, so since the page asked, the newest bucket may have grown and
    # one more may have begun
    assert len(want) - 1 <= drawn_points <= len(want) and drawn_points >= 10
    plotted = page.evaluate("() => document.querySelector('#score')._uplot.data[1].filter(v => v !== null)")
    assert len(plotted) == drawn_points and plotted[:-1] == pytest.approx(want[: drawn_points - 1])
    assert page.evaluate("() => prognosInkedPixels('#score')") > 300  # lines on the canvas, not an empty frame
    sensors = page.locator("[data-sensor]")
    assert sensors.count() == 12 and all(int(s.get_attribute("data-points") or 0) > 50 for s in sensors.all())
    assert page.locator("#track svg polyline").count() == 1 and page.locator("#states span[title]").count() >= 1


def test_acknowledging_an_alert_in_the_page_changes_it_through_the_api(site: Site, tab: Tab):
    alert = first_open_alert(site, "anomaly")  # an anomaly's alert: its contributions are drawn
    page = tab.goto(site, f"/alert/{alert['id']}")
    assert page.locator("#contrib .fill").count() >= 2  # the per-sensor contributions, as bars
    page.fill("#by", "ana")
    page.fill("#note", "looking at it")
    page.click("#ack")
    deadline = time.monotonic() + 10
    while site.http.get(f"/api/v1/alerts/{alert['id']}").json()["state"] != "acknowledged":
        assert time.monotonic() < deadline
        time.sleep(0.2)
    after = site.http.get(f"/api/v1/alerts/{alert['id']}").json()
    assert after["acknowledged_by"] == "ana" and after["note"] == "looking at it"
    page.wait_for_selector("h1 .badge.acknowledged")
    assert page.locator("#ack").is_disabled()


def test_calling_an_alert_a_false_alarm_in_the_page_resolves_it_as_one(site: Site, tab: Tab):
    alert = site.http.get("/api/v1/alerts").json()["alerts"][-1]
    page = tab.goto(site, f"/alert/{alert['id']}")
    page.fill("#by", "ana")
    page.click("#false-alarm")
    deadline = time.monotonic() + 10
    while not (after := site.http.get(f"/api/v1/alerts/{alert['id']}").json())["history"][-1].get("false_alarm"):
        assert time.monotonic() < deadline
        time.sleep(0.2)
    assert after["state"] == "resolved" and after["history"][-1]["by"] == "ana"
    page.wait_for_function("() => document.querySelector('#false-alarm')?.disabled")
    assert "a false alarm" in page.locator("ul").last.inner_text()


def test_the_model_page_shows_how_its_detector_was_chosen(site: Site, tab: Tab):
    champion = site.http.get("/api/v1/models/fan-contest").json()["aliases"]["champion"]
    contest = site.http.get(f"/api/v1/models/fan-contest/versions/{champion}").json()["card"]["metrics"]["contest"]
    page = tab.goto(site, "/model/fan-contest")
    page.wait_for_selector("#contest")
    assert page.locator("#why").inner_text() == contest["why"]
    rows = page.locator("#contest tbody tr")
    assert rows.count() == len(contest["entries"]) == 2
    served = next(e["name"] for e in contest["entries"] if e["served"])
    assert page.locator("#contest tr[data-served]").get_attribute("data-candidate") == served


def test_promoting_a_version_in_the_page_moves_the_alias_after_confirmation(site: Site, tab: Tab):
    page = tab.goto(site, "/model/pump-anomaly")
    assert site.http.get("/api/v1/models/pump-anomaly").json()["aliases"]["champion"] == 1
    page.click('[data-promote="2"]')
    dialog = page.locator("dialog[open]")
    dialog.locator("[data-no]").click()  # cancelled: nothing moves
    assert site.http.get("/api/v1/models/pump-anomaly").json()["aliases"]["champion"] == 1
    page.click('[data-promote="2"]')
    page.locator("dialog[open] [data-ok]").click()
    page.wait_for_function("() => document.querySelector('#msg')?.textContent.includes('v2 is champion')")
    assert site.http.get("/api/v1/models/pump-anomaly").json()["aliases"]["champion"] == 2
    page.click("#rollback")
    page.locator("dialog[open] [data-ok]").click()
    page.wait_for_function("() => document.querySelector('#msg')?.textContent.includes('Rolled back')")
    assert site.http.get("/api/v1/models/pump-anomaly").json()["aliases"]["champion"] == 1


def test_live_updates_arrive_without_a_reload(site: Site, tab: Tab):
    page = tab.goto(site, "/fleet")
    page.wait_for_function("() => document.querySelector('#live').dataset.state === 'live'")
    before = page.locator("main").get_attribute("data-updated")
    page.wait_for_function(f"() => document.querySelector('main').dataset.updated !== '{before}'", timeout=15_000)
    assert page.evaluate("() => performance.getEntriesByType('navigation').length") == 1  # the same page, no reload


def test_the_health_page_charts_the_servers_own_numbers(site: Site, tab: Tab):
    page = tab.goto(site, "/health")
    page.wait_for_function("() => Number(document.querySelector('#ingest')?.dataset.points || 0) >= 2", timeout=15_000)
    assert "readings stored" in page.locator("#numbers").inner_text()
