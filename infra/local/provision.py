"""Provision the local stack from ``infra/template.json``, the template a deployment uses.

moto's CloudFormation creates the resources but silently skips some of their properties
(bucket versioning and notifications, queue policies, TTL, ...). Those are applied here from
the same template, with moto's own resolver for the intrinsic functions, so the local stack
ends up with what the template says. A property that neither moto nor this module handles
stops provisioning instead of being skipped.
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3

ACCOUNT_ID = "123456789012"  # moto's default account

# Properties moto's CloudFormation models honour when creating the resource (moto 5.2.5).
MOTO_NATIVE: dict[str, set[str]] = {
    "AWS::S3::Bucket": {"BucketName"},
    "AWS::SQS::Queue": {
        "QueueName",
        "VisibilityTimeout",
        "MessageRetentionPeriod",
        "RedrivePolicy",
        "SqsManagedSseEnabled",
    },
    "AWS::DynamoDB::Table": {
        "TableName",
        "BillingMode",
        "AttributeDefinitions",
        "KeySchema",
        "GlobalSecondaryIndexes",
        "SSESpecification",
        "DeletionProtectionEnabled",
    },
}


@dataclass(frozen=True)
class Clients:
    s3: Any
    sqs: Any
    dynamodb: Any


def _bucket_notifications(clients: Clients, bucket: str, value: dict[str, Any]) -> None:
    queue_configs = [
        {
            "QueueArn": q["Queue"],
            "Events": [q["Event"]],
            **({"Filter": {"Key": {"FilterRules": q["Filter"]["S3Key"]["Rules"]}}} if "Filter" in q else {}),
        }
        for q in value.get("QueueConfigurations", [])
    ]
    clients.s3.put_bucket_notification_configuration(
        Bucket=bucket, NotificationConfiguration={"QueueConfigurations": queue_configs}
    )


def _bucket_cors(clients: Clients, bucket: str, value: dict[str, Any]) -> None:
    # CloudFormation spells two of the rule fields differently from the S3 API.
    renamed = {"Id": "ID", "MaxAge": "MaxAgeSeconds"}
    rules = [{renamed.get(k, k): v for k, v in rule.items()} for rule in value["CorsRules"]]
    clients.s3.put_bucket_cors(Bucket=bucket, CORSConfiguration={"CORSRules": rules})


def _bucket_encryption(clients: Clients, bucket: str, value: dict[str, Any]) -> None:
    rules = [
        {"ApplyServerSideEncryptionByDefault": rule["ServerSideEncryptionByDefault"]}
        for rule in value["ServerSideEncryptionConfiguration"]
    ]
    clients.s3.put_bucket_encryption(Bucket=bucket, ServerSideEncryptionConfiguration={"Rules": rules})


# CloudFormation's lifecycle rule fields → the S3 API's; a field missing here stops provisioning.
_LIFECYCLE_FIELDS: dict[str, Callable[[Any], tuple[str, Any]]] = {
    "Id": lambda v: ("ID", v),
    "Status": lambda v: ("Status", v),
    "Prefix": lambda v: ("Filter", {"Prefix": v}),
    "NoncurrentVersionTransitions": lambda v: (
        "NoncurrentVersionTransitions",
        [{"NoncurrentDays": int(t["TransitionInDays"]), "StorageClass": t["StorageClass"]} for t in v],
    ),
    "NoncurrentVersionExpiration": lambda v: (
        "NoncurrentVersionExpiration",
        {"NoncurrentDays": int(v["NoncurrentDays"])},
    ),
    "ExpirationInDays": lambda v: ("Expiration", {"Days": int(v)}),
    "AbortIncompleteMultipartUpload": lambda v: (
        "AbortIncompleteMultipartUpload",
        {"DaysAfterInitiation": int(v["DaysAfterInitiation"])},
    ),
}


def _bucket_lifecycle(clients: Clients, bucket: str, value: dict[str, Any]) -> None:
    rules = []
    for rule in value["Rules"]:
        unknown = set(rule) - set(_LIFECYCLE_FIELDS)
        if unknown:
            raise RuntimeError(f"the local stack cannot apply lifecycle fields {sorted(unknown)}")
        converted = {"Filter": {"Prefix": ""}}
        converted.update(_LIFECYCLE_FIELDS[name](field) for name, field in rule.items())
        rules.append(converted)
    clients.s3.put_bucket_lifecycle_configuration(Bucket=bucket, LifecycleConfiguration={"Rules": rules})


def _queue_policy(clients: Clients, _: str, properties: dict[str, Any]) -> None:
    for queue_url in properties["Queues"]:
        clients.sqs.set_queue_attributes(
            QueueUrl=queue_url, Attributes={"Policy": json.dumps(properties["PolicyDocument"])}
        )


Applier = Callable[[Clients, str, Any], None]

# (resource type, property) → how to apply it; property None means "the whole resource".
APPLIERS: dict[tuple[str, str | None], Applier] = {
    ("AWS::S3::Bucket", "CorsConfiguration"): _bucket_cors,
    ("AWS::S3::Bucket", "VersioningConfiguration"): lambda c, b, v: c.s3.put_bucket_versioning(
        Bucket=b, VersioningConfiguration={"Status": v["Status"]}
    ),
    ("AWS::S3::Bucket", "NotificationConfiguration"): _bucket_notifications,
    ("AWS::S3::Bucket", "PublicAccessBlockConfiguration"): lambda c, b, v: c.s3.put_public_access_block(
        Bucket=b, PublicAccessBlockConfiguration=v
    ),
    ("AWS::S3::Bucket", "BucketEncryption"): _bucket_encryption,
    ("AWS::S3::Bucket", "OwnershipControls"): lambda c, b, v: c.s3.put_bucket_ownership_controls(
        Bucket=b, OwnershipControls=v
    ),
    ("AWS::S3::Bucket", "LifecycleConfiguration"): _bucket_lifecycle,
    ("AWS::SQS::QueuePolicy", None): _queue_policy,
    ("AWS::DynamoDB::Table", "TimeToLiveSpecification"): lambda c, t, v: c.dynamodb.update_time_to_live(
        TableName=t, TimeToLiveSpecification=v
    ),
    ("AWS::DynamoDB::Table", "PointInTimeRecoverySpecification"): lambda c, t, v: c.dynamodb.update_continuous_backups(
        TableName=t, PointInTimeRecoverySpecification=v
    ),
}


def unhandled_properties(template: dict[str, Any]) -> list[str]:
    """Template properties the local stack would silently lose; must be empty."""
    missing = []
    for name, resource in template["Resources"].items():
        kind = resource["Type"]
        if (kind, None) in APPLIERS:
            continue
        for prop in resource.get("Properties", {}):
            if prop not in MOTO_NATIVE.get(kind, set()) and (kind, prop) not in APPLIERS:
                missing.append(f"{name}.{prop} ({kind})")
    return missing


def _stack_resource_map(stack_name: str, region: str) -> Any:
    from moto.cloudformation.models import cloudformation_backends

    backend = cloudformation_backends[ACCOUNT_ID][region]
    for stack in backend.stacks.values():
        if stack.name == stack_name and stack.status.endswith("COMPLETE"):
            return stack.resource_map
    raise RuntimeError(f"stack {stack_name} not found in the local stack")


def apply_skipped_properties(template: dict[str, Any], stack_name: str, region: str, clients: Clients) -> list[str]:
    from moto.cloudformation.parsing import clean_json

    missing = unhandled_properties(template)
    if missing:
        raise RuntimeError("the local stack cannot apply: " + ", ".join(missing))
    resource_map = _stack_resource_map(stack_name, region)
    applied = []
    for name, resource in template["Resources"].items():
        kind = resource["Type"]
        properties = clean_json(resource.get("Properties", {}), resource_map)
        physical = resource_map[name].physical_resource_id if resource_map[name] is not None else ""
        if (kind, None) in APPLIERS:
            APPLIERS[(kind, None)](clients, physical, properties)
            applied.append(name)
            continue
        for prop, value in properties.items():
            if (kind, prop) in APPLIERS:
                APPLIERS[(kind, prop)](clients, physical, value)
                applied.append(f"{name}.{prop}")
    return applied


def local_session(region: str) -> boto3.session.Session:
    """A session for the local stack: moto takes any key, so one fixed pair serves every client."""
    return boto3.session.Session(aws_access_key_id="local", aws_secret_access_key="local", region_name=region)


def provision(
    endpoint: str, region: str, stack_name: str, template_path: Path, parameters: dict[str, str]
) -> dict[str, str]:
    """Create the stack from the template and return its outputs."""
    session = local_session(region)
    cfn = session.client("cloudformation", endpoint_url=endpoint)
    template_body = template_path.read_text(encoding="utf-8")
    # moto warns (from its server thread) that it skips the queue policy; we apply it below.
    warnings.filterwarnings("ignore", message="Tried to parse AWS::SQS::QueuePolicy")
    cfn.create_stack(
        StackName=stack_name,
        TemplateBody=template_body,
        Parameters=[{"ParameterKey": k, "ParameterValue": v} for k, v in parameters.items()],
    )
    stack = cfn.describe_stacks(StackName=stack_name)["Stacks"][0]
    if stack["StackStatus"] != "CREATE_COMPLETE":
        raise RuntimeError(f"local stack {stack_name}: {stack['StackStatus']} {stack.get('StackStatusReason', '')}")
    clients = Clients(
        s3=session.client("s3", endpoint_url=endpoint),
        sqs=session.client("sqs", endpoint_url=endpoint),
        dynamodb=session.client("dynamodb", endpoint_url=endpoint),
    )
    apply_skipped_properties(json.loads(template_body), stack_name, region, clients)
    return {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}
