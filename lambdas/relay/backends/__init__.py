"""Backends: the edge where the relay meets a model provider. The core sees only `Backend`."""
