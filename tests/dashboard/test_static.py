"""The dashboard's files: served at / by the server, nothing from a CDN, the vendored library as fetched."""

from __future__ import annotations

import re

from prognos.dashboard import STATIC
from prognos.dashboard.vendor import check
from tests.server.conftest import serving


def test_the_vendored_chart_library_is_what_was_fetched():
    assert check() == []


def test_no_page_reaches_beyond_the_server():
    for path in [*STATIC.glob("*.html"), *STATIC.glob("js/*.js"), *STATIC.glob("css/*.css")]:
        text = path.read_text()
        assert not re.search(r"(src|href)\s*=\s*[\"']?(https?:)?//", text), path  # nothing from another host
        assert "cdn" not in text.lower(), path


def test_the_server_serves_the_dashboard_at_the_root(tmp_path):
    with serving(tmp_path) as live:
        page = live.http.get("/")
        assert page.status_code == 200 and '<script type="module" src="js/app.js">' in page.text
        assert live.http.get("/vendor/uPlot.iife.min.js").status_code == 200
        kind = live.http.get("/js/api.js").headers["content-type"]
        assert kind.startswith(("text/javascript", "application/javascript"))
        missing = live.http.get("/api/v1/nothing")
        assert missing.status_code == 404 and missing.json()["error"]  # the API's 404 stays JSON
