// The Hive trace viewer's page script: renders the embedded run model (or, on the
// live page, the model it polls for). Values are inserted as text, never as HTML.
"use strict";
(function () {
  const $ = (id) => document.getElementById(id);
  let model = null;
  let selected = null;
  let follow = true;

  function el(tag, attrs, text) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, v);
    if (text !== undefined && text !== null) e.textContent = String(text);
    return e;
  }

  function row(cells, attrs) {
    const tr = el("tr", attrs);
    for (const c of cells) tr.appendChild(el("td", c.cls ? { class: c.cls } : {}, c.text));
    return tr;
  }

  function renderTimeline() {
    const ul = $("timeline");
    ul.replaceChildren();
    for (const item of model.timeline) {
      const li = el("li");
      if (item.type === "run") {
        li.appendChild(el("div", { class: "run-marker " + item.kind }, item.kind + (item.detail ? " " + item.detail : "")));
      } else {
        const s = model.steps[item.index];
        const nodes = s.tasks.map((t) => t.node).join(", ");
        const b = el("button", { class: "step-button", "data-step": String(item.index) }, "step " + s.step + ": " + nodes);
        b.addEventListener("click", () => { follow = false; select(item.index); });
        li.appendChild(b);
      }
      ul.appendChild(li);
    }
  }

  function highlight(step) {
    const ran = new Map(step ? step.tasks.map((t) => [t.node, t.status]) : []);
    for (const g of document.querySelectorAll("#graph .node")) {
      const status = ran.get(g.getAttribute("data-node"));
      g.classList.toggle("ran", status !== undefined);
      g.classList.toggle("failed", status === "failed");
    }
  }

  function select(index) {
    selected = index;
    const step = model.steps[index];
    for (const b of document.querySelectorAll(".step-button")) {
      b.classList.toggle("selected", b.getAttribute("data-step") === String(index));
    }
    highlight(step);
    $("step-title").textContent = "step " + step.step + (step.finished ? "" : " (running)");
    const tasks = $("tasks");
    tasks.replaceChildren();
    for (const t of step.tasks) {
      const tools = t.tools.map((x) => x.name + (x.success ? "" : " (failed)")).join(", ");
      let model_ = t.models.length ? t.models.join(", ") + " · " + t.token_count + " tokens" : "";
      if (t.breakers && t.breakers.length) model_ += " · breaker " + t.breakers.join(", ");
      tasks.appendChild(row([{ text: t.ordinal }, { text: t.node }, { text: t.status + (t.error ? ": " + t.error : ""), cls: t.status === "failed" ? "failed" : "" }, { text: model_ }, { text: t.tokens, cls: "value" }, { text: tools }], { "data-node": t.node }));
    }
    const writes = $("writes");
    writes.replaceChildren();
    for (const w of step.writes) writes.appendChild(row([{ text: w.channel }, { text: w.value, cls: "value" }], { "data-channel": w.channel }));
    const store = $("store");
    store.replaceChildren();
    for (const k of Object.keys(step.store).sort()) store.appendChild(row([{ text: k }, { text: step.store[k], cls: "value" }], { "data-channel": k }));
    $("store").setAttribute("data-step", String(step.step));
    $("store").setAttribute("data-source", step.store_source || "");
    $("store-note").textContent = step.store_note || "";
    const notes = [];
    if (step.checkpoint) notes.push("checkpoint " + step.checkpoint);
    if (step.interrupt) notes.push("interrupted: " + step.interrupt);
    $("step-notes").textContent = notes.join(" · ");
  }

  function render(next) {
    model = next;
    document.title = model.title;
    $("title").textContent = model.title;
    $("outcome").textContent = model.outcome ? "outcome: " + model.outcome : "";
    $("tokens").textContent = model.token_count + " model tokens";
    if (model.svg !== undefined && $("graph").getAttribute("data-svg") !== model.svg_key) {
      $("graph").innerHTML = model.svg; // generated server-side, names escaped
      $("graph").setAttribute("data-svg", model.svg_key);
    }
    renderTimeline();
    $("lines").textContent = model.lines.join("\n");
    document.body.setAttribute("data-steps", String(model.steps.length));
    if (!model.steps.length) return;
    const last = model.steps.length - 1;
    select(follow || selected === null || selected > last ? last : selected);
  }

  function poll(url) {
    fetch(url, { cache: "no-store" })
      .then((r) => r.json())
      .then((m) => { if (!model || JSON.stringify(m) !== JSON.stringify(model)) render(m); })
      .catch(() => {})
      .finally(() => setTimeout(() => poll(url), 250));
  }

  document.addEventListener("DOMContentLoaded", () => {
    const first = $("first-divergence");
    if (first) { first.scrollIntoView({ block: "center" }); document.body.setAttribute("data-jumped", "true"); }
    const data = $("hive-data");
    if (!data) return;
    const m = JSON.parse(data.textContent);
    if (m.live_url) { render(m); poll(m.live_url); } else { render(m); }
  });
})();
