"""S3 notifications as they arrive through SQS: keys URL-encoded, test events ignored."""

from __future__ import annotations

import json
from urllib.parse import quote_plus

import pytest

from chalicelib.domain.s3_events import NotAnS3EventError, object_refs


def _body(key: str, **obj: object) -> str:
    return json.dumps(
        {
            "Records": [
                {
                    "eventSource": "aws:s3",
                    "eventName": "ObjectCreated:Put",
                    "eventTime": "2023-05-12T02:03:04.567Z",
                    "s3": {"bucket": {"name": "b"}, "object": {"key": key, "size": 5, **obj}},
                }
            ]
        }
    )


def test_keys_are_decoded_the_way_s3_encodes_them() -> None:
    key = "uploads/xinzhou-2023/140981/issue-list/2023-05/原平市 5月清单+v2 (100%).xlsx"
    [ref] = object_refs(_body(quote_plus(key), versionId="v1", sequencer="0A1B"))
    assert ref.key == key
    assert (ref.version_id, ref.sequencer, ref.size) == ("v1", "0A1B", 5)
    assert ref.event_time.isoformat() == "2023-05-12T02:03:04.567000+00:00"


def test_the_s3_test_event_carries_no_objects() -> None:
    assert object_refs(json.dumps({"Service": "Amazon S3", "Event": "s3:TestEvent"})) == []


def test_deletions_are_not_uploads() -> None:
    body = json.loads(_body("uploads/x"))
    body["Records"][0]["eventName"] = "ObjectRemoved:Delete"
    assert object_refs(json.dumps(body)) == []


@pytest.mark.parametrize("body", ["not json", "{}", '{"Records": null}'])
def test_other_messages_are_refused(body: str) -> None:
    with pytest.raises(NotAnS3EventError):
        object_refs(body)
