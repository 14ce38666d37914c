"""Start and stop the whole system on one machine: AWS endpoint, API, event pump, SMTP sink."""

from __future__ import annotations

import os
import threading
import time
import urllib.request
from dataclasses import dataclass
from typing import Any

import boto3

from infra.local import persist
from infra.local.gateway import patch_authorizer_fidelity
from infra.local.moto_stack import MotoStack
from infra.local.provision import local_session
from infra.local.pump import EventPump
from infra.local.settings import PROJECT_DIR, TEMPLATE_PATH, LocalSettings
from infra.local.smtp_sink import SmtpSink

LOCAL_STAGE = "local"


@dataclass(frozen=True)
class StackOutputs:
    bucket: str
    table: str
    queue_url: str
    queue_arn: str
    dlq_url: str
    # Issue 17: the export worker's queue.
    export_queue_url: str = ""
    export_queue_arn: str = ""
    export_dlq_url: str = ""


class LocalSystem:
    def __init__(self, settings: LocalSettings | None = None) -> None:
        self.settings = settings or LocalSettings.from_env()
        self.moto = MotoStack(self.settings.host, self.settings.aws_port)
        self.smtp = SmtpSink(self.settings.host, self.settings.smtp_port, self.settings.outbox_dir)
        self.outputs: StackOutputs | None = None
        self.app_module: Any = None
        self.pump: EventPump | None = None
        self.export_pump: EventPump | None = None
        self._api_server: Any = None
        self._api_thread: threading.Thread | None = None
        # What was restored from settings.state_dir at start (None: a fresh stack).
        self.restored: persist.StateSummary | None = None
        self.saved: persist.StateSummary | None = None
        self._saver: threading.Thread | None = None
        self._stopping = threading.Event()
        self._outputs_raw: dict[str, str] = {}
        self._clients: dict[str, Any] = {}
        self._clients_lock = threading.Lock()

    def session(self) -> boto3.session.Session:
        return local_session(self.settings.region)

    def client(self, service: str) -> Any:
        """One client per service for the stack's life: boto3 clients are thread-safe, and making one costs
        tens of milliseconds of the GIL the handlers share (a burst's puts made one each before)."""
        with self._clients_lock:
            if service not in self._clients:
                self._clients[service] = self._new_client(service)
            return self._clients[service]

    def _new_client(self, service: str) -> Any:
        from botocore.config import Config

        return self.session().client(
            service, endpoint_url=self.settings.aws_endpoint, config=Config(max_pool_connections=32)
        )

    def app_environment(self, stage_env: dict[str, str]) -> dict[str, str]:
        """The stage's variables from .chalice/config.json, overridable from the shell,
        plus what only the running stack knows (endpoint, ports, resource names)."""
        assert self.outputs is not None
        env = {key: os.environ.get(key, value) for key, value in stage_env.items()}
        env.update(
            self.settings.process_environment(),
            PUBLIC_BASE_URL=self.settings.api_url,
            BUCKET_NAME=self.outputs.bucket,
            TABLE_NAME=self.outputs.table,
            EXPORT_QUEUE_URL=self.outputs.export_queue_url,
        )
        return env

    def start(self) -> LocalSystem:
        from chalice.cli.factory import CLIFactory
        from chalice.local import create_local_server

        s = self.settings
        # moto runs in a process of its own; it provisions from the template and, before anyone can see
        # a half-restored stack, puts a saved state back (persist.py).
        started = self.moto.start(s.region, s.stack_name, TEMPLATE_PATH, s.template_parameters, s.state_dir)
        outputs = started["outputs"]
        self._outputs_raw = outputs
        if started["restored"] is not None:
            self.restored = persist.StateSummary(**started["restored"])
        self.outputs = StackOutputs(
            bucket=outputs["UploadBucketName"],
            table=outputs["CampaignTableName"],
            queue_url=outputs["UploadQueueUrl"],
            queue_arn=outputs["UploadQueueArn"],
            dlq_url=outputs["UploadDeadLetterQueueUrl"],
            export_queue_url=outputs["ExportQueueUrl"],
            export_queue_arn=outputs["ExportQueueArn"],
            export_dlq_url=outputs["ExportDeadLetterQueueUrl"],
        )
        self.smtp.start()

        factory = CLIFactory(str(PROJECT_DIR), environ=os.environ)
        config = factory.create_config_obj(chalice_stage_name=LOCAL_STAGE)
        from chalicelib.config import settings

        # The app reads its settings once per process: whatever read them before the stack's environment was
        # set (a test module, the CLI) must not leave the app with stale ones.
        settings.cache_clear()
        app_obj = factory.load_chalice_app(self.app_environment(config.environment_variables))
        import app as app_module  # loaded by the factory above, with the stage's environment

        self.app_module = app_module
        patch_authorizer_fidelity()
        self._api_server = create_local_server(app_obj, config, s.host, s.api_port)
        self._api_thread = threading.Thread(target=self._api_server.serve_forever, name="chalice-local", daemon=True)
        self._api_thread.start()

        self.pump = EventPump(
            self._new_client("sqs"),  # its own: the workers' long polls must not queue behind a test's calls
            self.outputs.queue_url,
            self.outputs.queue_arn,
            s.region,
            handler=app_module.handle_upload,
            retry_delay_seconds=s.retry_delay_seconds,
            workers=s.pump_workers,
        )
        self.pump.start()
        # The export worker's function (issue 17): its own queue and handler, as Lambda maps each queue to its
        # function; one worker at a time is enough for jobs that are rare and long.
        self.export_pump = EventPump(
            self._new_client("sqs"),
            self.outputs.export_queue_url,
            self.outputs.export_queue_arn,
            s.region,
            handler=app_module.build_export,
            function_name="campaign-reporting-local-build_export",
            retry_delay_seconds=s.retry_delay_seconds,
            workers=1,
        )
        self.export_pump.start()
        self._wait_for_api()
        if s.state_dir is not None and s.save_interval_seconds > 0:
            self._saver = threading.Thread(target=self._save_periodically, name="state-saver", daemon=True)
            self._saver.start()
        return self

    def _persist_args(self) -> tuple[dict[str, Any], str, str, dict[str, str]]:
        assert self.outputs is not None
        clients = {name: self.client(name) for name in ("s3", "dynamodb", "sqs")}
        return clients, self.outputs.bucket, self.outputs.table, persist.stack_queues(self._outputs_raw)

    def save_state(self, with_queues: bool) -> persist.StateSummary | None:
        if self.settings.state_dir is None or self.outputs is None:
            return None
        return persist.save(*self._persist_args(), self.settings.state_dir, with_queues=with_queues)

    def _save_periodically(self) -> None:
        import logging

        while not self._stopping.wait(self.settings.save_interval_seconds):
            try:
                self.save_state(with_queues=False)
            except Exception:  # a failed periodic save must not stop the stack; the clean stop saves again
                logging.getLogger("local").exception("保存本地数据失败（将在停止时再次保存）")

    def _wait_for_api(self, timeout: float = 10.0) -> None:
        deadline = time.monotonic() + timeout
        while True:
            try:
                with urllib.request.urlopen(f"{self.settings.api_url}/health", timeout=1) as response:  # noqa: S310 (http on loopback)
                    if response.status == 200:
                        return
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)

    def stop(self) -> None:
        self._stopping.set()
        if self._saver:
            self._saver.join(timeout=30)
        for pump in (self.pump, self.export_pump):
            if pump:
                pump.stop()
        for pump in (self.pump, self.export_pump):
            if pump:
                pump.join(timeout=5)
        if self.settings.state_dir is not None and self.outputs is not None:
            self.saved = self.save_state(with_queues=True)  # the pump is stopped: nothing is in flight
        if self._api_server:
            self._api_server.shutdown()
        self.smtp.stop()
        self.moto.stop()

    def __enter__(self) -> LocalSystem:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
