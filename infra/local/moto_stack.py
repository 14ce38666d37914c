"""moto's server in a process of its own, made to emit S3 events the way AWS does.

The local stack runs moto apart from the app (issue 17): moto's request handling is pure Python, and in
the app's process it took half of the GIL from the handlers, the API and the pump on a deadline-day burst.
As its own process it has a core of its own, as AWS's services do. The parent talks to it as the app
talks to AWS, over HTTP; only provisioning and restoring a saved state reach into moto's backends, so
they run here, before the process says it is ready.

Protocol with the parent (``MotoStack``): one JSON line in on stdin (what to start), one JSON line out on
stdout (the stack's outputs, or the error); then the server runs until stdin closes, which is also what
happens when the parent dies, so no server outlives its stack.
"""

from __future__ import annotations

import base64
import functools
import itertools
import json
import logging
import os
import subprocess
import sys
import threading
import time
import traceback
from dataclasses import asdict
from pathlib import Path
from typing import IO, Any
from urllib.parse import quote_plus

from infra.local.settings import PROJECT_DIR

_sequence = itertools.count()
_sequence_lock = threading.Lock()
_patched = False
# x-amz-meta-… header a local upload may carry to set its notification's eventTime (see demo.py).
LOCAL_EVENT_TIME_METADATA = "x-amz-meta-local-event-time"


def _next_sequencer() -> str:
    # S3's sequencer is a hex string that only ever grows for a key; a clock plus a counter is.
    with _sequence_lock:
        return f"{time.time_ns():016X}{next(_sequence) % 0x10000:04X}"


def patch_s3_event_fidelity() -> None:
    """moto 5.2.5 leaves ``versionId`` and ``sequencer`` out of S3 notifications (AWS sends both)
    and encodes the slashes of keys (AWS does not).

    The handler relies on them (exact version read, ordering of concurrent uploads), so the local
    stack adds them where moto builds the event, keeping everything else as moto makes it.
    """
    global _patched
    if _patched:
        return
    from moto.s3 import notifications

    original = notifications._get_s3_event

    def _get_s3_event(event_name: str, bucket: Any, key: Any, notification_id: str) -> dict[str, Any]:
        event = original(event_name, bucket, key, notification_id)
        for record in event["Records"]:
            obj = record["s3"]["object"]
            # AWS form-encodes keys but keeps their slashes; moto encodes those too.
            obj["key"] = quote_plus(key.name, safe="/")
            version = getattr(key, "version_id", None)
            if version and version != "null":
                obj["versionId"] = version
            obj["sequencer"] = _next_sequencer()
            # The local stack's clock for this object: `make demo` replays a month of 2023 on the
            # campaign's own dates. Only this emulator reads it; in AWS the event time is S3's own.
            stamped = getattr(_put_request, "event_time", None)
            if stamped:
                record["eventTime"] = stamped
            record.setdefault("userIdentity", {"principalId": "AWS:LOCAL"})
            record.setdefault("requestParameters", {"sourceIPAddress": "127.0.0.1"})
            record.setdefault("responseElements", {"x-amz-request-id": "LOCAL", "x-amz-id-2": "LOCAL"})
        return event

    notifications._get_s3_event = _get_s3_event
    _patch_put_event_time()
    _patched = True


_put_request = threading.local()


def _patch_put_event_time() -> None:
    """moto sends the event inside ``put_object`` and sets the metadata after it, so the header is read
    from the request (on the server thread that builds the event) before the object is stored."""
    from moto.s3.responses import S3Response

    original = S3Response.put_object

    def put_object(self: Any) -> Any:
        _put_request.event_time = self.headers.get(LOCAL_EVENT_TIME_METADATA)
        try:
            return original(self)
        finally:
            _put_request.event_time = None

    S3Response.put_object = put_object  # type: ignore[method-assign]


_dynamodb_patched = False


def patch_dynamodb_atomicity() -> None:
    """DynamoDB applies each request, conditions included, atomically; moto's threaded server checks a
    condition and writes the item without a lock, so two racing conditional writes can both "succeed".
    The exactly-once claims (notice log, submissions, pointers) rely on that atomicity, so the local
    stack serialises DynamoDB requests, as DynamoDB effectively does per item."""
    global _dynamodb_patched
    if _dynamodb_patched:
        return
    from moto.dynamodb.responses import DynamoHandler

    lock = threading.RLock()
    original = DynamoHandler.call_action

    def call_action(self: Any) -> Any:
        with lock:
            return original(self)

    DynamoHandler.call_action = call_action  # type: ignore[method-assign]
    _dynamodb_patched = True


_query_patched = False
_query_scope = threading.local()


def patch_dynamodb_query_cost() -> None:
    """moto 5.2.5 answers every Query by sorting every item of the table and then keeping the partition's:
    the cost of a read grew with everything ever written (a 1,000-row list's read-back took seconds after
    a few uploads, and the whole test suite's table slowed every handler). DynamoDB reads one partition.

    Within a Query (and only there: a Scan keeps moto's order, which its pagination relies on) the table's
    ``all_items`` is narrowed: on the base table to the partition asked for; on an index (one string hash
    key, as ours all have) to the items holding the key's value, unsorted, since moto sorts an index's answer
    by the index's keys afterwards and checks every condition again.
    What the Query returns is unchanged; tests/unit/test_local_moto_patches.py compares it with moto's own.
    """
    global _query_patched
    if _query_patched:
        return
    import inspect

    from moto.dynamodb.models.table import Table

    original_query, original_all_items = Table.query, Table.all_items
    signature = inspect.signature(original_query)

    def all_items(self: Any) -> Any:
        if getattr(_query_scope, "table", None) is not self:
            return original_all_items(self)
        items: dict[Any, Any] = vars(self)["items"]
        if _query_scope.hash_key is None:
            name, expected = _query_scope.index_key  # the index's hash key value: a cheap first sieve
            return [
                item
                for partition in items.values()
                for item in partition.values()
                if (value := item.attrs.get(name)) is not None and value.value == expected and value.type == "S"
            ]
        partition = items.get(_query_scope.hash_key, {})  # get: the table's defaultdict must not grow
        return list(partition.values())  # moto sorts the partition's items by range key itself

    def query(self: Any, *args: Any, **kwargs: Any) -> Any:
        if not self.range_key_attr or getattr(_query_scope, "table", None) is not None:
            return original_query(self, *args, **kwargs)
        arguments = signature.bind(self, *args, **kwargs).arguments
        conditions = arguments.get("hash_key_conditions") or []
        if arguments.get("index_name") and not (len(conditions) == 1 and conditions[0][1].type == "S"):
            return original_query(self, *args, **kwargs)  # every index of ours has one string hash key
        if not arguments.get("index_name") and getattr(arguments.get("hash_key"), "type", None) != "S":
            return original_query(self, *args, **kwargs)  # a number key: moto compares by value, not by hash
        _query_scope.table = self
        _query_scope.hash_key = None if arguments.get("index_name") else arguments.get("hash_key")
        _query_scope.index_key = (conditions[0][0], conditions[0][1].value) if conditions else None
        # moto deep-copies every item it answers with, so an index's projection cannot cut the stored item;
        # on the base table with no projection nothing is cut, and the answer is written out (inside the
        # DynamoDB lock) before any write can touch the items: they are lent, not copied.
        _query_scope.lend = not arguments.get("index_name") and not arguments.get("projection_expressions")
        try:
            return original_query(self, *args, **kwargs)
        finally:
            _query_scope.table = None
            _query_scope.lend = False

    from moto.dynamodb.models.dynamo_type import Item

    original_deepcopy = Item.__deepcopy__

    def lend_or_copy(self: Any, memo: dict[int, Any]) -> Any:
        return self if getattr(_query_scope, "lend", False) else original_deepcopy(self, memo)

    Table.all_items = all_items  # type: ignore[method-assign]
    Table.query = query  # type: ignore[method-assign]
    Item.__deepcopy__ = lend_or_copy  # type: ignore[method-assign]
    _query_patched = True


# Item operations, whose answer is items (or nothing) in DynamoDB's JSON already: written with json.dumps
# instead of moto's model-driven serializer, which walks every attribute of every item through botocore's
# shapes and took three quarters of moto's time on a 1,000-row read. Anything else (table descriptions with
# their timestamps, errors) keeps moto's serializer.
FAST_DYNAMODB_READS = frozenset(
    {"Query", "Scan", "GetItem", "BatchGetItem", "PutItem", "UpdateItem", "DeleteItem", "BatchWriteItem"}
)
_serialization_patched = False


def _wire_bytes(value: object) -> str:
    if isinstance(value, bytes):
        return base64.b64encode(value).decode("ascii")
    raise TypeError(type(value).__name__)


def fast_dynamodb_body(operation: str, result: object) -> str | None:
    """The response body of an item operation, as moto's serializer would write it (binary as base64), or None
    when the read is not one of ``FAST_DYNAMODB_READS`` or holds anything but JSON's types and bytes."""
    if operation not in FAST_DYNAMODB_READS:
        return None
    try:
        return json.dumps(result, default=_wire_bytes)
    except (TypeError, ValueError):
        return None


def patch_dynamodb_serialization() -> None:
    global _serialization_patched
    if _serialization_patched:
        return
    import uuid

    from moto.dynamodb.responses import DynamoResult

    original = DynamoResult.execute_result

    def execute_result(self: Any, context: Any) -> Any:
        body = fast_dynamodb_body(context.operation_model.name, self.result)
        if body is None:
            return original(self, context)
        return 200, {"Content-Type": "application/x-amz-json-1.0", "x-amzn-requestid": uuid.uuid4().hex}, body

    DynamoResult.execute_result = execute_result  # type: ignore[method-assign]
    _serialization_patched = True


_item_patched = False
ITEM_SIZE_LIMIT = 405_000  # moto's: "the actual limit is between 409 and 410KB" (LimitedSizeDict)


def patch_dynamodb_item_size_check() -> None:
    """moto checks DynamoDB's 400 KB item limit on every attribute it sets while building an item, summing
    the sizes of all attributes set before (nested maps walked each time): quadratic in the attributes, and
    a twelfth of moto's time on our items (pointers, problems with their histories). Sizes only add up, so
    a prefix over the limit means the whole item is: one sum over the built item gives the same verdict."""
    global _item_patched
    if _item_patched:
        return
    from moto.dynamodb.models import dynamo_type

    def build_item(self: Any, hash_key: Any, range_key: Any, attrs: dict[str, Any]) -> None:
        self.hash_key = hash_key
        self.range_key = range_key
        values = {key: dynamo_type.DynamoType(value) for key, value in attrs.items()}
        if sum(dynamo_type.bytesize(key) + value.size() for key, value in values.items()) > ITEM_SIZE_LIMIT:
            raise dynamo_type.ItemSizeTooLarge
        self.attrs = dynamo_type.LimitedSizeDict.__new__(dynamo_type.LimitedSizeDict)
        dict.update(self.attrs, values)  # later sets (update expressions) still go through moto's check

    dynamo_type.Item.__init__ = build_item  # type: ignore[method-assign]
    _item_patched = True


_sqs_patched = False


def patch_sqs_receive_cost() -> None:
    """moto checks each message's retention on every receive by computing *all* of the queue's attributes,
    approximate message counts included, which walk every message: a receive cost the queue's length
    squared, a tenth of moto's time while a 200-upload burst waited in the queue. The retention period is
    one attribute of the queue; it is read as such, with the same arithmetic."""
    global _sqs_patched
    if _sqs_patched:
        return
    from moto.sqs.models import SQSBackend, unix_time

    original = SQSBackend.is_message_valid_based_on_retention_period

    def is_message_valid_based_on_retention_period(self: Any, queue_name: str, message: Any) -> bool:
        retention_period = getattr(self.get_queue(queue_name), "message_retention_period", None)
        if not isinstance(retention_period, int):
            return original(self, queue_name, message)
        return bool(retention_period + message.sent_timestamp / 1000 > unix_time())

    SQSBackend.is_message_valid_based_on_retention_period = (  # type: ignore[method-assign]
        is_message_valid_based_on_retention_period
    )
    _sqs_patched = True


_dispatch_patched = False


def patch_dispatch_cost() -> None:
    """moto's dispatcher lists its own package directory (a listdir and ~150 isdir calls) on every request to
    tell a service name from a host; the answer never changes while the server runs, so it is read once."""
    global _dispatch_patched
    if _dispatch_patched:
        return
    from moto import backends

    modules = tuple(backends.list_of_moto_modules())
    backends.list_of_moto_modules = functools.cache(lambda: modules)
    _dispatch_patched = True


class MotoStack:
    """The parent's handle on the moto process: ``start`` provisions (and restores) and returns the outputs."""

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self.endpoint = f"http://{host}:{port}"
        self._process: subprocess.Popen[str] | None = None

    def start(
        self,
        region: str,
        stack_name: str,
        template_path: Path,
        parameters: dict[str, str],
        state_dir: Path | None,
        timeout: float = 120.0,
    ) -> dict[str, Any]:
        """Start the server, provision the stack from the template, put a saved state back; the answer is
        ``{"outputs": {...}, "restored": {...} | None}``."""
        request = {
            "host": self.host,
            "port": self.port,
            "region": region,
            "stack_name": stack_name,
            "template": str(template_path),
            "parameters": parameters,
            "state_dir": str(state_dir) if state_dir is not None else None,
        }
        env = {
            **os.environ,
            "PYTHONPATH": os.pathsep.join(filter(None, [str(PROJECT_DIR), os.environ.get("PYTHONPATH")])),
        }
        self._process = subprocess.Popen(
            [sys.executable, "-m", "infra.local.moto_stack"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            cwd=PROJECT_DIR,
            env=env,
            text=True,
            encoding="utf-8",
        )
        assert self._process.stdin is not None and self._process.stdout is not None
        self._process.stdin.write(json.dumps(request) + "\n")
        self._process.stdin.flush()
        answer = _read_line(self._process.stdout, timeout)
        if not answer:
            self.stop()
            raise RuntimeError(
                f"本地 AWS 端点（moto）未能启动（退出码 {self._process.returncode}）：请看上方的错误输出；"
                f"若端口 {self.port} 已被占用，请换一个 LOCAL_AWS_PORT。"
            )
        reply: dict[str, Any] = json.loads(answer)
        if "error" in reply:
            self.stop()
            raise RuntimeError(
                f"本地 AWS 端点（moto）启动时出错（端口 {self.port}，LOCAL_AWS_PORT）：\n{reply['error']}"
            )
        return reply

    def stop(self) -> None:
        process, self._process = self._process, None
        if process is None:
            return
        if process.stdin is not None:
            process.stdin.close()  # the server's signal to stop
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)
        if process.stdout is not None:
            process.stdout.close()


def _read_line(stream: IO[str], timeout: float) -> str:
    """One line from the child, or "" if it exits or says nothing within ``timeout`` (it is then killed)."""
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.append(stream.readline()), daemon=True)
    reader.start()
    reader.join(timeout)
    return lines[0] if lines else ""


def _serve(request: dict[str, Any]) -> dict[str, Any]:
    from moto.server import ThreadedMotoServer

    from infra.local import persist
    from infra.local.provision import local_session, provision

    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    logging.getLogger("moto").setLevel(logging.ERROR)  # "no CloudFormation support for …": applied by provision
    patch_s3_event_fidelity()
    patch_dynamodb_atomicity()
    patch_dispatch_cost()
    patch_dynamodb_query_cost()
    patch_dynamodb_serialization()
    patch_dynamodb_item_size_check()
    patch_sqs_receive_cost()
    server = ThreadedMotoServer(ip_address=request["host"], port=request["port"], verbose=False)
    server.start()
    endpoint = f"http://{request['host']}:{request['port']}"
    outputs = provision(
        endpoint, request["region"], request["stack_name"], Path(request["template"]), request["parameters"]
    )
    restored = None
    state_dir = Path(request["state_dir"]) if request["state_dir"] else None
    if state_dir is not None and persist.saved(state_dir) is not None:
        session = local_session(request["region"])
        clients = {name: session.client(name, endpoint_url=endpoint) for name in ("s3", "dynamodb", "sqs")}
        summary = persist.restore(
            clients,
            outputs["UploadBucketName"],
            outputs["CampaignTableName"],
            persist.stack_queues(outputs),
            state_dir,
        )
        restored = asdict(summary)
    return {"outputs": outputs, "restored": restored}


def main() -> int:
    # The pipe to the parent carries one line, the reply. Anything moto or a library prints goes to stderr:
    # on stdout it would corrupt the reply, and later fill a pipe nobody reads and block the server.
    reply_to = os.fdopen(os.dup(sys.stdout.fileno()), "w", encoding="utf-8")
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())
    request = json.loads(sys.stdin.readline())
    try:
        reply = _serve(request)
    except Exception:
        reply = {"error": traceback.format_exc()}
    reply_to.write(json.dumps(reply, ensure_ascii=False) + "\n")
    reply_to.close()
    if "error" in reply:
        return 1
    sys.stdin.read()  # until the parent closes the pipe (a clean stop) or dies
    sys.stdout.flush()
    os._exit(0)  # the server's threads hold nothing to save: the parent saved the state over HTTP before


if __name__ == "__main__":
    sys.exit(main())
