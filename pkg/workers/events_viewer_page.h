#pragma once
// GET /viewer of events-gateway: one static page, no CDN. It opens the WebSocket
// /consume-events next to its own URL (so it works under any expose.path) and shows each event
// as it arrives, newest first, reconnecting when the connection drops.

namespace pipewright::workers::events {

inline constexpr const char* kViewerPage = R"HTML(<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Pipewright live events</title>
<style>
  body { font-family: system-ui, sans-serif; margin: 0; background: #f6f7f9; color: #1d232b; }
  header { padding: 12px 20px; background: #1d232b; color: #fff; display: flex; gap: 16px;
           align-items: baseline; flex-wrap: wrap; }
  header h1 { font-size: 18px; margin: 0; }
  #state { font-size: 14px; }
  #state.live { color: #7ee787; }
  #state.down { color: #ff9b8f; }
  main { padding: 12px 20px; }
  table { border-collapse: collapse; width: 100%; background: #fff; font-size: 14px; }
  th, td { text-align: left; padding: 6px 8px; border-bottom: 1px solid #e3e6ea;
           vertical-align: top; }
  td.data { font-family: ui-monospace, monospace; white-space: pre-wrap; word-break: break-all; }
  .word { font-weight: 600; color: #0b5cad; }
</style>
</head>
<body>
<header>
  <h1>Live events</h1>
  <span id="state" class="down">connecting…</span>
  <span><span id="count">0</span> received</span>
  <label><input type="checkbox" id="pause"> pause</label>
</header>
<main>
  <table>
    <thead><tr><th>time</th><th>id</th><th>word</th><th>data</th></tr></thead>
    <tbody id="events"></tbody>
  </table>
</main>
<script>
(function () {
  "use strict";
  var KEEP = 200;
  var rows = document.getElementById("events");
  var state = document.getElementById("state");
  var count = document.getElementById("count");
  var pause = document.getElementById("pause");
  var received = 0;
  var path = location.pathname.replace(/\/viewer\/?$/, "") + "/consume-events";
  var url = (location.protocol === "https:" ? "wss://" : "ws://") + location.host + path;

  function cell(text, cls) {
    var td = document.createElement("td");
    td.textContent = text;
    if (cls) td.className = cls;
    return td;
  }

  function show(text) {
    received += 1;
    count.textContent = String(received);
    if (pause.checked) return;
    var e;
    try { e = JSON.parse(text); } catch (err) { e = { data: text }; }
    var data = e && typeof e === "object" && "data" in e ? e.data : e;
    var tr = document.createElement("tr");
    tr.appendChild(cell(e.time || ""));
    tr.appendChild(cell(e.id || ""));
    tr.appendChild(cell(data && data.word ? data.word : "", "word"));
    tr.appendChild(cell(JSON.stringify(data), "data"));
    rows.insertBefore(tr, rows.firstChild);
    while (rows.children.length > KEEP) rows.removeChild(rows.lastChild);
  }

  function connect() {
    var ws = new WebSocket(url);
    ws.onopen = function () { state.textContent = "live"; state.className = "live"; };
    ws.onmessage = function (m) { show(m.data); };
    ws.onclose = function (c) {
      state.textContent = "disconnected (" + c.code + (c.reason ? ": " + c.reason : "") +
                          "), retrying…";
      state.className = "down";
      setTimeout(connect, 1000);
    };
  }
  connect();
})();
</script>
</body>
</html>
)HTML";

}  // namespace pipewright::workers::events
