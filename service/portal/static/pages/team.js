// Team & keys: who has access to the partner account. Partner admins issue keys by role,
// see each key's last use, and revoke them; a new key's token is shown once, here.
import { apiAll, apiSend, problemText } from "../api.js";
import { badge, cards, figure, h, note, section, table } from "../dom.js";
import { count, time } from "../format.js";

const ROLES = {
  admin: "Admin: everything, including keys",
  operations: "Operations: lines and sub-accounts",
  billing: "Billing: invoices and payment methods",
  reporting: "Reporting: read-only views and analytics",
};

async function renderTeam(ctx) {
  const keys = await apiAll("/api-keys");
  const live = keys.filter((k) => !k.revoked_at);
  const status = h("div", { id: "key-status", role: "status" });
  const name = h("input", { id: "key-name", required: true, maxlength: 100, autocomplete: "off" });
  const role = h("select", { id: "key-role" },
    Object.entries(ROLES).map(([value, text]) => h("option", { value, selected: value === "reporting" }, text)));
  const submit = h("button", { type: "submit", id: "issue-key" }, "Issue key");
  const issue = h("form", {
    class: "filters", id: "issue-form",
    onsubmit: async (e) => {
      e.preventDefault();
      if (!name.value.trim()) {
        status.replaceChildren(note("Give the key a name, e.g. who or what will use it.", "error"));
        return;
      }
      submit.disabled = true;
      try {
        const made = await apiSend("POST", "/api-keys", { name: name.value.trim(), role: role.value });
        ctx.reload({ token: made.token, id: made.id, role: made.role });
      } catch (err) {
        status.replaceChildren(note(problemText(err), "error"));
        submit.disabled = false;
      }
    },
  }, h("label", null, "Name ", name), h("label", null, "Role ", role), submit);
  // Revoking takes two clicks: the first asks, the second revokes.
  const revoke = async (button, key) => {
    if (button.dataset.armed !== "true") {
      button.dataset.armed = "true";
      button.textContent = `Confirm: revoke “${key.name}”`;
      return;
    }
    button.disabled = true;
    try {
      await apiSend("DELETE", `/api-keys/${encodeURIComponent(key.id)}`);
      ctx.reload(`The key “${key.name}” was revoked; it stops working at once.`);
    } catch (err) {
      status.replaceChildren(note(problemText(err), "error"));
      button.disabled = false;
    }
  };
  const issued = ctx.flash && typeof ctx.flash === "object" ? ctx.flash : null;
  return h("div", null,
    issued ? h("div", { class: "note ok", id: "new-key" },
      h("p", null, `New ${issued.role} key issued. Copy its token now: it is shown this once and never again.`),
      h("p", { class: "secret", id: "new-key-token" }, issued.token)) : null,
    typeof ctx.flash === "string" ? note(ctx.flash, "ok") : null,
    cards(
      figure("key-count", "Active keys", count(live.length)),
      figure("revoked-count", "Revoked", count(keys.length - live.length)),
    ),
    note("Give each person or system its own key, with the narrowest role that does the job; revoke keys nobody uses."),
    section("Issue a key", issue, status),
    section("Keys", table([
      { key: "name", title: "Name", cell: (k) => k.name },
      { key: "role", title: "Role", cell: (k) => k.role },
      { key: "created", title: "Issued", cell: (k) => time(k.created_at) },
      { key: "used", title: "Last used", cell: (k) => (k.last_used_at ? time(k.last_used_at) : "never") },
      { key: "state", title: "Status", cell: (k) => (k.revoked_at ? badge(`revoked ${time(k.revoked_at)}`, "bad") : badge("active", "ok")) },
      { key: "actions", title: "Actions", cell: (k) => (k.revoked_at ? "" : h("button", {
        type: "button", class: "danger", dataset: { revoke: k.id },
        "aria-label": `Revoke the key ${k.name}`, onclick: (e) => revoke(e.currentTarget, k),
      }, "Revoke")) },
    ], keys, { id: "keys", rowId: (k) => k.id, empty: "No keys yet." })));
}

export const page = { id: "team", title: "Team & keys", needs: "keys", render: renderTeam };
