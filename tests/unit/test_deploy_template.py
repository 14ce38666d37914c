"""The packaged deployment template (what `make package` writes to build/sam.json) is hardened.

Reads the template's structure, after Chalice's merge, not our sources: what is asserted here
is what CloudFormation would receive.
"""

from __future__ import annotations

import json
import tempfile
from functools import cache
from pathlib import Path
from typing import Any

import pytest

from infra.package import MergeConflictError, merge_strict, package

FUNCTION = "AWS::Serverless::Function"
LOG_ACTIONS = {"logs:CreateLogStream", "logs:PutLogEvents"}


@cache
def packaged_template() -> dict[str, Any]:
    """Build once per test session (Chalice caches the dependency layer in .chalice/deployments)."""
    with tempfile.TemporaryDirectory(prefix="sam-") as out:
        return json.loads(package(Path(out)).read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def sam() -> dict[str, Any]:
    return packaged_template()


def resources(template: dict[str, Any], kind: str) -> dict[str, dict[str, Any]]:
    return {name: r for name, r in template["Resources"].items() if r["Type"] == kind}


def only(template: dict[str, Any], kind: str) -> tuple[str, dict[str, Any]]:
    [(name, resource)] = resources(template, kind).items()
    return name, resource


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def sub_text(value: Any) -> str:
    """An ARN expression as one string: ``${X.Arn}`` for GetAtt, ``${X}`` for Ref, Sub as written."""
    if isinstance(value, str):
        return value
    if "Fn::GetAtt" in value:
        name, attribute = value["Fn::GetAtt"]
        return f"${{{name}.{attribute}}}"
    if "Ref" in value:
        return f"${{{value['Ref']}}}"
    if "Fn::Sub" in value and isinstance(value["Fn::Sub"], str):
        return value["Fn::Sub"]
    raise AssertionError(f"unexpected expression {value}")


def allow_statements(role: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        statement
        for policy in role["Properties"].get("Policies", [])
        for statement in policy["PolicyDocument"]["Statement"]
        if statement["Effect"] == "Allow"
    ]


def functions(template: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return resources(template, FUNCTION)


def role_of(template: dict[str, Any], function: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    name, attribute = function["Properties"]["Role"]["Fn::GetAtt"]
    assert attribute == "Arn"
    return name, template["Resources"][name]


def parameter_default(template: dict[str, Any], name: str) -> Any:
    return template["Parameters"][name]["Default"]


# --- bucket -------------------------------------------------------------------------------


def test_bucket_blocks_public_access_is_versioned_encrypted_and_kept(sam: dict[str, Any]) -> None:
    _, bucket = only(sam, "AWS::S3::Bucket")
    props = bucket["Properties"]
    block = props["PublicAccessBlockConfiguration"]
    assert set(block) == {"BlockPublicAcls", "BlockPublicPolicy", "IgnorePublicAcls", "RestrictPublicBuckets"}
    assert all(value is True for value in block.values())
    assert props["VersioningConfiguration"] == {"Status": "Enabled"}
    [rule] = props["BucketEncryption"]["ServerSideEncryptionConfiguration"]
    assert rule["ServerSideEncryptionByDefault"]["SSEAlgorithm"] in {"AES256", "aws:kms"}
    assert props["OwnershipControls"]["Rules"] == [{"ObjectOwnership": "BucketOwnerEnforced"}]
    # The originals are the campaign's evidence: deleting the stack must not delete them.
    assert (bucket["DeletionPolicy"], bucket["UpdateReplacePolicy"]) == ("Retain", "Retain")


def test_bucket_policy_denies_every_request_without_tls(sam: dict[str, Any]) -> None:
    bucket_name, _ = only(sam, "AWS::S3::Bucket")
    _, policy = only(sam, "AWS::S3::BucketPolicy")
    assert policy["Properties"]["Bucket"] == {"Ref": bucket_name}
    denials = [
        s
        for s in policy["Properties"]["PolicyDocument"]["Statement"]
        if s["Effect"] == "Deny" and s["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    ]
    assert len(denials) == 1
    [deny] = denials
    assert deny["Principal"] == "*" and deny["Action"] in ("s3:*", ["s3:*"])
    assert {sub_text(r) for r in as_list(deny["Resource"])} == {f"${{{bucket_name}.Arn}}", f"${{{bucket_name}.Arn}}/*"}


def test_noncurrent_versions_move_to_cheaper_storage_and_are_never_expired(sam: dict[str, Any]) -> None:
    _, bucket = only(sam, "AWS::S3::Bucket")
    rules = [r for r in bucket["Properties"]["LifecycleConfiguration"]["Rules"] if r["Status"] == "Enabled"]
    noncurrent = [r for r in rules if "NoncurrentVersionTransitions" in r]
    assert noncurrent, "no lifecycle rule for noncurrent versions"
    for rule in noncurrent:
        for transition in rule["NoncurrentVersionTransitions"]:
            assert transition["TransitionInDays"] >= 30  # STANDARD_IA's minimum
    # Originals are never expired; only the office's exports (copies handed over by link, issue 17) are.
    expiring = [r for r in rules if "NoncurrentVersionExpiration" in r or "ExpirationInDays" in r]
    assert all(r.get("Prefix") == "exports/" for r in expiring), expiring
    assert any(r.get("AbortIncompleteMultipartUpload") for r in rules)


def test_bucket_notifies_the_upload_queue_of_new_uploads(sam: dict[str, Any]) -> None:
    _, bucket = only(sam, "AWS::S3::Bucket")
    [config] = bucket["Properties"]["NotificationConfiguration"]["QueueConfigurations"]
    assert config["Queue"] == {"Fn::GetAtt": ["UploadQueue", "Arn"]}
    assert config["Event"] == "s3:ObjectCreated:*"
    assert config["Filter"]["S3Key"]["Rules"] == [{"Name": "prefix", "Value": "uploads/"}]


# --- queues -------------------------------------------------------------------------------


def test_upload_queue_redrives_to_the_dlq_and_outlasts_six_handler_timeouts(sam: dict[str, Any]) -> None:
    queue = sam["Resources"]["UploadQueue"]["Properties"]
    assert queue["RedrivePolicy"]["deadLetterTargetArn"] == {"Fn::GetAtt": ["UploadDeadLetterQueue", "Arn"]}
    max_receive = queue["RedrivePolicy"]["maxReceiveCount"]
    assert int(parameter_default(sam, max_receive["Ref"]) if isinstance(max_receive, dict) else max_receive) >= 2
    handler_timeout = sam["Resources"]["HandleUpload"]["Properties"]["Timeout"]
    # AWS: set the source queue's visibility timeout to at least six times the function timeout.
    assert queue["VisibilityTimeout"] >= 6 * handler_timeout
    dlq = sam["Resources"]["UploadDeadLetterQueue"]["Properties"]
    assert dlq["MessageRetentionPeriod"] == 14 * 24 * 3600


def test_the_handler_consumes_the_template_queue_one_message_at_a_time(sam: dict[str, Any]) -> None:
    [source] = sam["Resources"]["HandleUpload"]["Properties"]["Events"].values()
    assert source["Type"] == "SQS" and source["Properties"]["BatchSize"] == 1
    queue_name = parameter_default(sam, sam["Resources"]["UploadQueue"]["Properties"]["QueueName"]["Ref"])
    assert sub_text(source["Properties"]["Queue"]).endswith(f":{queue_name}")


def test_the_export_worker_consumes_its_own_queue_which_outlasts_six_timeouts_and_redrives(sam: dict[str, Any]) -> None:
    """Issue 17: big exports go to the export worker through ExportQueue (batch size 1), retried then dead-lettered."""
    queue = sam["Resources"]["ExportQueue"]["Properties"]
    assert queue["RedrivePolicy"]["deadLetterTargetArn"] == {"Fn::GetAtt": ["ExportDeadLetterQueue", "Arn"]}
    assert queue["RedrivePolicy"]["maxReceiveCount"] >= 2
    worker = sam["Resources"]["BuildExport"]["Properties"]
    assert queue["VisibilityTimeout"] >= 6 * worker["Timeout"]
    [source] = worker["Events"].values()
    assert source["Type"] == "SQS" and source["Properties"]["BatchSize"] == 1
    queue_name = parameter_default(sam, queue["QueueName"]["Ref"])
    assert sub_text(source["Properties"]["Queue"]).endswith(f":{queue_name}")
    # The API sends to the queue the template made, by URL.
    api_env = sam["Resources"]["APIHandler"]["Properties"]["Environment"]["Variables"]
    assert api_env["EXPORT_QUEUE_URL"] == {"Ref": "ExportQueue"}
    assert sam["Resources"]["ExportDeadLetterQueue"]["Properties"]["MessageRetentionPeriod"] == 14 * 24 * 3600


# --- table --------------------------------------------------------------------------------


def test_table_is_on_demand_recoverable_protected_and_indexed(sam: dict[str, Any]) -> None:
    _, table = only(sam, "AWS::DynamoDB::Table")
    props = table["Properties"]
    assert props["BillingMode"] == "PAY_PER_REQUEST"
    assert props["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}
    assert props["DeletionProtectionEnabled"] is True
    assert (table["DeletionPolicy"], table["UpdateReplacePolicy"]) == ("Retain", "Retain")
    indexes = {i["IndexName"]: [k["AttributeName"] for k in i["KeySchema"]] for i in props["GlobalSecondaryIndexes"]}
    assert indexes == {"gsi1": ["gsi1pk", "gsi1sk"], "gsi2": ["gsi2pk", "gsi2sk"]}


# --- alarms -------------------------------------------------------------------------------


def _alarms(sam: dict[str, Any]) -> list[dict[str, Any]]:
    return [a["Properties"] for a in resources(sam, "AWS::CloudWatch::Alarm").values()]


def _notifies_topic(sam: dict[str, Any], alarm: dict[str, Any]) -> bool:
    topics = resources(sam, "AWS::SNS::Topic")
    return any(action == {"Ref": name} for action in alarm.get("AlarmActions", []) for name in topics)


def test_every_function_alarms_on_errors_and_throttles_to_the_topic(sam: dict[str, Any]) -> None:
    # A new Chalice function must get its role, log group and alarms in the overlay before it ships.
    assert set(functions(sam)) == {"APIHandler", "BuildExport", "DailySweep", "HandleUpload", "OfficeToken"}
    for name in functions(sam):
        for metric in ("Errors", "Throttles"):
            matching = [
                a
                for a in _alarms(sam)
                if (a["Namespace"], a["MetricName"]) == ("AWS/Lambda", metric)
                and a["Dimensions"] == [{"Name": "FunctionName", "Value": {"Ref": name}}]
            ]
            assert len(matching) == 1, (name, metric)
            [alarm] = matching
            assert alarm["ComparisonOperator"] == "GreaterThanThreshold"
            # An authorizer answers 401 by failing, so its errors alarm tolerates a few typed-wrong tokens.
            assert alarm["Threshold"] == 0 or (metric == "Errors" and name in authorizers(sam)), (name, metric)
            assert _notifies_topic(sam, alarm)


def authorizers(sam: dict[str, Any]) -> set[str]:
    """Functions API Gateway calls as Lambda authorizers (named in the API's security definitions)."""
    _, api = only(sam, "AWS::Serverless::Api")
    definitions = api["Properties"]["DefinitionBody"].get("securityDefinitions", {}).values()
    uris = [sub_text(d["x-amazon-apigateway-authorizer"]["authorizerUri"]) for d in definitions]
    return {name for name in functions(sam) if any(f"${{{name}.Arn}}" in uri for uri in uris)}


def test_office_routes_are_behind_the_token_authorizer(sam: dict[str, Any]) -> None:
    _, api = only(sam, "AWS::Serverless::Api")
    assert authorizers(sam) == {"OfficeToken"}
    paths = api["Properties"]["DefinitionBody"]["paths"]
    office = {path: methods for path, methods in paths.items() if path.startswith("/campaigns/")}
    assert office
    for path, methods in office.items():
        for method, operation in methods.items():
            assert operation.get("security") == [{"office_token": []}], (path, method)
    env = sam["Resources"]["OfficeToken"]["Properties"]["Environment"]["Variables"]
    assert env["OFFICE_TOKEN_SHA256"] == {"Ref": "OfficeTokenSha256"}
    assert "Default" not in sam["Parameters"]["OfficeTokenSha256"]  # the deployer must choose


def test_a_message_in_the_dead_letter_queue_raises_an_alarm(sam: dict[str, Any]) -> None:
    [alarm] = [
        a
        for a in _alarms(sam)
        if a["Namespace"] == "AWS/SQS"
        and a["MetricName"] == "ApproximateNumberOfMessagesVisible"
        and a["Dimensions"] == [{"Name": "QueueName", "Value": {"Fn::GetAtt": ["UploadDeadLetterQueue", "QueueName"]}}]
    ]
    assert alarm["Threshold"] == 0 and alarm["ComparisonOperator"] == "GreaterThanThreshold"
    assert _notifies_topic(sam, alarm)


# --- functions and IAM --------------------------------------------------------------------


def test_no_default_role_and_one_role_per_function(sam: dict[str, Any]) -> None:
    assert "DefaultRole" not in sam["Resources"]
    roles = [role_of(sam, f)[0] for f in functions(sam).values()]
    assert len(set(roles)) == len(roles) == len(functions(sam))
    assert set(resources(sam, "AWS::IAM::Role")) == set(roles)
    for function in functions(sam).values():
        # SAM would attach managed policies (with "*" resources) through these.
        assert "Policies" not in function["Properties"]
    for role in resources(sam, "AWS::IAM::Role").values():
        assert "ManagedPolicyArns" not in role["Properties"]
        [statement] = role["Properties"]["AssumeRolePolicyDocument"]["Statement"]
        assert statement["Principal"] == {"Service": "lambda.amazonaws.com"}


def test_no_role_grants_a_wildcard_action_or_resource(sam: dict[str, Any]) -> None:
    stack_resources = set(sam["Resources"])
    for function_name, function in functions(sam).items():
        _, role = role_of(sam, function)
        log_group = function_log_group_arn(sam, function_name)
        for statement in allow_statements(role):
            for action in as_list(statement["Action"]):
                assert "*" not in action, (function_name, action)
            for resource in as_list(statement["Resource"]):
                text = sub_text(resource)
                assert text != "*", (function_name, statement)
                if text.startswith("arn:${AWS::Partition}:logs:"):
                    assert text == log_group, (function_name, text)
                    continue
                if text.startswith("arn:${AWS::Partition}:secretsmanager:"):
                    # One named secret (its random suffix is exactly six characters), never a prefix.
                    assert text in {secret_arn(p) for p in SECRET_READERS}, (function_name, text)
                    continue
                # Anything else is one of this stack's own resources (or a path inside it).
                owner = text.removeprefix("${").split(".", 1)[0]
                assert text.startswith("${") and owner in stack_resources, (function_name, text)
                assert "*" not in text or text.endswith(("/uploads/*", "/exports/*", "/index/*")), (function_name, text)


def test_the_queue_consumer_polls_only_its_queue(sam: dict[str, Any]) -> None:
    _, role = role_of(sam, sam["Resources"]["HandleUpload"])
    polls = [s for s in allow_statements(role) if any(a.startswith("sqs:") for a in as_list(s["Action"]))]
    assert [sub_text(s["Resource"]) for s in polls] == ["${UploadQueue.Arn}"]
    assert {a for s in polls for a in as_list(s["Action"])} == {
        "sqs:ReceiveMessage",
        "sqs:DeleteMessage",
        "sqs:GetQueueAttributes",
    }


def function_log_group_arn(sam: dict[str, Any], function_name: str) -> str:
    """The one log group a function may write to: its own, created by the stack with retention."""
    props = sam["Resources"][function_name]["Properties"]
    name = sub_text(props["FunctionName"])
    [group] = [
        g
        for g in resources(sam, "AWS::Logs::LogGroup").values()
        if sub_text(g["Properties"]["LogGroupName"]) == f"/aws/lambda/{name}"
    ]
    assert group["Properties"]["RetentionInDays"]
    return f"arn:${{AWS::Partition}}:logs:${{AWS::Region}}:${{AWS::AccountId}}:log-group:/aws/lambda/{name}:*"


def test_functions_write_only_to_their_own_log_group_which_exists_first(sam: dict[str, Any]) -> None:
    for function_name, function in functions(sam).items():
        _, role = role_of(sam, function)
        log_grants = [s for s in allow_statements(role) if any(a.startswith("logs:") for a in as_list(s["Action"]))]
        assert [set(as_list(s["Action"])) for s in log_grants] == [LOG_ACTIONS]
        assert [sub_text(s["Resource"]) for s in log_grants] == [function_log_group_arn(sam, function_name)]
        # Without logs:CreateLogGroup the group must exist before the function can run.
        groups = set(resources(sam, "AWS::Logs::LogGroup"))
        assert groups & set(as_list(function.get("DependsOn", []))), function_name
    retention = sam["Parameters"]["LogRetentionDays"]["Default"]
    assert retention >= 180  # China's Cybersecurity Law: network logs kept at least six months


def test_each_function_finds_the_stacks_own_table_and_bucket(sam: dict[str, Any]) -> None:
    table, _ = only(sam, "AWS::DynamoDB::Table")
    bucket, _ = only(sam, "AWS::S3::Bucket")
    queue_name = parameter_default(sam, "UploadQueueName")
    for name, function in functions(sam).items():
        env = function["Properties"]["Environment"]["Variables"]
        assert env["TABLE_NAME"] == {"Ref": table}, name
        assert env["BUCKET_NAME"] == {"Ref": bucket}, name
        assert env["UPLOAD_QUEUE_NAME"] == queue_name, name
        assert "AWS_ENDPOINT_URL" not in env, name


# Who needs which secret: the functions that send mail (receipts; the sweep's notices) and the functions that
# compose or check a county link (the office route and the county pages; the sweep's notices carry links).
# Receipts carry no link, so the upload function has no signing key. The IAM test observes the reads.
SECRET_READERS = {
    "SmtpSecretId": ("SMTP_SECRET_ID", {"HandleUpload", "DailySweep"}),
    "LinkSigningKeySecretId": ("LINK_SIGNING_KEY_SECRET_ID", {"APIHandler", "DailySweep"}),
}
LINK_COMPOSERS = SECRET_READERS["LinkSigningKeySecretId"][1]
SECRET_VALUE_VARIABLES = {"SMTP_USERNAME", "SMTP_PASSWORD", "LINK_SIGNING_KEY"}


def secret_arn(parameter: str) -> str:
    """The one secret a role may read: Secrets Manager appends six random characters to the name."""
    return f"arn:${{AWS::Partition}}:secretsmanager:${{AWS::Region}}:${{AWS::AccountId}}:secret:${{{parameter}}}-??????"


def test_no_function_environment_holds_a_secret_or_a_dynamic_reference(sam: dict[str, Any]) -> None:
    """A resolved value sits in the function configuration in plaintext (lambda:GetFunctionConfiguration)."""
    assert "{{resolve:" not in json.dumps(sam)  # nowhere: not in an environment, not anywhere else
    for name, function in functions(sam).items():
        env = function["Properties"]["Environment"]["Variables"]
        assert not SECRET_VALUE_VARIABLES & set(env), (name, SECRET_VALUE_VARIABLES & set(env))
    for parameter, _ in SECRET_READERS.items():
        # A name, not an ARN: the grant below appends the suffix Secrets Manager gives every secret.
        assert sam["Parameters"][parameter]["AllowedPattern"] == "^[A-Za-z0-9/_+=.@-]{1,512}$"


def test_each_function_reads_exactly_its_own_secrets_by_id_with_a_grant_on_that_secret(sam: dict[str, Any]) -> None:
    for name, function in functions(sam).items():
        env = function["Properties"]["Environment"]["Variables"]
        _, role = role_of(sam, function)
        statements = allow_statements(role)
        reads = [s for s in statements if any(a.startswith("secretsmanager:") for a in as_list(s["Action"]))]
        granted = {sub_text(r) for s in reads for r in as_list(s["Resource"])}
        assert {a for s in reads for a in as_list(s["Action"])} <= {"secretsmanager:GetSecretValue"}, name
        expected = set()
        for parameter, (variable, readers) in SECRET_READERS.items():
            if name in readers:
                assert env[variable] == {"Ref": parameter}, (name, variable)
                expected.add(secret_arn(parameter))
            else:
                assert variable not in env, (name, variable)
        assert granted == expected, (name, granted)


def test_every_function_that_composes_a_link_has_the_key_and_the_base_url(sam: dict[str, Any]) -> None:
    """Finding 7: the sweep had neither, so in AWS no reminder carried the county's link."""
    for name in LINK_COMPOSERS:
        env = sam["Resources"][name]["Properties"]["Environment"]["Variables"]
        assert env["PUBLIC_BASE_URL"] == {"Ref": "PublicBaseUrl"}, name
        assert env["LINK_SIGNING_KEY_SECRET_ID"] == {"Ref": "LinkSigningKeySecretId"}, name
    for name in ("HandleUpload", "DailySweep"):  # the two that send mail
        env = sam["Resources"][name]["Properties"]["Environment"]["Variables"]
        assert env["MAIL_TRANSPORT"] == "smtp"  # SES is not offered in the AWS China regions


def test_the_api_is_regional_and_throttled(sam: dict[str, Any]) -> None:
    _, api = only(sam, "AWS::Serverless::Api")
    # Edge-optimised endpoints do not exist in the AWS China regions.
    assert api["Properties"]["EndpointConfiguration"] == "REGIONAL"
    [setting] = api["Properties"]["MethodSettings"]
    assert setting["ThrottlingRateLimit"] and setting["ThrottlingBurstLimit"]


# --- the overlay merge --------------------------------------------------------------------


def test_the_overlay_may_add_but_not_change_the_shared_template() -> None:
    base = {"Resources": {"Q": {"Type": "AWS::SQS::Queue", "Properties": {"VisibilityTimeout": 360}}}}
    added = merge_strict(base, {"Resources": {"Q": {"Properties": {"DelaySeconds": 0}}, "T": {"Type": "X"}}})
    assert added["Resources"]["Q"]["Properties"] == {"VisibilityTimeout": 360, "DelaySeconds": 0}
    with pytest.raises(MergeConflictError, match=r"Resources\.Q\.Properties\.VisibilityTimeout"):
        merge_strict(base, {"Resources": {"Q": {"Properties": {"VisibilityTimeout": 30}}}})
