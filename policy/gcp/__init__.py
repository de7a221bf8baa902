"""The GCP policy pack: guard rails for the Claude on Vertex AI stack (and any other)."""
