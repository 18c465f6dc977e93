"""A stand-in for a maintenance system: it takes prognos's signed webhooks, checks each signature and says what it
got, as a maintenance desk's ticketing system would (`prognos.act.actions.verify`: the HMAC and its timestamp)."""

from __future__ import annotations

import json
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from tqdm import tqdm

from prognos.act.actions import verify


class MaintenanceDesk:
    """A stand-in for the maintenance system: takes prognos's signed webhooks and says what it got."""

    def __init__(self, secret: str) -> None:
        self.received, self.bad = 0, 0
        desk = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length", 0)))
                headers = {k.lower(): v for k, v in self.headers.items()}
                ok = verify(secret, headers, body)  # signed with the shared secret, and recently: not a replay
                desk.received += ok
                desk.bad += not ok
                if ok:
                    a = json.loads(body)
                    top = ", ".join(s for s, _ in (a.get("explanation") or {}).get("top_sensors", [])[:2])
                    tqdm.write(
                        f"  ⚑ {a['event']:<8} {a['severity']:<8} {a['rule']:<10} {a['device_id']:<11} "
                        f"value {_short(a['value'])}" + (f"  (top sensors: {top})" if top else ""),
                        file=sys.stderr,
                    )
                self.send_response(200 if ok else 401)
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/maintenance"
        threading.Thread(target=self.server.serve_forever, name="demo-desk", daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def _short(value: Any) -> str:
    return f"{value:.3g}" if isinstance(value, int | float) else str(value)
