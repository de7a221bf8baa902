"""OpenAI compatibility: Chat Completions and the model list, translated to and from Messages.

`request` and `response` are pure translations (no I/O); `errors` renders an ApiError in
OpenAI's error shape; `routes` are the thin HTTP handlers that call the relay's Messages seam.
"""
