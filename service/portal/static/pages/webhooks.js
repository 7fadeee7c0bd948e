// Webhooks: the partner's endpoints, each with its recent deliveries (attempts, answer,
// next retry), and a button to send a delivery again.
import { ApiError, apiAll, problemText } from "../api.js";
import { badge, h, note, section, table } from "../dom.js";
import { time } from "../format.js";
import { session, unauthorized } from "../session.js";

const RECENT = 20;

// The one write of this page: POST …/deliveries/{id}/retry (the runner sends it next).
async function redeliver(endpointId, deliveryId) {
  const path = `/v1/partners/${encodeURIComponent(session.partnerId)}/webhook-endpoints/`
    + `${encodeURIComponent(endpointId)}/deliveries/${encodeURIComponent(deliveryId)}/retry`;
  const response = await fetch(path, {
    method: "POST", headers: { Authorization: `Bearer ${session.token}`, Accept: "application/json" },
  });
  if (response.status === 401) unauthorized();
  let body = null;
  try {
    body = await response.json();
  } catch {
    body = null;
  }
  if (!response.ok) throw new ApiError(response.status, body);
  return body;
}

function lastAnswer(d) {
  const last = d.attempts[d.attempts.length - 1];
  if (!last) return "—";
  return last.status_code ? `HTTP ${last.status_code}` : (last.error || "—");
}

function deliveriesTable(endpoint, deliveries) {
  const recent = deliveries.slice(-RECENT).reverse();
  return table([
    { key: "event", title: "Event", cell: (d) => h("code", null, d.event_type) },
    { key: "status", title: "Status", cell: (d) => badge(d.status, `delivery-${d.status}`) },
    { key: "attempts", title: "Attempts", num: true, cell: (d) => String(d.attempts.length) },
    { key: "answer", title: "Last answer", cell: lastAnswer },
    { key: "next", title: "Next attempt", cell: (d) => (d.next_attempt_at ? time(d.next_attempt_at) : "—") },
    { key: "action", title: "", cell: (d) => {
      const out = h("span", { class: "muted" });
      const button = h("button", { type: "button", class: "secondary", dataset: { redeliver: d.id } }, "Redeliver");
      button.addEventListener("click", async () => {
        button.disabled = true;
        try {
          const again = await redeliver(endpoint.id, d.id);
          out.textContent = ` ${again.status}`;
        } catch (e) {
          out.textContent = ` ${problemText(e)}`;
          button.disabled = false;
        }
      });
      return h("span", null, button, out);
    } },
  ], recent, { id: `deliveries-${endpoint.id}`, rowId: (d) => d.id, empty: "No deliveries yet." });
}

async function renderWebhooks() {
  const endpoints = await apiAll("/webhook-endpoints");
  if (!endpoints.length) {
    return h("div", null, section("Webhook endpoints",
      note("No webhook endpoints. An admin key registers one with POST /webhook-endpoints.")));
  }
  const parts = [];
  for (const endpoint of endpoints) {
    const deliveries = await apiAll(`/webhook-endpoints/${encodeURIComponent(endpoint.id)}/deliveries`);
    parts.push(section(endpoint.url,
      h("p", { class: "muted", dataset: { endpoint: endpoint.id } },
        badge(endpoint.status, `endpoint-${endpoint.status}`), " ",
        endpoint.event_types.join(", "),
        endpoint.description ? ` · ${endpoint.description}` : "",
        endpoint.disabled_reason ? ` · ${endpoint.disabled_reason}` : ""),
      deliveriesTable(endpoint, deliveries)));
  }
  return h("div", { id: "webhooks" }, parts);
}

export const page = { id: "webhooks", title: "Webhooks", needs: "webhooks", render: renderWebhooks };
