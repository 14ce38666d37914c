"""The local stack's speed patches to moto (infra/local/moto_stack.py) change no answer.

The same Queries, Scans and reads run against moto in this process before and after the patches: base
table and index, key conditions, pages (Limit and ExclusiveStartKey), both orders, filters, binary and
set attributes. The answers must be equal, and the patched path must be the one taken.
"""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest
from moto import mock_aws

from infra.local import moto_stack

TABLE = "patched"


def _table(client: Any) -> None:
    keys = [{"AttributeName": n, "AttributeType": "S"} for n in ("pk", "sk", "gsi1pk", "gsi1sk")]
    client.create_table(
        TableName=TABLE,
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
        AttributeDefinitions=keys,
        BillingMode="PAY_PER_REQUEST",
        GlobalSecondaryIndexes=[
            {
                "IndexName": "gsi1",
                "KeySchema": [
                    {"AttributeName": "gsi1pk", "KeyType": "HASH"},
                    {"AttributeName": "gsi1sk", "KeyType": "RANGE"},
                ],
                "Projection": {"ProjectionType": "ALL"},
            }
        ],
    )
    for unit in range(6):
        for n in range(40):
            item: dict[str, Any] = {
                "pk": {"S": f"C#x#U#{unit:03d}"},
                "sk": {"S": f"R#{n:05d}"},
                "n": {"N": str(n % 7)},
                "text": {"S": f"第{n}行 问题"},
                "blob": {"B": bytes([n, 255 - n])},
                "tags": {"SS": [f"t{n % 3}", "all"]},
                "nested": {"M": {"l": {"L": [{"S": "中"}, {"NULL": True}, {"BOOL": n % 2 == 0}]}}},
            }
            if n % 4:  # a sparse index, as ours are
                item |= {"gsi1pk": {"S": f"P#{n % 3}"}, "gsi1sk": {"S": f"U#{unit:03d}#{n:05d}"}}
            client.put_item(TableName=TABLE, Item=item)
    _reset_written(client)


WRITTEN = {"pk": {"S": "W#writes"}, "sk": {"S": "R#00001"}}


def _reset_written(client: Any) -> None:
    """The item the writes change, and the batch's items, as they are before each round."""
    client.put_item(TableName=TABLE, Item={**WRITTEN, "n": {"N": "1"}, "blob": {"B": b"\x00"}, "ss": {"SS": ["a"]}})
    for n in range(3):
        client.put_item(TableName=TABLE, Item={"pk": {"S": "B#1"}, "sk": {"S": f"R#{n}"}})


def _pages(client: Any, **query: Any) -> list[dict[str, Any]]:
    pages, start = [], None
    while True:
        answer = client.query(TableName=TABLE, **query, **({"ExclusiveStartKey": start} if start else {}))
        answer.pop("ResponseMetadata", None)
        pages.append(answer)
        start = answer.get("LastEvaluatedKey")
        if not start:
            return pages


QUERIES: list[dict[str, Any]] = [
    {"KeyConditionExpression": "pk = :p", "ExpressionAttributeValues": {":p": {"S": "C#x#U#002"}}},
    {"KeyConditionExpression": "pk = :p", "ExpressionAttributeValues": {":p": {"S": "C#x#U#002"}}, "Limit": 7},
    {
        "KeyConditionExpression": "pk = :p AND begins_with(sk, :r)",
        "ExpressionAttributeValues": {":p": {"S": "C#x#U#004"}, ":r": {"S": "R#0001"}},
        "ScanIndexForward": False,
    },
    {
        "KeyConditionExpression": "pk = :p AND sk BETWEEN :a AND :b",
        "FilterExpression": "n > :n",
        "ExpressionAttributeValues": {
            ":p": {"S": "C#x#U#001"},
            ":a": {"S": "R#00005"},
            ":b": {"S": "R#00030"},
            ":n": {"N": "3"},
        },
        "Limit": 4,
    },
    {"KeyConditionExpression": "pk = :p", "ExpressionAttributeValues": {":p": {"S": "nobody"}}},
    {"IndexName": "gsi1", "KeyConditionExpression": "gsi1pk = :g", "ExpressionAttributeValues": {":g": {"S": "P#1"}}},
    {
        "IndexName": "gsi1",
        "KeyConditionExpression": "gsi1pk = :g AND begins_with(gsi1sk, :u)",
        "ExpressionAttributeValues": {":g": {"S": "P#2"}, ":u": {"S": "U#003"}},
        "ScanIndexForward": False,
        "Limit": 5,
    },
    {
        "IndexName": "gsi1",
        "KeyConditionExpression": "gsi1pk = :g",
        "ExpressionAttributeValues": {":g": {"S": "P#0"}},
        "Limit": 9,
        "ReturnConsumedCapacity": "TOTAL",
    },
]


def _answers(client: Any) -> list[Any]:
    answers: list[Any] = [_pages(client, **q) for q in QUERIES]
    scan = client.scan(TableName=TABLE, Limit=50)
    scan.pop("ResponseMetadata", None)
    item = client.get_item(TableName=TABLE, Key={"pk": {"S": "C#x#U#005"}, "sk": {"S": "R#00017"}})
    item.pop("ResponseMetadata", None)
    batch = client.batch_get_item(
        RequestItems={TABLE: {"Keys": [{"pk": {"S": "C#x#U#000"}, "sk": {"S": f"R#{n:05d}"}} for n in (1, 2, 99)]}}
    )
    batch.pop("ResponseMetadata", None)
    # Writes answer too: the old item (ReturnValues), consumed capacity, unprocessed items.
    key = WRITTEN
    updated = client.update_item(
        TableName=TABLE,
        Key=key,
        UpdateExpression="SET n = :n",
        ExpressionAttributeValues={":n": {"N": "42"}},
        ReturnValues="ALL_OLD",
        ReturnConsumedCapacity="TOTAL",
    )
    put = client.put_item(
        TableName=TABLE, Item={**key, "blob": {"B": b"\x01"}}, ReturnValues="ALL_OLD", ReturnConsumedCapacity="TOTAL"
    )
    written = client.batch_write_item(
        RequestItems={TABLE: [{"PutRequest": {"Item": {"pk": {"S": "B#1"}, "sk": {"S": f"R#{n}"}}}} for n in range(3)]}
    )
    deleted = client.delete_item(TableName=TABLE, Key=key, ReturnValues="ALL_OLD")
    # DynamoDB's 400 KB item limit: refused just over it, taken just under it (moto's 405,000 bytes).
    limits = []
    for size in (404_900, 405_100):
        try:
            client.put_item(
                TableName=TABLE,
                Item={"pk": {"S": "L#"}, "sk": {"S": "1"}, **{f"a{n}": {"S": "x" * (size // 10)} for n in range(10)}},
            )
            limits.append("taken")
        except client.exceptions.ClientError as error:
            limits.append(error.response["Error"]["Message"])
    _reset_written(client)  # the next round starts alike
    for answer in (updated, put, written, deleted):
        answer.pop("ResponseMetadata", None)
    return [*answers, scan, item, batch, updated, put, written, deleted, limits]


@pytest.fixture(scope="module")
def before_and_after() -> tuple[list[Any], list[Any], dict[str, int]]:
    from moto.dynamodb.models.table import Table

    with pytest.MonkeyPatch.context() as env, mock_aws():
        env.delenv("AWS_ENDPOINT_URL", raising=False)  # the local stack's endpoint, set for other tests
        client = boto3.client("dynamodb", region_name="cn-north-1")
        _table(client)
        before = _answers(client)
        moto_stack.patch_dynamodb_query_cost()
        moto_stack.patch_dynamodb_serialization()
        moto_stack.patch_dynamodb_item_size_check()
        narrowed = {"calls": 0}
        patched_all_items = Table.all_items

        def counting(self: Any) -> Any:
            if getattr(moto_stack._query_scope, "table", None) is self:
                narrowed["calls"] += 1
            return patched_all_items(self)

        Table.all_items = counting  # type: ignore[method-assign]
        try:
            after = _answers(client)
        finally:
            Table.all_items = patched_all_items  # type: ignore[method-assign]
    return before, after, narrowed


def test_every_query_and_read_answers_the_same_after_the_patches(
    before_and_after: tuple[list[Any], list[Any], dict[str, int]],
) -> None:
    before, after, _ = before_and_after
    assert len(before) == len(after) == len(QUERIES) + 8
    assert before[-1][0] == "taken" and before[-1][1] != "taken"
    for n, (old, new) in enumerate(zip(before, after, strict=True)):
        assert new == old, f"answer {n} changed"
    assert sum(len(page["Items"]) for page in before[0]) == 40
    assert len(before[1]) > 1  # the paged query really paged


def test_the_narrowed_path_is_the_one_taken(before_and_after: tuple[list[Any], list[Any], dict[str, int]]) -> None:
    _, _, narrowed = before_and_after
    # Every page of every Query took the narrowed path (each page is one Query).
    pages = sum(len(answer) for answer in before_and_after[1][: len(QUERIES)])
    assert narrowed["calls"] == pages


@pytest.mark.parametrize(
    ("operation", "result", "expected"),
    [
        (
            "Query",
            {"Items": [{"b": {"B": b"\x00\xff"}, "s": {"S": "中"}}], "Count": 1},
            {"Items": [{"b": {"B": "AP8="}, "s": {"S": "中"}}], "Count": 1},
        ),
        ("GetItem", {}, {}),
        ("DescribeTable", {"Table": {}}, None),  # not a plain read: moto's serializer
        ("Scan", {"Items": [{"x": {"S": object()}}]}, None),  # not JSON: moto's serializer
    ],
)
def test_fast_body_is_json_with_binary_as_base64(operation: str, result: Any, expected: Any) -> None:
    body = moto_stack.fast_dynamodb_body(operation, result)
    assert (json.loads(body) if body is not None else None) == expected


def test_a_message_past_its_retention_is_dropped_as_moto_drops_it() -> None:
    from moto.sqs.models import SQSBackend, sqs_backends

    with pytest.MonkeyPatch.context() as env, mock_aws():
        env.delenv("AWS_ENDPOINT_URL", raising=False)
        sqs = boto3.client("sqs", region_name="cn-north-1")
        url = sqs.create_queue(QueueName="kept", Attributes={"MessageRetentionPeriod": "60"})["QueueUrl"]
        for n in range(5):
            sqs.send_message(QueueUrl=url, MessageBody=f"m{n}")
        backend = next(iter(sqs_backends.values()))["cn-north-1"]
        queue = backend.get_queue("kept")
        messages = list(queue._messages)
        messages[1].sent_timestamp -= 61_000  # sent 61 s ago: past a 60 s retention
        messages[2].sent_timestamp -= 59_000  # still within it
        before = [backend.is_message_valid_based_on_retention_period("kept", m) for m in messages]
        moto_stack.patch_sqs_receive_cost()
        assert SQSBackend.is_message_valid_based_on_retention_period.__name__ == (
            "is_message_valid_based_on_retention_period"
        )
        after = [backend.is_message_valid_based_on_retention_period("kept", m) for m in messages]
        assert before == after == [True, False, True, True, True]
        bodies: list[str] = []
        while batch := sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages"):
            bodies += [m["Body"] for m in batch]
        assert sorted(bodies) == ["m0", "m2", "m3", "m4"]
