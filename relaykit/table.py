"""The relay's DynamoDB table, for places without CloudFormation: local mode and tests.

The same schema as the CDK relay construct (pk/sk strings, TTL on `expires_at`, on demand);
a test checks the two agree.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

KEY_SCHEMA: tuple[tuple[str, Literal["HASH", "RANGE"]], ...] = (("pk", "HASH"), ("sk", "RANGE"))
TTL_ATTRIBUTE = "expires_at"


def create_table(client: DynamoDBClient, name: str) -> None:
    """Create the table (idempotent) and wait until it is active."""
    try:
        client.create_table(
            TableName=name,
            AttributeDefinitions=[
                {"AttributeName": attribute, "AttributeType": "S"} for attribute, _ in KEY_SCHEMA
            ],
            KeySchema=[{"AttributeName": a, "KeyType": kind} for a, kind in KEY_SCHEMA],
            BillingMode="PAY_PER_REQUEST",
        )
    except client.exceptions.ResourceInUseException:
        return
    client.get_waiter("table_exists").wait(TableName=name, WaiterConfig={"Delay": 1})
    client.update_time_to_live(
        TableName=name,
        TimeToLiveSpecification={"Enabled": True, "AttributeName": TTL_ATTRIBUTE},
    )
