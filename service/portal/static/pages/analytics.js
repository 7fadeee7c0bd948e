// Analytics: messages, response rate, conversations and volume-limit hits, plotted with
// plotly's bundle (loaded on first use from vendor/plotly.min.js).
import { api, apiAll, request } from "../api.js";
import { cards, figure, h, note, section, statusBadge, table } from "../dom.js";
import { count, percent } from "../format.js";
import { setQuery } from "../router.js";
import { session } from "../session.js";

let plotlyLoading = null;

function loadPlotly() {
  if (window.Plotly) return Promise.resolve(window.Plotly);
  if (!plotlyLoading) {
    plotlyLoading = new Promise((resolve, reject) => {
      const script = h("script", { src: "vendor/plotly.min.js" });
      script.onload = () => resolve(window.Plotly);
      script.onerror = () => {
        plotlyLoading = null;
        reject(new Error("the plotting library could not be loaded"));
      };
      document.head.append(script);
    });
  }
  return plotlyLoading;
}

const PLOT_LAYOUT = {
  margin: { l: 56, r: 16, t: 36, b: 48 }, height: 300,
  legend: { orientation: "h", y: -0.2 }, font: { family: "system-ui, sans-serif", size: 12 },
  paper_bgcolor: "#ffffff", plot_bgcolor: "#ffffff",
};
const PLOT_CONFIG = { displayModeBar: false, responsive: true };

const BUCKET_MS = { hour: 3600e3, day: 86400e3, week: 7 * 86400e3 };
const DAY_RE = /^\d{4}-\d{2}-\d{2}$/;

function nextDay(day) {
  const d = new Date(`${day}T00:00:00Z`);
  d.setUTCDate(d.getUTCDate() + 1);
  return d.toISOString().slice(0, 10);
}

// A bucket the window covers only in part (it starts before `since`, or ends after `until`
// or the present moment) is marked, so that its smaller figures do not read as a dip.
function partials(answer, bucket, now) {
  const since = Date.parse(answer.since);
  const until = answer.until ? Date.parse(answer.until) : Date.parse(now);
  return answer.series.map((b) => {
    const start = Date.parse(b.start);
    return start < since || start + BUCKET_MS[bucket] > until;
  });
}

// Partial buckets are drawn as open markers.
const markers = (partial) => ({ symbol: partial.map((p) => (p ? "circle-open" : "circle")), size: 8 });

// ... and as faded bars.
const faded = (partial) => partial.map((p) => (p ? 0.4 : 1));

async function renderAnalytics(ctx) {
  const bucket = ["hour", "day", "week"].includes(ctx.query.get("bucket")) ? ctx.query.get("bucket") : "week";
  const from = DAY_RE.test(ctx.query.get("from") || "") ? ctx.query.get("from") : "";
  const to = DAY_RE.test(ctx.query.get("to") || "") ? ctx.query.get("to") : "";
  const sub = ctx.query.get("sub_account_id") || "";
  const range = { since: from ? `${from}T00:00:00Z` : null, until: to ? `${nextDay(to)}T00:00:00Z` : null };
  const params = { ...ctx.params, ...range, bucket, sub_account_id: sub };
  const [messages, conversations, hits, compared, subs, me, Plotly] = await Promise.all([
    api("/analytics/messages", params),
    api("/analytics/conversations", params),
    api("/analytics/volume-limit-hits", params),
    api("/analytics/sub-accounts", { ...ctx.params, ...range }),
    apiAll("/sub-accounts", ctx.params),
    request("/v1/me", null, session.token),
    loadPlotly(),
  ]);
  const now = ctx.asOf || me.now;
  const o = compared.overall;
  const x = (series) => series.map((b) => b.start);
  const partial = partials(messages, bucket, now);
  const partialCount = partial.filter(Boolean).length;
  // Best response rate at the top of the horizontal bars.
  const byRank = [...compared.data].reverse();
  const subNames = byRank.map((s) => s.name);
  const select = h("select", { id: "filter-bucket", onchange: (e) => setQuery({ bucket: e.target.value === "week" ? null : e.target.value }) },
    ["day", "week"].map((b) => h("option", { value: b, selected: b === bucket }, b === "day" ? "Per day" : "Per week")));
  const subSelect = h("select", { id: "filter-analytics-sub-account", onchange: (e) => setQuery({ sub_account_id: e.target.value }) },
    h("option", { value: "" }, "All sub-accounts"),
    subs.map((s) => h("option", { value: s.id, selected: s.id === sub }, s.name)));
  const fromInput = h("input", { type: "date", id: "filter-from", value: from, max: me.now.slice(0, 10) });
  const toInput = h("input", { type: "date", id: "filter-to", value: to, max: me.now.slice(0, 10) });
  const rangeForm = h("form", {
    class: "filters", id: "analytics-filters",
    onsubmit: (e) => { e.preventDefault(); setQuery({ from: fromInput.value, to: toInput.value }); },
  },
  h("label", null, "From ", fromInput), h("label", null, "To ", toInput),
  h("button", { type: "submit", class: "secondary" }, "Apply"),
  h("label", null, "Sub-account ", subSelect), h("label", null, "Buckets ", select));
  const plots = {
    "plot-messages": [[
      { type: "scatter", mode: "lines+markers", name: "Sent", x: x(messages.series), y: messages.series.map((b) => b.messages_sent), marker: markers(partial) },
      { type: "scatter", mode: "lines+markers", name: "Received", x: x(messages.series), y: messages.series.map((b) => b.messages_received), marker: markers(partial) },
    ], { title: { text: "Messages over time" }, yaxis: { title: { text: "messages" }, rangemode: "tozero" } }],
    "plot-response-rate": [[
      { type: "scatter", mode: "lines+markers", name: "Response rate", x: x(conversations.series), y: conversations.series.map((b) => (b.response_rate === null ? null : b.response_rate * 100)), marker: markers(partials(conversations, bucket, now)) },
    ], { title: { text: "Response rate" }, yaxis: { title: { text: "% of new conversations answered" }, range: [0, 100] } }],
    "plot-new-vs-responded": [[
      { type: "bar", name: "New conversations", x: x(conversations.series), y: conversations.series.map((b) => b.new_conversations), marker: { opacity: faded(partials(conversations, bucket, now)) } },
      { type: "bar", name: "Responded", x: x(conversations.series), y: conversations.series.map((b) => b.responded_conversations), marker: { opacity: faded(partials(conversations, bucket, now)) } },
    ], { title: { text: "New vs responded conversations over time" }, barmode: "group", yaxis: { rangemode: "tozero" } }],
    "plot-conversations": [[
        { type: "bar", orientation: "h", name: "New conversations", y: subNames, x: byRank.map((s) => s.new_conversations) },
      { type: "bar", orientation: "h", name: "Responded", y: subNames, x: byRank.map((s) => s.responded_conversations) },
    ], { title: { text: "New vs responded conversations per sub-account" }, barmode: "group", yaxis: { automargin: true }, xaxis: { rangemode: "tozero" } }],
    "plot-hits": [[
      { type: "bar", name: "Volume-limit hits", x: x(hits.series), y: hits.series.map((b) => b.volume_limit_hits), marker: { color: "#c2410c", opacity: faded(partials(hits, bucket, now)) } },
    ], { title: { text: "Volume-limit hits" }, yaxis: { title: { text: "hits" }, rangemode: "tozero" } }],
  };
  ctx.onMount(async () => {
    for (const [id, [data, layout]] of Object.entries(plots)) {
      await Plotly.newPlot(id, data, { ...PLOT_LAYOUT, ...layout }, PLOT_CONFIG);
    }
  });
  const noUsage = !messages.series.length;
  return h("div", null,
    rangeForm,
    cards(
      figure("messages-sent", "Messages sent", count(messages.totals.messages_sent)),
      figure("messages-received", "Messages received", count(messages.totals.messages_received)),
      figure("response-rate", "Response rate", percent(o.response_rate)),
      figure("volume-limit-hits", "Volume-limit hits", count(hits.totals.volume_limit_hits)),
    ),
    noUsage ? note("No usage has been reported yet.") : null,
    partialCount ? h("div", { class: "note", id: "partial-buckets", dataset: { count: partialCount } },
      `Open markers and faded bars: ${partialCount === 1 ? "a bucket" : `${partialCount} buckets`} the range covers only in part (the range starts or ends inside it, or it is still under way); its figures are not a full ${bucket}'s.`) : null,
    h("div", { class: "plots" }, Object.keys(plots).map((id) => h("div", { id, class: "plot" }))),
    section("Sub-accounts compared (best response rate first)", table([
      { key: "rank", title: "#", num: true, cell: (s) => String(s.rank) },
      { key: "name", title: "Sub-account", cell: (s) => s.name },
      { key: "lines", title: "Lines", num: true, cell: (s) => count(s.lines) },
      { key: "sent", title: "Sent", num: true, cell: (s) => count(s.messages_sent) },
      { key: "received", title: "Received", num: true, cell: (s) => count(s.messages_received) },
      { key: "new", title: "New conv.", num: true, cell: (s) => count(s.new_conversations) },
      { key: "responded", title: "Responded", num: true, cell: (s) => count(s.responded_conversations) },
      { key: "rate", title: "Response rate", num: true, cell: (s) => percent(s.response_rate) },
      { key: "hits", title: "Limit hits", num: true, cell: (s) => count(s.volume_limit_hits) },
    ], compared.data, { id: "compared", rowId: (s) => s.sub_account_id || "unassigned", empty: "No usage yet." })),
    section("Lines hitting the volume limit most", table([
      { key: "phone", title: "Line", cell: (l) => l.phone_number || l.line_id },
      { key: "status", title: "Status", cell: (l) => statusBadge(l.status) },
      { key: "hits", title: "Hits", num: true, cell: (l) => count(l.volume_limit_hits) },
    ], hits.top_lines, { id: "top-lines", empty: "No line hit the volume limit." })));
}

export const page = { id: "analytics", title: "Analytics", needs: "analytics", render: renderAnalytics };
