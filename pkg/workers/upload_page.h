#pragma once
// The upload worker's page (SPEC section 3): a file picker with optional e-mail / Telegram chat
// id, and the stored originals with their results appearing as the workers finish. No CDN; the
// base path is filled in by the worker so it works behind Ingress and the local gateway.

namespace pipewright::workers {

inline constexpr const char* kUploadPage = R"html(<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Pipewright: images</title>
<style>
  body { font-family: system-ui, sans-serif; margin: 2rem auto; max-width: 60rem; padding: 0 1rem; color: #1d2330; }
  h1 { font-size: 1.4rem; }
  form { display: grid; gap: .6rem; grid-template-columns: max-content 1fr; align-items: center;
         padding: 1rem; border: 1px solid #d5d9e2; border-radius: .5rem; background: #f7f8fb; }
  form button { grid-column: 2; justify-self: start; padding: .4rem 1.2rem; }
  #message { min-height: 1.4em; margin: .6rem 0; }
  .error { color: #b00020; } .ok { color: #1b6e20; }
  table { width: 100%; border-collapse: collapse; margin-top: 1rem; }
  td, th { border-bottom: 1px solid #e3e6ee; padding: .4rem; text-align: left; vertical-align: top; }
  img { max-width: 9rem; max-height: 9rem; display: block; }
  .pending { color: #8a8f9c; font-style: italic; }
</style>
</head>
<body>
<h1>Images: upload → rotate / grayscale → notify</h1>
<form id="upload">
  <label for="file">Image</label><input id="file" name="file" type="file" accept="image/*" required>
  <label for="email">E-mail (optional)</label><input id="email" name="email" type="email" placeholder="you@example.com">
  <label for="telegram">Telegram chat id (optional)</label><input id="telegram" name="telegram" placeholder="123456789">
  <button type="submit">Upload</button>
</form>
<div id="message" role="status"></div>
<table>
  <thead><tr><th>Original</th><th>Rotated</th><th>Grayscale</th></tr></thead>
  <tbody id="files"></tbody>
</table>
<script>
const base = "{{BASE}}";
const message = document.getElementById("message");
function cell(name) {
  const td = document.createElement("td");
  if (!name) { td.className = "pending"; td.textContent = "processing…"; return td; }
  const a = document.createElement("a");
  a.href = base + "/files/" + encodeURIComponent(name);
  const img = document.createElement("img");
  img.src = a.href; img.alt = name;
  a.appendChild(img);
  const caption = document.createElement("div");
  caption.textContent = name;
  td.append(a, caption);
  return td;
}
let last = "";
async function refresh() {
  try {
    const res = await fetch(base + "/api/files");
    const text = await res.text();
    if (text === last) return;
    last = text;
    const rows = JSON.parse(text).files.map(f => {
      const tr = document.createElement("tr");
      tr.dataset.file = f.name;
      tr.append(cell(f.name), cell(f.results.rotate), cell(f.results.grayscale));
      return tr;
    });
    document.getElementById("files").replaceChildren(...rows);
  } catch (e) { /* the next poll tries again */ }
}
document.getElementById("upload").addEventListener("submit", async ev => {
  ev.preventDefault();
  message.className = ""; message.textContent = "uploading…";
  const res = await fetch(base + "/upload", { method: "POST", body: new FormData(ev.target) });
  const body = await res.json().catch(() => ({ error: res.statusText }));
  if (res.ok) {
    message.className = "ok"; message.textContent = "stored as " + body.file;
    ev.target.reset();
  } else {
    message.className = "error"; message.textContent = body.error || res.statusText;
  }
  refresh();
});
refresh();
setInterval(refresh, 1000);
</script>
</body>
</html>
)html";

}  // namespace pipewright::workers
