"""Device → prognos: payload decoding and the transports (HTTP, MQTT, files, simulator)."""

from prognos.ingest.payload import Decoded, Limits, decode_device, decode_gateway

__all__ = ["Decoded", "Limits", "decode_device", "decode_gateway"]
