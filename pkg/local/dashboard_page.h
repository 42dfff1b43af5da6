#pragma once
// The dashboard page: one file, no CDN. It reads /api/graph once and /api/stats, /api/processes
// and /api/mail every two seconds.

namespace pipewright::local {

inline constexpr const char* kDashboardPage = R"HTML(<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="icon" href="data:,">
<title>Pipewright — local</title>
<style>
  body { font: 14px/1.4 system-ui, sans-serif; margin: 0; color: #1d2430; background: #f5f7fa; }
  header { background: #1d2430; color: #fff; padding: 12px 24px; display: flex; gap: 24px;
           align-items: baseline; flex-wrap: wrap; }
  header h1 { font-size: 18px; margin: 0; }
  header a { color: #9cc3ff; }
  main { padding: 16px 24px; display: grid; gap: 16px; }
  section { background: #fff; border-radius: 8px; padding: 12px 16px;
            box-shadow: 0 1px 2px rgba(0,0,0,.08); }
  h2 { font-size: 16px; margin: 0 0 8px; }
  svg { width: 100%; overflow: visible; }
  .step rect { fill: #e8f0ff; stroke: #3b6fd8; }
  .topic rect { fill: #fff4e0; stroke: #d89a3b; }
  .edge { stroke: #8893a5; stroke-width: 1.5; fill: none; marker-end: url(#arrow); }
  text { font-size: 12px; }
  .muted { color: #6b7585; }
  .bad { color: #c0392b; font-weight: 600; }
  table { border-collapse: collapse; width: 100%; }
  td, th { text-align: left; padding: 3px 8px; border-bottom: 1px solid #eceff3; }
  .bar { height: 14px; background: #3b6fd8; border-radius: 3px; }
  .bar.backup { background: #d89a3b; }
</style>
</head>
<body>
<header>
  <h1>Pipewright — local mode</h1>
  <span id="links"></span>
  <span id="status" class="muted">loading…</span>
</header>
<main>
  <div id="pipelines"></div>
  <div id="services"></div>
  <section><h2>Mail caught on the local SMTP server</h2><div id="mail" class="muted">none yet</div></section>
  <section><h2>Processes</h2><div id="processes"></div></section>
</main>
<script>
"use strict";
let graph = null;
const fmt = (x) => x >= 100 ? x.toFixed(0) : x >= 10 ? x.toFixed(1) : x.toFixed(2);
const esc = (s) => String(s).replace(/[&<>"']/g, (c) => ({"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;"}[c]));

function sum(rows, match) {
  let total = 0;
  for (const r of rows || []) {
    if (Object.entries(match).every(([k, v]) => r.labels[k] === v)) total += r.value;
  }
  return total;
}

// Columns by breadth-first distance from the steps that read nothing (the entry points), so
// feedback loops (an API reading the results of what it published) cannot stretch the graph.
function layout(p) {
  const col = {};
  const key = (kind, name) => kind + ":" + name;
  const starts = p.steps.filter((s) => s.inputs.length === 0);
  const queue = (starts.length ? starts : p.steps.slice(0, 1)).map((s) => [key("s", s.name), 0]);
  while (queue.length) {
    const [k, c] = queue.shift();
    if (k in col) continue;
    col[k] = c;
    const [kind, name] = [k.slice(0, 1), k.slice(2)];
    if (kind === "s") {
      for (const t of p.steps.find((s) => s.name === name).outputs) queue.push([key("t", t), c + 1]);
    } else {
      for (const s of p.steps.filter((s) => s.inputs.includes(name))) queue.push([key("s", s.name), c + 1]);
    }
  }
  for (const s of p.steps) if (!(key("s", s.name) in col)) col[key("s", s.name)] = 0;
  for (const t of p.topics) if (!(key("t", t.name) in col)) col[key("t", t.name)] = 0;
  const rows = {};
  const pos = {};
  const nodes = [...p.steps.map((s) => ["s", s.name]), ...p.topics.map((t) => ["t", t.name])];
  for (const [kind, name] of nodes) {
    const c = col[key(kind, name)];
    rows[c] = (rows[c] || 0) + 1;
    pos[key(kind, name)] = {x: 20 + c * 190, y: 20 + (rows[c] - 1) * 80};
  }
  const height = 40 + Math.max(...Object.values(rows)) * 80;
  return {pos, key, height};
}

function drawPipeline(p, stats) {
  const {pos, key, height} = layout(p);
  let edges = "", nodes = "";
  for (const s of p.steps) {
    const a = pos[key("s", s.name)];
    for (const t of s.outputs) {
      const b = pos[key("t", t)];
      edges += `<path class="edge" d="M${a.x + 160},${a.y + 25} L${b.x},${b.y + 25}"/>`;
    }
    for (const t of s.inputs) {
      const b = pos[key("t", t)];
      edges += `<path class="edge" d="M${b.x + 160},${b.y + 25} L${a.x},${a.y + 25}"/>`;
    }
    const match = {pipeline: p.name, step: s.name};
    const rate = sum(stats.consumed_rate, match) + (s.inputs.length ? 0 : sum(stats.produced_rate, match));
    const errors = sum(stats.errors_total, match);
    const dead = sum(stats.dead_letters_total, match);
    // The consumers' own pipewright_consumer_lag, summed per step; "?" before any is scraped.
    const reported = (stats.lag || []).some((r) => r.labels.pipeline === p.name && r.labels.step === s.name);
    const lag = s.inputs.length ? (reported ? sum(stats.lag, match) : "?") : "-";
    nodes += `<g class="step" data-step="${esc(s.name)}"><rect x="${a.x}" y="${a.y}" width="160" height="54" rx="4"/>
      <text x="${a.x + 8}" y="${a.y + 16}" font-weight="600">${esc(s.name)}</text>
      <text x="${a.x + 8}" y="${a.y + 31}" class="rate" data-rate="${rate}">${fmt(rate)} msg/s · ${esc(s.worker)} ×${s.replicas}</text>
      <text x="${a.x + 8}" y="${a.y + 46}"${errors || dead ? ' fill="#c0392b"' : ''}>backlog <tspan class="lag" data-lag="${lag}">${lag}</tspan> · errors ${errors} · dlq ${dead}</text></g>`;
  }
  for (const t of p.topics) {
    const a = pos[key("t", t.name)];
    const rate = sum(stats.produced_rate, {topic: t.kafka});
    nodes += `<g class="topic" data-topic="${esc(t.name)}"><rect x="${a.x}" y="${a.y}" width="160" height="54" rx="20"/>
      <text x="${a.x + 12}" y="${a.y + 20}" font-weight="600">${esc(t.name)}</text>
      <text x="${a.x + 12}" y="${a.y + 38}" class="rate" data-rate="${rate}">${fmt(rate)} msg/s in · ${t.partitions} partition(s)</text></g>`;
  }
  const exposed = p.steps.filter((s) => s.expose).map((s) => `<a href="${esc(s.expose)}/">${esc(s.expose)}</a>`).join(" ");
  return `<section class="pipeline" data-pipeline="${esc(p.name)}"><h2>Pipeline ${esc(p.namespace)}/${esc(p.name)} <span class="muted">${exposed}</span></h2>
    <svg height="${height}"><defs><marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="6" markerHeight="6" orient="auto"><path d="M0,0 L10,5 L0,10 z" fill="#8893a5"/></marker></defs>${edges}${nodes}</svg></section>`;
}

function drawService(w, stats) {
  const rates = w.backends.map((b) => sum(stats.backend_rate, {service: w.name, backend: b.name}));
  const totals = w.backends.map((b) => sum(stats.backend_total, {service: w.name, backend: b.name}));
  const all = totals.reduce((a, b) => a + b, 0) || 1;
  const rows = w.backends.map((b, i) => `<tr><td>${esc(b.name)}</td><td>${b.backup ? "backup" : "weight " + b.weight}</td>
    <td class="rate" data-rate="${rates[i]}">${fmt(rates[i])} req/s</td><td>${totals[i]} requests</td>
    <td style="width:40%"><div class="bar${b.backup ? " backup" : ""}" style="width:${(100 * totals[i] / all).toFixed(1)}%"></div></td>
    <td>${(100 * totals[i] / all).toFixed(1)}%</td></tr>`).join("");
  return `<section class="service" data-service="${esc(w.name)}"><h2>WeightedService ${esc(w.namespace)}/${esc(w.name)}
    <span class="muted"><a href="${esc(w.expose)}?op1=6&op2=7">${esc(w.expose)}</a></span></h2>
    <table><tr><th>backend</th><th>role</th><th>rate</th><th>served</th><th>split</th><th></th></tr>${rows}</table></section>`;
}

async function refresh() {
  try {
    if (!graph) {
      graph = await (await fetch("api/graph")).json();
      document.getElementById("links").innerHTML = Object.entries(graph.urls || {})
        .map(([k, v]) => `<a href="${esc(v)}">${esc(k)}</a>`).join(" · ");
    }
    const [stats, procs, mail] = await Promise.all(["api/stats", "api/processes", "api/mail"]
      .map(async (u) => (await fetch(u)).json()));
    document.getElementById("pipelines").innerHTML = graph.pipelines.map((p) => drawPipeline(p, stats)).join("");
    document.getElementById("services").innerHTML = graph.services.map((w) => drawService(w, stats)).join("");
    document.getElementById("processes").innerHTML = `<table><tr><th>process</th><th>pid</th><th>ready</th><th>restarts</th></tr>` +
      procs.processes.map((p) => `<tr><td>${esc(p.name)}</td><td>${p.pid}</td>
        <td class="${p.ready ? "" : "bad"}">${p.ready ? "ready" : p.running ? "starting" : "down"}</td><td>${p.restarts}</td></tr>`).join("") + `</table>`;
    document.getElementById("mail").innerHTML = mail.length === 0 ? "none yet" : `<table><tr><th>to</th><th>subject</th><th>message</th><th>time</th></tr>` +
      mail.slice(-20).reverse().map((m) => `<tr class="mail"><td>${esc(m.to.join(", "))}</td><td>${esc(m.subject)}</td><td>${esc(m.body)}</td><td>${esc(m.time)}</td></tr>`).join("") + `</table>`;
    document.getElementById("status").textContent = (stats.prometheus ? "live from Prometheus" : "no Prometheus") +
      " · updated " + new Date().toLocaleTimeString();
  } catch (e) {
    document.getElementById("status").textContent = "not reachable: " + e;
  }
}
refresh();
setInterval(refresh, 2000);
</script>
</body>
</html>
)HTML";

}  // namespace pipewright::local
