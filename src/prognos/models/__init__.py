"""PyTorch model definitions: the only torch import besides ``prognos.train``."""
