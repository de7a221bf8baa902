"""The AWS side: a CDK app that gives an account its own Claude endpoint on Amazon Bedrock.

`app.py` reads the typed configuration (`config.py`) once and composes three kinds of stacks from
the constructs in `constructs/`: Bedrock access per Bedrock region, a relay per relay region (the
Hong Kong relay is one of them) and the deployment's observability.
"""
