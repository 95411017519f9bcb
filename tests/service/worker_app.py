"""A worker process for the service tests: the test graphs, configured from the
environment (``HIVE_SERVICE_*``), serving until SIGTERM/SIGINT. It writes
``<HIVE_TEST_READY>/<executor id>`` once it serves; with ``HIVE_TEST_METRICS`` set it
also serves /metrics and writes its URL to ``<executor id>.metrics`` first."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from hive_core.service import Service
from service.service_graphs import GRAPHS


def main() -> int:
    service = Service()
    for name, graph in GRAPHS.items():
        service.register(name, graph)
    ready = os.environ.get("HIVE_TEST_READY")

    def on_ready() -> None:
        if os.environ.get("HIVE_TEST_METRICS") and ready:
            server = service.expose_metrics()  # 127.0.0.1, a free port
            Path(ready, f"{service.worker_id}.metrics").write_text(server.url)
        if ready:
            Path(ready, service.worker_id).write_text(str(os.getpid()))

    return service.serve(on_ready)


if __name__ == "__main__":
    sys.exit(main())
