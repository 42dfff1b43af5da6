#pragma once
// orders-api's static files, embedded in the binary (no CDN): the OpenAPI 3 document and the
// interactive /docs page (HTML, script, style) that lists the operations and lets a person fill
// in an order, send it and follow its status. "{{BASE}}" becomes the step's expose path.

namespace pipewright::workers::orders {

inline constexpr const char* kOpenApi = R"JSON({
  "openapi": "3.0.3",
  "info": {
    "title": "Pipewright orders API",
    "version": "v1alpha1",
    "description": "Orders are accepted here (202), checked by the fraud step and end up valid or rejected with reasons. Errors are JSON {error, field}."
  },
  "servers": [{"url": "{{BASE}}"}],
  "paths": {
    "/orders": {
      "post": {
        "summary": "Place an order",
        "description": "Accepted orders are published to Kafka before the answer. Sending the same id again with the same order gives the same answer and publishes nothing.",
        "operationId": "createOrder",
        "requestBody": {
          "required": true,
          "content": {"application/json": {"schema": {"$ref": "#/components/schemas/NewOrder"},
            "example": {"customer": "alice", "items": [{"sku": "book-42", "quantity": 2, "price": 12.5}], "total": 25.0}}}
        },
        "responses": {
          "202": {"description": "Accepted", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Accepted"}}}},
          "400": {"description": "Malformed JSON or an invalid field", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}},
          "409": {"description": "The id is taken by another order", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}},
          "413": {"description": "The body is over maxBodyBytes", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}},
          "503": {"description": "Kafka did not acknowledge the order; nothing was accepted", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}
        }
      }
    },
    "/orders/{id}": {
      "get": {
        "summary": "An order and its current status",
        "operationId": "getOrder",
        "parameters": [{"name": "id", "in": "path", "required": true, "schema": {"type": "string"}}],
        "responses": {
          "200": {"description": "The order", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Order"}}}},
          "404": {"description": "No such order", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}
        }
      }
    },
    "/openapi.json": {"get": {"summary": "This document", "operationId": "openapi", "responses": {"200": {"description": "OpenAPI 3 document"}}}},
    "/docs": {"get": {"summary": "Interactive documentation", "operationId": "docs", "responses": {"200": {"description": "HTML page"}}}}
  },
  "components": {
    "schemas": {
      "Item": {
        "type": "object",
        "required": ["sku", "quantity", "price"],
        "properties": {
          "sku": {"type": "string", "minLength": 1, "maxLength": 100},
          "quantity": {"type": "integer", "minimum": 1, "maximum": 1000000},
          "price": {"type": "number", "minimum": 0}
        }
      },
      "NewOrder": {
        "type": "object",
        "required": ["customer", "items", "total"],
        "properties": {
          "id": {"type": "string", "pattern": "^[A-Za-z0-9._:-]{1,64}$", "description": "Optional; makes retries idempotent"},
          "customer": {"type": "string", "minLength": 1, "maxLength": 200},
          "items": {"type": "array", "minItems": 1, "maxItems": 1000, "items": {"$ref": "#/components/schemas/Item"}},
          "total": {"type": "number", "minimum": 0, "description": "Must equal the sum of quantity * price"},
          "notify": {"type": "object", "properties": {"email": {"type": "string"}, "telegram": {"type": "string"}}}
        }
      },
      "Accepted": {
        "type": "object",
        "properties": {"id": {"type": "string"}, "status": {"type": "string", "enum": ["received"]}}
      },
      "Reason": {
        "type": "object",
        "properties": {
          "rule": {"type": "string", "enum": ["maxAmount", "maxOrdersPerCustomer", "blockedCustomers", "totalMismatch"]},
          "message": {"type": "string"}
        }
      },
      "Order": {
        "allOf": [{"$ref": "#/components/schemas/NewOrder"}, {
          "type": "object",
          "properties": {
            "status": {"type": "string", "enum": ["received", "valid", "rejected"]},
            "receivedAt": {"type": "string", "format": "date-time"},
            "reasons": {"type": "array", "items": {"$ref": "#/components/schemas/Reason"}}
          }
        }]
      },
      "Error": {
        "type": "object",
        "required": ["error"],
        "properties": {"error": {"type": "string"}, "field": {"type": "string", "example": "items[1].quantity"}}
      }
    }
  }
})JSON";

inline constexpr const char* kDocsPage = R"HTML(<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Orders API — Pipewright</title>
<link rel="stylesheet" href="{{BASE}}/docs/docs.css">
</head>
<body data-base="{{BASE}}">
<header><h1>Orders API</h1><p>Place an order, then follow it through the fraud check.
The machine-readable description is <a href="{{BASE}}/openapi.json">openapi.json</a>.</p></header>
<main>
<section id="operations"><h2>Operations</h2><ul id="operation-list"></ul></section>
<section>
<h2><span class="verb post">POST</span> /orders</h2>
<form id="order-form">
<label>Body (JSON)<textarea id="order-body" name="body" rows="12" spellcheck="false"></textarea></label>
<div class="row">
<button type="button" id="add-item">Example with a second item</button>
<button type="submit" id="send">Send order</button>
</div>
</form>
<h3>Answer</h3>
<pre id="post-answer" aria-live="polite">—</pre>
</section>
<section>
<h2><span class="verb get">GET</span> /orders/{id}</h2>
<form id="lookup-form">
<label>Order id <input id="order-id" name="id" autocomplete="off"></label>
<button type="submit" id="lookup">Look up</button>
</form>
<h3>Status</h3>
<pre id="get-answer" aria-live="polite">—</pre>
</section>
</main>
<script src="{{BASE}}/docs/docs.js"></script>
</body>
</html>
)HTML";

inline constexpr const char* kDocsScript = R"JS("use strict";
const base = document.body.dataset.base;
const example = {customer: "alice", items: [{sku: "book-42", quantity: 2, price: 12.5}], total: 25};
const body = document.getElementById("order-body");
body.value = JSON.stringify(example, null, 2);

function show(el, status, text) {
  let pretty = text;
  try { pretty = JSON.stringify(JSON.parse(text), null, 2); } catch (e) { /* not JSON */ }
  el.textContent = "HTTP " + status + "\n" + pretty;
  el.className = status >= 400 ? "error" : "ok";
}

async function lookup(id, follow) {
  const el = document.getElementById("get-answer");
  const deadline = Date.now() + 30000;
  for (;;) {
    const res = await fetch(base + "/orders/" + encodeURIComponent(id));
    const text = await res.text();
    show(el, res.status, text);
    let status = "";
    try { status = JSON.parse(text).status; } catch (e) { /* keep polling only on JSON */ }
    if (!follow || res.status !== 200 || status !== "received" || Date.now() > deadline) return;
    await new Promise(r => setTimeout(r, 500));
  }
}

document.getElementById("add-item").addEventListener("click", () => {
  let order;
  try { order = JSON.parse(body.value); } catch (e) { order = structuredClone(example); }
  if (!Array.isArray(order.items)) order.items = [];
  order.items.push({sku: "pen-7", quantity: 3, price: 1.5});
  order.total = order.items.reduce((s, i) => s + i.quantity * i.price, 0);
  body.value = JSON.stringify(order, null, 2);
});

document.getElementById("order-form").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  const el = document.getElementById("post-answer");
  el.textContent = "sending…";
  try {
    const res = await fetch(base + "/orders", {
      method: "POST", headers: {"Content-Type": "application/json"}, body: body.value});
    const text = await res.text();
    show(el, res.status, text);
    if (res.status === 202) {
      const id = JSON.parse(text).id;
      document.getElementById("order-id").value = id;
      lookup(id, true);
    }
  } catch (e) {
    el.textContent = "request failed: " + e;
    el.className = "error";
  }
});

document.getElementById("lookup-form").addEventListener("submit", (ev) => {
  ev.preventDefault();
  lookup(document.getElementById("order-id").value.trim(), true);
});

fetch(base + "/openapi.json").then(r => r.json()).then(doc => {
  const list = document.getElementById("operation-list");
  for (const [path, ops] of Object.entries(doc.paths)) {
    for (const [verb, op] of Object.entries(ops)) {
      const li = document.createElement("li");
      const v = document.createElement("span");
      v.className = "verb " + verb;
      v.textContent = verb.toUpperCase();
      li.append(v, " " + path + " — " + (op.summary || ""));
      list.append(li);
    }
  }
});
)JS";

inline constexpr const char* kDocsStyle =
    R"CSS(body { font: 15px/1.45 system-ui, sans-serif; margin: 0; color: #1d2330; background: #f6f7f9; }
header, main { max-width: 860px; margin: 0 auto; padding: 0 1rem; }
header { padding-top: 1rem; }
section { background: #fff; border: 1px solid #dde1e7; border-radius: 8px; padding: 0.5rem 1rem 1rem; margin: 1rem 0; }
label { display: block; font-weight: 600; margin: 0.5rem 0; }
textarea, input { display: block; width: 100%; box-sizing: border-box; font: 14px ui-monospace, monospace; padding: 0.5rem; margin-top: 0.25rem; }
.row { display: flex; gap: 0.5rem; justify-content: flex-end; }
button { font: inherit; padding: 0.4rem 1rem; border-radius: 6px; border: 1px solid #4457c4; background: #4f63d9; color: #fff; cursor: pointer; }
button[type=button] { background: #fff; color: #4457c4; }
pre { background: #f0f2f5; padding: 0.75rem; border-radius: 6px; overflow: auto; }
pre.ok { border-left: 4px solid #2f9e44; }
pre.error { border-left: 4px solid #d9480f; }
.verb { display: inline-block; min-width: 3.5em; text-align: center; font: 700 12px ui-monospace, monospace; padding: 2px 6px; border-radius: 4px; color: #fff; }
.verb.post { background: #2f9e44; }
.verb.get { background: #1c7ed6; }
)CSS";

}  // namespace pipewright::workers::orders
