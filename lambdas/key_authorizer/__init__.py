"""API Gateway authorizer: clients send their API key as `x-api-key` or as a bearer token."""
