"""Anthropic's Message Batches API (`/v1/messages/batches`) on Amazon Bedrock batch inference.

`state` is the pure core (a batch, its parts and how Bedrock job states read in Anthropic's
terms), `store` and `jobs` the edges (S3, the Bedrock control plane), `service` the steps of
each call and `routes` the HTTP endpoints.
"""
