"""Anthropic's Message Batches API (`/v1/messages/batches`) on Amazon Bedrock batch inference.

The pure core: `state` (a batch, its parts, Bedrock job statuses in Anthropic's terms),
`records` (Bedrock's JSONL records and Anthropic's result lines) and `planning` (a create
request validated, split into parts, its upper-bound cost). The edges: `store` (S3), `jobs`
(the Bedrock control plane), both signed by `aws_http`; `service` runs their steps and settles
ended jobs; `routes` are the HTTP endpoints.
"""
