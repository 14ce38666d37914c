"""``make run``: the whole system in the foreground until Ctrl-C."""

from __future__ import annotations

import logging
import signal
import sys
import threading

from infra.local.settings import LocalSettings
from infra.local.system import LocalSystem


def main() -> int:
    # Libraries stay quiet; the app logs JSON (Powertools) and the pump reports failures.
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(name)s %(message)s", stream=sys.stdout)
    logging.getLogger("local").setLevel(logging.INFO)
    settings = LocalSettings.from_env()
    system = LocalSystem(settings)
    stop = threading.Event()
    # Explicit handlers: a shell that starts us in the background ignores SIGINT otherwise.
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    system.start()
    out = system.outputs
    assert out is not None
    if settings.state_dir is None:
        kept = "not kept (LOCAL_STATE_DIR unset)"
    else:
        restored = f"restored {system.restored.line()}" if system.restored else "fresh start (nothing saved yet)"
        kept = (
            f"{settings.state_dir}/  {restored}\n"
            f"                       saved every {settings.save_interval_seconds} s and at Ctrl-C;"
            " `make clean-data` starts afresh"
        )
    print(
        f"""
专项整治材料报送系统 — local stack is up

  AWS endpoint (moto)  {settings.aws_endpoint}   region {settings.region}, any access key
    bucket             {out.bucket}   (versioned, notifies the upload queue)
    upload queue       {out.queue_url}
    dead-letter queue  {out.dlq_url}
    table              {out.table}
  HTTP API (Chalice)   {settings.api_url}
    try                curl -sG {settings.api_url}/campaigns/xinzhou-2023/submissions --data-urlencode unit=原平市
  event pump           bucket → queue → app.handle_upload
  SMTP sink            {settings.host}:{settings.smtp_port} → {settings.outbox_dir}/*.eml
  data                 {kept}

  Upload:  aws --endpoint-url {settings.aws_endpoint} s3 cp FILE \\
             's3://{out.bucket}/uploads/xinzhou-2023/140981/issue-list/2023-05/原平市5月清单.xlsx'
  Demo:    make demo    (in a second terminal)
  Stop:    Ctrl-C
""",
        flush=True,
    )
    while not stop.wait(0.5):
        pass
    print("stopping…", flush=True)
    system.stop()
    if system.saved:
        print(f"saved to {settings.state_dir}/: {system.saved.line()}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
