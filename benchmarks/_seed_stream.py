"""The seed's design applied to a stream, the baseline of the stream benchmarks: a Flask ``/predict`` that
each reading is POSTed to on its own. It keeps every device's last readings as its window and, once the
window is full, runs the model on it (one ONNX Runtime call per reading) and answers the decision.

    python _seed_stream.py --artifact DIR --port 5000      (Flask's threaded server, as the seed runs it)

POST /predict {"device_id": "pump-0001", "values": {"flow": 41.2, …}} → {"score": …, "alarm": true|false}
"""

from __future__ import annotations

import argparse
import json
import threading
from collections import defaultdict, deque
from pathlib import Path

import numpy as np
import onnxruntime as ort
from flask import Flask, jsonify, request

ap = argparse.ArgumentParser()
ap.add_argument("--artifact", required=True)
ap.add_argument("--port", type=int, default=5000)
args = ap.parse_args()
card = json.loads((Path(args.artifact) / "card.json").read_text())
SENSORS, WINDOW = card["input"]["sensors"], card["window"]
MEAN, STD = (np.array(card["scaler"][k][0]) for k in ("mean", "scale"))  # one regime
THRESHOLD = card["output"]["threshold"]
options = ort.SessionOptions()
options.intra_op_num_threads = 1
session = ort.InferenceSession(str(Path(args.artifact) / "model.onnx"), options, providers=["CPUExecutionProvider"])
windows: dict[str, deque] = defaultdict(lambda: deque(maxlen=WINDOW))
lock = threading.Lock()
app = Flask(__name__)


@app.route("/predict", methods=["POST"])
def predict():
    body = request.get_json()
    row = [body["values"][s] for s in SENSORS]
    with lock:
        w = windows[body["device_id"]]
        w.append(row)
        x = np.array(w) if len(w) == WINDOW else None
    if x is None:
        return jsonify({"score": None, "alarm": False})
    y = session.run(None, {"x": ((x - MEAN) / STD).astype(np.float32)[None]})[0]
    score = float(y.sum())
    return jsonify({"score": score, "alarm": score > THRESHOLD})


if __name__ == "__main__":
    app.run(host="127.0.0.1", port=args.port, threaded=True)
