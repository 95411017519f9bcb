"""The one DBOS workflow: a run attempt (start or resume) driving Hive's Runtime.

Imported only when a worker starts, so ``import hive_core.service`` does not import
DBOS. The workflow takes the attempt's spec as JSON; everything it does durably is
Hive's own checkpoints and the service tables, never a DBOS step per node.
"""

from __future__ import annotations

from dbos import DBOS

from ._current import current_worker

__all__ = ["WORKFLOW_NAME", "hive_attempt"]

WORKFLOW_NAME = "hive_attempt"


@DBOS.workflow(name=WORKFLOW_NAME)
async def hive_attempt(spec_json: str) -> str:
    workflow_id = DBOS.workflow_id
    assert workflow_id is not None
    return await current_worker().run_attempt(spec_json, workflow_id)
