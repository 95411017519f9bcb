"""The viewer in a real headless Chromium: the graph renders one element per node,
clicking a step shows its store, the diff page marks and scrolls to the first
divergence. Screenshots go to ``test-artifacts/viewer/``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from hive_core import RunOptions
from hive_core.viewer import LoadedTrace, render_diff_html, render_trace_html

WAIT_S = 20


def wait(browser: Any, condition: Any) -> Any:
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(browser, WAIT_S).until(condition)


def store_of(browser: Any) -> dict[str, str]:
    rows = browser.find_elements("css selector", "#store tr")
    return {
        r.get_attribute("data-channel"): r.find_elements("css selector", "td")[1].text
        for r in rows
    }


def ran(browser: Any) -> list[str]:
    return [
        g.get_attribute("data-node")
        for g in browser.find_elements("css selector", "#graph g.node.ran")
    ]


def test_graph_and_step_store(
    browser: Any, screenshot: Any, tmp_path: Path, agent_trace: Any, agent_graph: Any
) -> None:
    page = tmp_path / "run.html"
    page.write_text(
        render_trace_html(agent_trace(tmp_path / "run.jsonl"), graph=agent_graph)
    )
    browser.get(page.as_uri())
    wait(browser, lambda b: b.find_elements("css selector", ".step-button"))
    nodes = browser.find_elements("css selector", "#graph svg g.node")
    assert sorted(n.get_attribute("data-node") for n in nodes) == [
        "approve",
        "ask",
        "done",
    ]
    assert len({n.get_attribute("id") for n in nodes}) == 3
    for n in nodes:  # drawn, not just present
        size = n.rect
        assert size["width"] > 50 and size["height"] > 20
    buttons = browser.find_elements("css selector", ".step-button")
    assert len(buttons) == 3  # ask, approve (interrupts), done (after the resume)
    buttons[0].click()
    wait(browser, lambda b: "selected" in buttons[0].get_attribute("class"))
    assert store_of(browser) == {"log": '["a"]'}
    assert ran(browser) == ["ask"]
    assert "Hello there" in browser.find_element("id", "tasks").text
    screenshot("step-0")
    buttons[1].click()
    wait(browser, lambda b: "selected" in buttons[1].get_attribute("class"))
    assert store_of(browser) == {"log": '["a","b"]'}
    assert ran(browser) == ["approve"]
    assert "interrupted" in browser.find_element("id", "step-notes").text
    markers = [m.text for m in browser.find_elements("css selector", ".run-marker")]
    assert any(m.startswith("run_interrupted") for m in markers)
    assert any(m.startswith("run_resumed") for m in markers)
    screenshot("step-1")
    buttons[2].click()
    wait(browser, lambda b: "selected" in buttons[2].get_attribute("class"))
    assert store_of(browser) == {"log": '["a","b","approved=yes"]'}
    assert ran(browser) == ["done"]


def test_step_store_from_a_values_trace(
    browser: Any, screenshot: Any, tmp_path: Path, agent_trace: Any
) -> None:
    """A trace recorded with ``stream_modes=("values",)`` (no debug payloads): each
    step's store panel shows that step's values; a hash-only trace says how to
    record them."""
    options = RunOptions(stream_modes=("values",), deterministic_token_streaming=True)
    page = tmp_path / "values.html"
    page.write_text(render_trace_html(agent_trace(tmp_path / "v.jsonl", options)))
    browser.get(page.as_uri())
    wait(browser, lambda b: b.find_elements("css selector", ".step-button"))
    buttons = browser.find_elements("css selector", ".step-button")
    expected = ['["a"]', '["a","b"]', '["a","b","approved=yes"]']
    for button, log in zip(buttons, expected, strict=True):
        button.click()
        wait(browser, lambda b, x=button: "selected" in x.get_attribute("class"))
        assert store_of(browser) == {"log": log}
        assert browser.find_element("id", "store").get_attribute("data-source") == (
            "values"
        )
        assert browser.find_element("id", "store-note").text == ""
    screenshot("values-step-2")
    bare = tmp_path / "bare.html"
    bare.write_text(render_trace_html(agent_trace(tmp_path / "b.jsonl", RunOptions())))
    browser.get(bare.as_uri())
    wait(browser, lambda b: b.find_elements("css selector", ".step-button"))
    browser.find_elements("css selector", ".step-button")[0].click()
    note = browser.find_element("id", "store-note").text
    assert 'stream_modes=("values",)' in note and "debug_payloads=True" in note
    assert store_of(browser)["log"].startswith("(hash ")
    screenshot("hashes-note")


def test_diff_marks_and_scrolls_to_the_first_divergence(
    browser: Any, screenshot: Any, tmp_path: Path
) -> None:
    lines = [
        f"step {i} | task_started        | ordinal=0 node=N{i}" for i in range(300)
    ]
    changed = [*lines[:240], lines[240].replace("N240", "X"), *lines[241:]]
    a = LoadedTrace([{"kind": "task_started"}] * 300, lines)
    b = LoadedTrace([{"kind": "task_started"}] * 300, changed)
    page = tmp_path / "diff.html"
    page.write_text(render_diff_html(a, b))
    browser.get(page.as_uri())
    wait(
        browser,
        lambda d: (
            d.find_element("tag name", "body").get_attribute("data-jumped") == "true"
        ),
    )
    first = browser.find_element("id", "first-divergence")
    assert first.get_attribute("data-index") == "240"
    assert "first-divergence" in first.get_attribute("class")
    marked = browser.find_elements("css selector", ".diff .first-divergence")
    assert [m.text for m in marked] == [lines[240], changed[240]]
    assert browser.execute_script("return window.scrollY") > 0
    in_view = browser.execute_script(
        "const r = arguments[0].getBoundingClientRect();"
        "return r.top >= 0 && r.bottom <= window.innerHeight;",
        first,
    )
    assert in_view
    screenshot("diff")
