// Analytics: messages, response rate, conversations and volume-limit hits, plotted with
// plotly's bundle (loaded on first use from vendor/plotly.min.js).
import { api } from "../api.js";
import { cards, figure, h, note, section, statusBadge, table } from "../dom.js";
import { count, percent } from "../format.js";
import { setQuery } from "../router.js";

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

async function renderAnalytics(ctx) {
  const bucket = ["hour", "day", "week"].includes(ctx.query.get("bucket")) ? ctx.query.get("bucket") : "week";
  const params = { ...ctx.params, bucket };
  const [messages, conversations, hits, compared, Plotly] = await Promise.all([
    api("/analytics/messages", params),
    api("/analytics/conversations", params),
    api("/analytics/volume-limit-hits", params),
    api("/analytics/sub-accounts", ctx.params),
    loadPlotly(),
  ]);
  const o = compared.overall;
  const x = (series) => series.map((b) => b.start);
  // Best response rate at the top of the horizontal bars.
  const byRank = [...compared.data].reverse();
  const subNames = byRank.map((s) => s.name);
  const select = h("select", { id: "filter-bucket", onchange: (e) => setQuery({ bucket: e.target.value === "week" ? null : e.target.value }) },
    ["day", "week"].map((b) => h("option", { value: b, selected: b === bucket }, b === "day" ? "Per day" : "Per week")));
  const plots = {
    "plot-messages": [[
      { type: "scatter", mode: "lines+markers", name: "Sent", x: x(messages.series), y: messages.series.map((b) => b.messages_sent) },
      { type: "scatter", mode: "lines+markers", name: "Received", x: x(messages.series), y: messages.series.map((b) => b.messages_received) },
    ], { title: { text: "Messages over time" }, yaxis: { title: { text: "messages" }, rangemode: "tozero" } }],
    "plot-response-rate": [[
      { type: "scatter", mode: "lines+markers", name: "Response rate", x: x(conversations.series), y: conversations.series.map((b) => (b.response_rate === null ? null : b.response_rate * 100)) },
    ], { title: { text: "Response rate" }, yaxis: { title: { text: "% of new conversations answered" }, range: [0, 100] } }],
    "plot-conversations": [[
        { type: "bar", orientation: "h", name: "New conversations", y: subNames, x: byRank.map((s) => s.new_conversations) },
      { type: "bar", orientation: "h", name: "Responded", y: subNames, x: byRank.map((s) => s.responded_conversations) },
    ], { title: { text: "New vs responded conversations per sub-account" }, barmode: "group", yaxis: { automargin: true }, xaxis: { rangemode: "tozero" } }],
    "plot-hits": [[
      { type: "bar", name: "Volume-limit hits", x: x(hits.series), y: hits.series.map((b) => b.volume_limit_hits), marker: { color: "#c2410c" } },
    ], { title: { text: "Volume-limit hits" }, yaxis: { title: { text: "hits" }, rangemode: "tozero" } }],
  };
  ctx.onMount(async () => {
    for (const [id, [data, layout]] of Object.entries(plots)) {
      await Plotly.newPlot(id, data, { ...PLOT_LAYOUT, ...layout }, PLOT_CONFIG);
    }
  });
  const noUsage = !messages.series.length;
  return h("div", null,
    h("div", { class: "filters" }, h("label", null, "Buckets ", select)),
    cards(
      figure("messages-sent", "Messages sent", count(messages.totals.messages_sent)),
      figure("messages-received", "Messages received", count(messages.totals.messages_received)),
      figure("response-rate", "Response rate", percent(o.response_rate)),
      figure("volume-limit-hits", "Volume-limit hits", count(hits.totals.volume_limit_hits)),
    ),
    noUsage ? note("No usage has been reported yet.") : null,
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
