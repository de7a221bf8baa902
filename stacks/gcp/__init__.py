"""The Pulumi program for Claude on Vertex AI: one ComponentResource per concern, wired by
`__main__.py` from the typed config of `config.py`."""
