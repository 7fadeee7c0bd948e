// The Available pool: billed lines that belong to no sub-account, longest idle first.
import { apiAll } from "../api.js";
import { badge, cards, figure, h, note, section, table } from "../dom.js";
import { count, time } from "../format.js";

async function renderPool(ctx) {
  const pool = await apiAll("/lines/available-pool", ctx.params);
  pool.sort((a, b) => b.days_idle - a.days_idle);
  const idle = pool.filter((l) => l.days_idle > 30).length;
  return h("div", null,
    cards(
      figure("pool-size", "Lines in the pool", count(pool.length)),
      figure("pool-idle", "Idle over 30 days", count(idle)),
      figure("pool-max-idle", "Longest idle", pool.length ? `${pool[0].days_idle} days` : "—"),
    ),
    note("Lines in the Available pool are billed but belong to no sub-account: assign or retire them."),
    section("Available pool", table([
      { key: "phone", title: "Phone number", cell: (l) => l.phone_number || "—" },
      { key: "since", title: "Available since", cell: (l) => time(l.available_since) },
      { key: "days_idle", title: "Days idle", num: true, cell: (l) => (l.days_idle > 30 ? badge(String(l.days_idle), "warn") : String(l.days_idle)) },
      { key: "sending", title: "Sending", cell: (l) => l.sending },
    ], pool, { id: "pool", rowId: (l) => l.id, empty: "The Available pool is empty." })));
}

export const page = { id: "pool", title: "Available pool", needs: "lines", render: renderPool };
