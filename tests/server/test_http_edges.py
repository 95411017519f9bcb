"""The HTTP API's edges, each found in review: ids a URL cannot carry, bodies
that nest too deeply or never finish, paging and filters, a deleted thread and its id,
routes that do not exist. Every request goes over a real socket to a live
``hive serve`` (``server_harness``), with ``httpx`` or the real ``langgraph-sdk``
client; each refusal is checked to have changed nothing."""

from __future__ import annotations

import asyncio
import socket
from typing import Any
from urllib.parse import quote, urlsplit

import httpx
import pytest
from langgraph_sdk import get_sync_client

from hive_core.persistence import SQLiteCheckpointStore
from hive_core.runtime import Runtime

from .server_graphs import steps
from .server_harness import Live, start_server


def problem(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body: dict[str, Any] = response.json()
    assert body["code"] == code and body["status"] == status
    return body


def path(thread_id: str) -> str:
    return f"/threads/{quote(thread_id, safe='')}"


@pytest.fixture
def http(live: Live) -> Any:
    with httpx.Client(base_url=live.url, timeout=60) as client:
        yield client


@pytest.fixture
def sdk(live: Live) -> Any:
    client = get_sync_client(url=live.url, api_key=None)
    yield client
    client.close()


class TestThreadIds:
    def test_ids_a_url_cannot_carry_are_refused_and_create_nothing(
        self, http: httpx.Client
    ) -> None:
        for bad in ("user-1/chat-2", "line\nbreak", "tab\there", "", "nul\x00"):
            body = problem(
                http.post("/threads", json={"thread_id": bad}),
                422, "server-invalid-request",
            )  # fmt: skip
            assert body["culprit"]["field"] == "thread_id"
            found = http.post("/threads/search", json={"ids": [bad]}).json()
            assert found == []
        broken = path("new\nline")
        made = http.post(
            f"{broken}/runs", json={"assistant_id": "steps", "if_not_exists": "create"}
        )
        problem(made, 422, "server-invalid-request")
        problem(http.get(broken), 404, "server-thread-not-found")

    def test_a_unicode_id_runs_and_its_location_is_percent_encoded(
        self, http: httpx.Client
    ) -> None:
        tid = "café-☕-ünïcode"
        assert http.post("/threads", json={"thread_id": tid}).status_code == 200
        created = http.post(
            f"{path(tid)}/runs/wait",
            json={"assistant_id": "steps", "input": {"target": 2}},
        )
        assert created.status_code == 200 and created.json()["count"] == 2
        where = created.headers["content-location"]
        assert where.startswith(f"{path(tid)}/runs/")
        run = http.get(where)  # the header leads to the run
        assert run.status_code == 200 and run.json()["thread_id"] == tid

    def test_a_refused_run_creates_no_thread(self, http: httpx.Client) -> None:
        tid = "made-by-a-refused-run"
        refused = http.post(
            f"{path(tid)}/runs",
            json={"assistant_id": "steps", "if_not_exists": "create",
                  "input": {"target": "five"}},
        )  # fmt: skip
        problem(refused, 422, "channel-type-mismatch")
        resumed = http.post(
            f"{path(tid)}/runs",
            json={"assistant_id": "approval", "if_not_exists": "create",
                  "command": {"resume": {"approved": True}}},
        )  # fmt: skip
        problem(resumed, 409, "no-checkpoint-to-resume")
        problem(http.get(path(tid)), 404, "server-thread-not-found")
        ok = http.post(
            f"{path(tid)}/runs/wait",
            json={"assistant_id": "steps", "if_not_exists": "create",
                  "input": {"target": 1}},
        )  # fmt: skip
        assert ok.json()["count"] == 1
        assert http.get(path(tid)).json()["graph_id"] == "steps"


class TestDeletedAndForeignThreads:
    def test_a_deleted_thread_is_gone_and_its_id_starts_afresh(
        self, live: Live, http: httpx.Client
    ) -> None:
        tid = "deleted-then-recreated"
        http.post("/threads", json={"thread_id": tid})
        first = http.post(f"{path(tid)}/runs/wait",
                          json={"assistant_id": "steps", "input": {"target": 2}})  # fmt: skip
        assert first.json()["seen"] == [1, 2]
        assert http.delete(path(tid)).status_code == 204
        problem(http.get(path(tid)), 404, "server-thread-not-found")
        problem(http.delete(path(tid)), 404, "server-thread-not-found")
        with SQLiteCheckpointStore(live.data_dir / "checkpoints.sqlite") as store:
            assert asyncio.run(store.list_checkpoints(tid)) == []
        assert http.post("/threads", json={"thread_id": tid}).status_code == 200
        again = http.post(f"{path(tid)}/runs/wait",
                          json={"assistant_id": "steps", "input": {"target": 1}})  # fmt: skip
        assert again.json()["count"] == 1 and again.json()["seen"] == [1]
        history = http.post(f"{path(tid)}/history", json={}).json()
        runs = {h["metadata"]["run_id"] for h in history}
        assert len(runs) == 1 and history[0]["values"]["count"] == 1

    def test_checkpoints_without_a_thread_record_keep_their_id_taken(
        self, live: Live, http: httpx.Client
    ) -> None:
        """Checkpoints a runtime outside the server wrote under an id the server
        has no record of: a new thread must not start from them."""
        tid = "checkpoints-without-a-record"
        with SQLiteCheckpointStore(live.data_dir / "checkpoints.sqlite") as store:
            Runtime(steps, checkpoint_store=store).run_sync(tid, {"target": 1})
        taken = problem(
            http.post("/threads", json={"thread_id": tid}), 409, "thread-exists"
        )
        assert "checkpoints remain under this id" in taken["detail"]
        again = http.post(
            "/threads", json={"thread_id": tid, "if_exists": "do_nothing"}
        )
        problem(again, 409, "thread-exists")
        run = http.post(
            f"{path(tid)}/runs",
            json={"assistant_id": "approval", "if_not_exists": "create"},
        )
        problem(run, 409, "thread-exists")
        problem(http.get(path(tid)), 404, "server-thread-not-found")

    def test_checkpoints_of_another_graph_are_a_409_and_search_lists_them(
        self, live: Live, http: httpx.Client
    ) -> None:
        """A thread recorded for ``approval`` whose checkpoints a ``steps``
        runtime wrote on the same store (out of band, as a changed graph would)."""
        tid = "foreign-checkpoints"
        http.post("/threads", json={"thread_id": tid,
                                    "metadata": {"graph_id": "approval"}})  # fmt: skip
        with SQLiteCheckpointStore(live.data_dir / "checkpoints.sqlite") as store:
            Runtime(steps, checkpoint_store=store).run_sync(tid, {"target": 1})
        problem(http.get(path(tid)), 409, "checkpoint-version-mismatch")
        found = http.post("/threads/search", json={"ids": [tid]})
        assert found.status_code == 200
        [listed] = found.json()
        assert listed["status"] == "error" and listed["values"] is None
        assert listed["hive_error"]["code"] == "checkpoint-version-mismatch"


class TestBodies:
    def test_deep_nesting_is_a_400_and_queues_nothing(self, http: httpx.Client) -> None:
        tid = http.post("/threads", json={}).json()["thread_id"]
        for depth in (150, 5000):
            nested = b"[" * depth + b"]" * depth
            for field in (b"input", b"metadata"):
                raw = b'{"assistant_id": "steps", "%s": %s}' % (field, nested)
                if field == b"metadata":
                    raw = raw.replace(b'"metadata": [', b'"metadata": {"a": [', 1)
                    raw = raw[:-1] + b"}}"
                sent = http.post(
                    f"{path(tid)}/runs", content=raw,
                    headers={"content-type": "application/json"},
                )  # fmt: skip
                body = problem(sent, 400, "server-malformed-json")
                assert "nests deeper than 100" in body["detail"]
        assert http.get(f"{path(tid)}/runs").json() == []
        shallow = {"assistant_id": "steps", "input": {"target": 1},
                   "metadata": {"a": [[[[["fine"]]]]]}}  # fmt: skip
        assert http.post(f"{path(tid)}/runs/wait", json=shallow).json()["count"] == 1

    def test_a_stalled_body_is_a_408(self, live: Live) -> None:
        """On a second server without a worker (DBOS runs one per process)."""
        slow, server, thread = start_server(
            live.data_dir, body_timeout_s=0.3, worker=False
        )
        every = {"limit": 1000}
        try:
            before = httpx.post(f"{slow.url}/threads/search", json=every).json()
            where = urlsplit(slow.url)
            assert where.hostname is not None and where.port is not None
            with socket.create_connection((where.hostname, where.port), 10) as conn:
                conn.sendall(
                    b"POST /threads HTTP/1.1\r\nHost: x\r\n"
                    b"Content-Type: application/json\r\nContent-Length: 100\r\n\r\n"
                    b'{"metad'
                )
                conn.settimeout(10)  # the server answers after 0.3 s; 10 bounds a bug
                reply = b""
                while b"\r\n\r\n" not in reply:
                    chunk = conn.recv(4096)
                    if not chunk:
                        break
                    reply += chunk
            assert reply.startswith(b"HTTP/1.1 408"), reply[:200]
            after = httpx.post(f"{slow.url}/threads/search", json=every).json()
            assert after == before  # the stalled create made no thread
        finally:
            server.should_exit = True
            thread.join(60)


class TestPagingAndFilters:
    def test_limits_and_offsets_are_small_ascii_whole_numbers(
        self, http: httpx.Client
    ) -> None:
        tid = http.post("/threads", json={}).json()["thread_id"]
        for raw in ("٣", "²", "-1", "1" * 30, "1.5"):
            paged = http.get(f"{path(tid)}/runs", params={"limit": raw})
            refused = problem(paged, 422, "server-invalid-request")
            assert refused["culprit"]["field"] == "limit"
        for route, body in (
            ("/threads/search", {"limit": -1}),
            ("/threads/search", {"offset": -3}),
            ("/assistants/search", {"limit": -1}),
            (f"{path(tid)}/history", {"limit": -1}),
        ):
            sent = problem(http.post(route, json=body), 422, "server-invalid-request")
            assert sent["culprit"]["field"] in ("$.limit", "$.offset")

    def test_run_list_filters_by_status(self, http: httpx.Client) -> None:
        tid = http.post("/threads", json={}).json()["thread_id"]
        done = http.post(f"{path(tid)}/runs/wait",
                         json={"assistant_id": "steps", "input": {"target": 1}})  # fmt: skip
        run_id = done.headers["content-location"].rsplit("/", 1)[1]
        listed = http.get(f"{path(tid)}/runs", params={"status": "success"}).json()
        assert [r["run_id"] for r in listed] == [run_id]
        assert http.get(f"{path(tid)}/runs", params={"status": "pending"}).json() == []
        problem(http.get(f"{path(tid)}/runs", params={"status": "done"}),
                422, "server-invalid-request")  # fmt: skip
        problem(http.get(f"{path(tid)}/runs", params={"select": "run_id"}),
                422, "server-unsupported")  # fmt: skip

    def test_thread_search_sorts_and_refuses_what_it_cannot_filter(
        self, http: httpx.Client
    ) -> None:
        ids = ["sort-b", "sort-a", "sort-c"]
        for tid in ids:
            http.post("/threads", json={"thread_id": tid, "metadata": {"k": "sort"}})
        search = {"metadata": {"k": "sort"}}
        newest = http.post("/threads/search", json=search).json()
        assert [t["thread_id"] for t in newest] == ids[::-1]
        by_id = http.post("/threads/search",
                          json={**search, "sort_by": "thread_id", "sort_order": "asc"})  # fmt: skip
        assert [t["thread_id"] for t in by_id.json()] == sorted(ids)
        oldest = http.post("/threads/search", json={**search, "sort_order": "asc"})
        assert [t["thread_id"] for t in oldest.json()] == ids
        paged = http.post("/threads/search",
                          json={**search, "sort_by": "thread_id", "offset": 1, "limit": 1})  # fmt: skip
        assert [t["thread_id"] for t in paged.json()] == ["sort-b"]
        for option in ({"values": {"count": 1}}, {"select": ["thread_id"]},
                       {"extract": {"x": "values.count"}}):  # fmt: skip
            got = problem(http.post("/threads/search", json=option),
                          422, "server-unsupported")  # fmt: skip
            assert got["culprit"]["field"] == next(iter(option))

    def test_metadata_filters_compare_json_values(self, http: httpx.Client) -> None:
        http.post("/threads", json={"thread_id": "meta-true",
                                    "metadata": {"flag": True}})  # fmt: skip
        http.post("/threads", json={"thread_id": "meta-one",
                                    "metadata": {"flag": 1}})  # fmt: skip
        for wanted, tid in ((True, "meta-true"), (1, "meta-one")):
            found = http.post("/threads/search", json={"metadata": {"flag": wanted}})
            assert [t["thread_id"] for t in found.json()] == [tid]
        none = http.post("/threads/search", json={"metadata": {"flag": None}})
        assert none.json() == []  # a missing key is not a null

    def test_history_before_an_unknown_checkpoint_is_a_404(
        self, http: httpx.Client
    ) -> None:
        tid = http.post("/threads", json={}).json()["thread_id"]
        http.post(f"{path(tid)}/runs/wait",
                  json={"assistant_id": "steps", "input": {"target": 2}})  # fmt: skip
        history = http.post(f"{path(tid)}/history", json={"limit": 10}).json()
        older = http.post(f"{path(tid)}/history",
                          json={"before": history[0]["checkpoint"]["checkpoint_id"]})  # fmt: skip
        assert older.json() == history[1:]
        got = http.post(f"{path(tid)}/history", json={"before": "no-such-checkpoint"})
        assert problem(got, 404, "checkpoint-not-found")["culprit"][
            "checkpoint_id"
        ] == "no-such-checkpoint"  # fmt: skip
        problem(http.post(f"{path(tid)}/history", json={"metadata": {"step": 1}}),
                422, "server-unsupported")  # fmt: skip


class TestClientDetails:
    def test_join_stream_with_the_sdk_defaults(self, sdk: Any) -> None:
        tid = sdk.threads.create()["thread_id"]
        run = sdk.runs.create(tid, "steps", input={"target": 2},
                              stream_mode=["values", "updates"])  # fmt: skip
        parts = list(sdk.runs.join_stream(tid, run["run_id"]))
        kinds = [p.event for p in parts]
        assert "values" in kinds and "updates" in kinds
        assert parts[-1].data is not None
        assert [p.data for p in parts if p.event == "values"][-1]["count"] == 2

    def test_a_resume_takes_no_input(self, http: httpx.Client) -> None:
        tid = http.post("/threads", json={}).json()["thread_id"]
        http.post(f"{path(tid)}/runs/wait",
                  json={"assistant_id": "approval", "input": {"amount": 3}})  # fmt: skip
        before = http.get(f"{path(tid)}/state").json()
        got = http.post(f"{path(tid)}/runs",
                        json={"assistant_id": "approval", "input": {"amount": 9},
                              "command": {"resume": {"approved": True}}})  # fmt: skip
        assert problem(got, 422, "server-unsupported")["culprit"]["field"] == "input"
        assert http.get(f"{path(tid)}/state").json() == before

    def test_an_answer_to_another_interrupt_is_a_409(self, http: httpx.Client) -> None:
        tid = http.post("/threads", json={}).json()["thread_id"]
        http.post(f"{path(tid)}/runs/wait",
                  json={"assistant_id": "approval", "input": {"amount": 3}})  # fmt: skip
        state = http.get(f"{path(tid)}/state").json()
        [pending] = state["interrupts"]
        stale = "0" * 64
        got = http.post(f"{path(tid)}/runs",
                        json={"assistant_id": "approval",
                              "command": {"resume": {stale: {"approved": True}}}})  # fmt: skip
        body = problem(got, 409, "resume-interrupt-mismatch")
        assert body["culprit"] == {"expected": pending["id"], "found": stale}
        assert http.get(f"{path(tid)}/state").json() == state
        answer = {pending["id"]: {"approved": True, "note": "ok"}}
        done = http.post(f"{path(tid)}/runs/wait",
                         json={"assistant_id": "approval",
                               "command": {"resume": answer}})  # fmt: skip
        assert done.json()["status"] == "approved: ok"

    def test_a_graph_shape_in_an_unknown_format_is_a_422(
        self, http: httpx.Client
    ) -> None:
        assert "nodes" in http.get("/assistants/steps/graph?format=json").json()
        mermaid = http.get("/assistants/steps/graph", params={"format": "mermaid"})
        assert mermaid.text.startswith(("graph", "flowchart", "---"))
        got = http.get("/assistants/steps/graph", params={"format": "svg"})
        assert problem(got, 422, "server-invalid-request")["culprit"]["field"] == (
            "format"
        )

    def test_unknown_routes_and_methods_are_problems(self, http: httpx.Client) -> None:
        body = problem(http.get("/no/such/route"), 404, "server-route-not-found")
        assert body["instance"] == "/no/such/route"
        wrong = http.delete("/ok")
        problem(wrong, 405, "server-method-not-allowed")
        assert "GET" in wrong.headers["allow"]
        split = http.get("/threads/user-1/chat-2")  # an id with `/`: no route
        problem(split, 404, "server-route-not-found")
