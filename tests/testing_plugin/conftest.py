"""Tests of the golden-trace tooling (plugin, trace files, testing helpers).

``sample_project/`` is a user's project: it is only ever run through ``pytester``
(its own ``pytest.ini`` applies there), never collected by this session.
"""

from __future__ import annotations

collect_ignore = ["sample_project"]
