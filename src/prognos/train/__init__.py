"""Windows → fitted model → ONNX: the training loop, exports and evaluation. Imports torch."""
