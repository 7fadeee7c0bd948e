// The auditor's verification job: start it (or join the running one) and poll to its end.
import { ApiError, problemText, request } from "./api.js";
import { h, note } from "./dom.js";
import { count } from "./format.js";
import { session, unauthorized } from "./session.js";

const VERIFY_POLL_MS = 500;

// Verification runs as a job on the service (one at a time): start it, or join the one
// running, then poll it until it has ended.
export async function runVerify(box, invoice) {
  box.dataset.state = "loading";
  box.replaceChildren(h("p", { class: "muted" }, "Verifying…"));
  let job;
  try {
    job = await request("/v1/admin/verify", null, session.token);
    box.dataset.job = job.id;
    while (job.status === "running") {
      const { done, total } = job.progress || {};
      box.replaceChildren(h("p", { class: "muted" }, total
        ? `Verifying… ${Math.min(100, Math.floor((100 * done) / total))}% of the log walked.`
        : "Verifying…"));
      await new Promise((resolve) => { setTimeout(resolve, VERIFY_POLL_MS); });
      job = await request(`/v1/admin/verify/${encodeURIComponent(job.id)}`, null, session.token);
    }
  } catch (e) {
    if (e instanceof ApiError && e.status === 401) {
      unauthorized();
      return;
    }
    box.replaceChildren(note(e instanceof ApiError && e.status === 403
      ? "Only auditor keys may run verification; this key may not."
      : problemText(e), "error"));
    box.dataset.state = "error";
    return;
  }
  if (!job.result) {
    box.replaceChildren(note(`The verification stopped before it ended: ${job.error || "no reason given"}.`, "error"));
    box.dataset.state = "error";
    return;
  }
  const report = job.result;
  const mismatches = invoice
    ? report.mismatches.filter((m) => m.invoice_id === invoice.id) : report.mismatches;
  const ok = invoice ? mismatches.length === 0 && !report.chain : report.ok;
  const summary = invoice
    ? (ok ? `Verified: invoice ${invoice.number} re-derives from the log to the cent, and the views hold the same.`
      : `Invoice ${invoice.number} does not match what the log says.`)
    : (ok ? `Verified: ${count(report.invoices_checked)} invoices re-derived from ${count(report.events_checked)} events, no mismatch, hash chain intact.`
      : `Verification found problems: ${report.mismatches.length} mismatches${report.chain ? `, hash chain broken at position ${report.chain.position}` : ""}.`);
  box.replaceChildren(h("div", null,
    note(summary, ok ? "ok" : "error"),
    mismatches.length ? h("ul", { class: "mismatches" }, mismatches.map((m) => h("li", null, m.message))) : null,
    report.chain ? h("p", null, `Hash chain: ${report.chain.problem} at position ${report.chain.position}.`) : null));
  box.dataset.state = ok ? "ok" : "failed";
}
