"""The local stack is what infra/template.json says, including what moto's CloudFormation skips."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from chalicelib.config import DEFAULT_UPLOAD_QUEUE_NAME
from infra.local.provision import unhandled_properties
from infra.local.settings import TEMPLATE_PATH

ROOT = Path(__file__).resolve().parents[2]


def _template() -> dict[str, Any]:
    return json.loads(TEMPLATE_PATH.read_text(encoding="utf-8"))


def test_every_template_property_is_applied_by_moto_or_by_the_local_stack() -> None:
    assert unhandled_properties(_template()) == []


def test_a_property_nobody_applies_is_reported() -> None:
    template = _template()
    template["Resources"]["UploadBucket"]["Properties"]["AccelerateConfiguration"] = {"AccelerationStatus": "Enabled"}
    assert unhandled_properties(template) == ["UploadBucket.AccelerateConfiguration (AWS::S3::Bucket)"]


def test_the_queue_the_handler_listens_to_is_the_queue_the_template_creates() -> None:
    template = _template()
    config = json.loads((ROOT / ".chalice" / "config.json").read_text(encoding="utf-8"))
    assert template["Parameters"]["UploadQueueName"]["Default"] == DEFAULT_UPLOAD_QUEUE_NAME
    assert config["environment_variables"]["UPLOAD_QUEUE_NAME"] == DEFAULT_UPLOAD_QUEUE_NAME


def test_bucket_is_versioned_private_encrypted_and_notifies_the_queue(system: Any) -> None:
    s3 = system.client("s3")
    bucket = system.outputs.bucket
    assert s3.get_bucket_versioning(Bucket=bucket)["Status"] == "Enabled"
    block = s3.get_public_access_block(Bucket=bucket)["PublicAccessBlockConfiguration"]
    assert all(block.values()) and len(block) == 4
    rules = s3.get_bucket_encryption(Bucket=bucket)["ServerSideEncryptionConfiguration"]["Rules"]
    assert rules[0]["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] == "AES256"
    [config] = s3.get_bucket_notification_configuration(Bucket=bucket)["QueueConfigurations"]
    assert config["QueueArn"] == system.outputs.queue_arn
    assert config["Events"] == ["s3:ObjectCreated:*"]
    assert config["Filter"]["Key"]["FilterRules"] == [{"Name": "Prefix", "Value": "uploads/"}] or config["Filter"][
        "Key"
    ]["FilterRules"] == [{"Name": "prefix", "Value": "uploads/"}]


def test_bucket_really_notifies_the_queue(system: Any) -> None:
    """An object outside uploads/ is not announced; the pump would otherwise see it."""
    sqs, s3 = system.client("sqs"), system.client("s3")
    # A private queue subscribed by the same mechanism shows what S3 sends.
    probe_url = sqs.create_queue(QueueName="notification-probe")["QueueUrl"]
    probe_arn = sqs.get_queue_attributes(QueueUrl=probe_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    s3.create_bucket(Bucket="probe-bucket", CreateBucketConfiguration={"LocationConstraint": system.settings.region})
    notification = s3.get_bucket_notification_configuration(Bucket=system.outputs.bucket)["QueueConfigurations"][0]
    s3.put_bucket_versioning(Bucket="probe-bucket", VersioningConfiguration={"Status": "Enabled"})
    s3.put_bucket_notification_configuration(
        Bucket="probe-bucket",
        NotificationConfiguration={"QueueConfigurations": [{**notification, "QueueArn": probe_arn}]},
    )
    s3.put_object(Bucket="probe-bucket", Key="elsewhere/x.txt", Body=b"x")
    put = s3.put_object(Bucket="probe-bucket", Key="uploads/a b/原平.xlsx", Body=b"x")
    messages = sqs.receive_message(QueueUrl=probe_url, MaxNumberOfMessages=10, WaitTimeSeconds=1).get("Messages", [])
    bodies = [json.loads(m["Body"]) for m in messages]
    # Like S3, moto first sends a test event when the configuration is set.
    assert {"Event": "s3:TestEvent"}.items() <= bodies[0].items()
    records = [r for body in bodies[1:] for r in body["Records"]]
    assert [r["s3"]["object"]["key"] for r in records] == ["uploads/a+b/%E5%8E%9F%E5%B9%B3.xlsx"]
    # What the local stack adds so events look like AWS's: the exact version and a sequencer.
    assert records[0]["s3"]["object"]["versionId"] == put["VersionId"]
    assert records[0]["s3"]["object"]["sequencer"]


def test_queue_policy_lets_s3_send_and_the_queue_redrives_to_the_dlq(system: Any) -> None:
    sqs = system.client("sqs")
    attributes = sqs.get_queue_attributes(QueueUrl=system.outputs.queue_url, AttributeNames=["All"])["Attributes"]
    [statement] = json.loads(attributes["Policy"])["Statement"]
    assert statement["Principal"] == {"Service": "s3.amazonaws.com"}
    assert statement["Action"] == "sqs:SendMessage"
    assert statement["Resource"] == system.outputs.queue_arn
    redrive = json.loads(attributes["RedrivePolicy"])
    dlq_arn = sqs.get_queue_attributes(QueueUrl=system.outputs.dlq_url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    assert redrive["deadLetterTargetArn"] == dlq_arn
    assert int(redrive["maxReceiveCount"]) == 5


def test_table_has_its_indexes_ttl_and_point_in_time_recovery(system: Any) -> None:
    ddb = system.client("dynamodb")
    table = ddb.describe_table(TableName=system.outputs.table)["Table"]
    assert sorted(i["IndexName"] for i in table["GlobalSecondaryIndexes"]) == ["gsi1", "gsi2"]
    assert table["BillingModeSummary"]["BillingMode"] == "PAY_PER_REQUEST"
    ttl = ddb.describe_time_to_live(TableName=system.outputs.table)["TimeToLiveDescription"]
    assert (ttl["TimeToLiveStatus"], ttl["AttributeName"]) == ("ENABLED", "expires_at")
    pitr = ddb.describe_continuous_backups(TableName=system.outputs.table)["ContinuousBackupsDescription"]
    assert pitr["PointInTimeRecoveryDescription"]["PointInTimeRecoveryStatus"] == "ENABLED"


def test_bucket_owns_its_objects_and_ages_old_versions(system: Any) -> None:
    s3 = system.client("s3")
    bucket = system.outputs.bucket
    [rule] = s3.get_bucket_ownership_controls(Bucket=bucket)["OwnershipControls"]["Rules"]
    assert rule == {"ObjectOwnership": "BucketOwnerEnforced"}
    rules = {r["ID"]: r for r in s3.get_bucket_lifecycle_configuration(Bucket=bucket)["Rules"]}
    noncurrent = rules["noncurrent-versions-to-infrequent-access"]
    assert noncurrent["NoncurrentVersionTransitions"] == [{"NoncurrentDays": 30, "StorageClass": "STANDARD_IA"}]
    assert "NoncurrentVersionExpiration" not in noncurrent  # superseded uploads are evidence: never expired
    assert rules["abort-incomplete-multipart-uploads"]["AbortIncompleteMultipartUpload"] == {"DaysAfterInitiation": 7}


def test_table_is_protected_from_deletion(system: Any) -> None:
    table = system.client("dynamodb").describe_table(TableName=system.outputs.table)["Table"]
    assert table["DeletionProtectionEnabled"] is True


def test_bucket_lets_the_county_page_post_uploads(system: Any) -> None:
    [rule] = system.client("s3").get_bucket_cors(Bucket=system.outputs.bucket)["CORSRules"]
    assert rule["AllowedMethods"] == ["POST"]
    assert rule["AllowedOrigins"] == ["http://127.0.0.1:8000"]


def test_racing_conditional_claims_cannot_both_win(system: Any) -> None:
    """As in DynamoDB, and as the exactly-once claims need: of 8 racing conditional updates of one item
    (the notice log's "pending → sending" claim), exactly one succeeds. Without the local stack's lock
    moto lets two win now and then (seen about once in 60 rounds)."""
    import threading

    from botocore.exceptions import ClientError

    ddb = system.client("dynamodb")
    doubled = 0
    for round_number in range(40):
        key = {"pk": {"S": f"RACE#{round_number}"}, "sk": {"S": "claim"}}
        ddb.put_item(
            TableName=system.outputs.table, Item={**key, "state": {"S": "pending"}, "text": {"S": "x" * 20000}}
        )
        wins: list[int] = []
        start = threading.Barrier(8)

        def claim(n: int, key: dict[str, Any] = key, wins: list[int] = wins, start: threading.Barrier = start) -> None:
            start.wait()
            try:
                ddb.update_item(
                    TableName=system.outputs.table,
                    Key=key,
                    UpdateExpression="SET #s = :sending",
                    ConditionExpression="#s IN (:pending, :failed)",
                    ExpressionAttributeNames={"#s": "state"},
                    ExpressionAttributeValues={
                        ":sending": {"S": "sending"},
                        ":pending": {"S": "pending"},
                        ":failed": {"S": "failed"},
                    },
                )
                wins.append(n)
            except ClientError as exc:
                assert exc.response["Error"]["Code"] == "ConditionalCheckFailedException"

        threads = [threading.Thread(target=claim, args=(n,)) for n in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        doubled += len(wins) != 1
    assert doubled == 0
