// The portal's pages, in the order of the sidebar. A page module exports
// `page = { id, title, needs, render(ctx) → Promise<Node>, detail? }`: `needs` names a
// group of PROBES (the page shows only when the key may make that read); `detail` renders
// `#/<id>/<rest…>` (e.g. one invoice). To add a page: write pages/<id>.js and list it here.
import { page as alerts } from "./alerts.js";
import { page as analytics } from "./analytics.js";
import { page as audit } from "./audit.js";
import { page as billing } from "./billing.js";
import { page as events } from "./events.js";
import { page as invoices } from "./invoices.js";
import { page as lines } from "./lines.js";
import { page as myStatus } from "./my-status.js";
import { page as paymentMethods } from "./payment-methods.js";
import { page as pool } from "./pool.js";
import { page as subAccounts } from "./sub-accounts.js";
import { page as team } from "./team.js";
import { page as upcoming } from "./upcoming.js";
import { page as webhooks } from "./webhooks.js";

export const PAGES = [
  lines, pool, subAccounts, billing, upcoming, invoices, paymentMethods, myStatus, alerts,
  analytics, audit, team, events, webhooks,
];

// What each page group needs, probed once at sign-in with the cheapest read there is;
// 403 hides the group, as does 404 (a read the service does not offer).
export const PROBES = {
  lines: ["/lines", { limit: 1 }],
  billing: ["/invoices", { limit: 1 }],
  alerts: ["/alerts", { limit: 1 }],
  analytics: ["/analytics/response-rate",
    { since: "2000-01-01T00:00:00Z", until: "2000-01-01T01:00:00Z" }],
  audit: ["/audit-trail", { limit: 1 }],
  keys: ["/api-keys", { limit: 1 }],
  events: ["/events", { limit: 1 }],
  webhooks: ["/webhook-endpoints", { limit: 1 }],
};
