// The dashboard: exact counts for a period (24 h, 7 or 30 days) from the hub's GET /v1/stats (events
// per hour or day by level as stacked bars, deliveries by status, pushes, per device, events clients
// dropped), drawn as inline SVG, and the analytics tables of analytics.js (each with a CSV export).

import { analyticsPanels } from "./analytics.js";
import { h, replace, svg, toast } from "./dom.js";

const HOUR = 3600 * 1000;
const CHART_LEVELS = ["info", "warning", "error", "critical"];
export const STATUSES = ["queued", "sent", "failed", "delivered", "opened", "acknowledged", "held", "skipped"];
const MAX_OPEN_CRITICAL = 1000;
/** The periods the range picker offers: how many buckets of which size, ending with the current one. */
export const RANGES = {
  "24h": { bins: 24, bucket: "hour", label: "last 24 h" },
  "7d": { bins: 7, bucket: "day", label: "last 7 days" },
  "30d": { bins: 30, bucket: "day", label: "last 30 days" },
};
let currentRange = "24h";

/** The stats window for the chart: `bins` whole hours (or UTC days) ending with the current one. */
export function chartSince(now = Date.now(), range = "24h") {
  const { bins, bucket } = RANGES[range];
  const size = bucket === "hour" ? HOUR : 24 * HOUR;
  return new Date(Math.floor(now / size) * size - (bins - 1) * size).toISOString();
}

/** A bin's axis label and tooltip time: "14h" / "14:00" for hours, "01-14" for days. */
function binLabel(start, bucket, tooltip = false) {
  const d = new Date(start);
  if (bucket === "day") return `${String(d.getUTCMonth() + 1).padStart(2, "0")}-${String(d.getUTCDate()).padStart(2, "0")}`;
  return tooltip ? `${d.getHours()}:00` : `${String(d.getHours()).padStart(2, "0")}h`;
}

/** The API's hourly buckets as chart bins [{start: ms, counts: {level: n}}] (debug left out). */
export function binsFromStats(buckets) {
  return buckets.map((b) => ({
    start: Date.parse(b.start),
    counts: Object.fromEntries(CHART_LEVELS.map((l) => [l, Number(b[l]) || 0])),
  }));
}

/** Delivery counts in chart order; statuses the chart does not know are kept under their own name. */
export function statusCounts(byStatus) {
  const counts = Object.fromEntries(STATUSES.map((s) => [s, 0]));
  for (const [status, n] of Object.entries(byStatus)) counts[status] = Number(n) || 0;
  return counts;
}

/** A round axis maximum whose half is a whole number too: 2, 4, 6, 8, 10, 20, 40, … */
export function niceMax(value) {
  let magnitude = 1;
  for (;;) {
    for (const step of [2, 4, 6, 8, 10]) if (step * magnitude >= value) return step * magnitude;
    magnitude *= 10;
  }
}

/** The charts' drawing width: the space they get, so their text is drawn at its real size on a phone. */
export function chartWidth(available) {
  return Math.round(Math.min(720, Math.max(280, Number(available) || 720)));
}

export function hourlyChart(bins, W = 720, range = "24h") {
  const { bucket, label } = RANGES[range];
  const H = W < 500 ? 200 : 260, left = 36, bottom = 24, top = 10, right = 8;
  const totals = bins.map((b) => CHART_LEVELS.reduce((s, l) => s + b.counts[l], 0));
  const max = niceMax(Math.max(0, ...totals));
  const plotH = H - top - bottom;
  const slot = (W - left - right) / bins.length;
  const bar = Math.max(2, slot * 0.72);
  const y = (v) => top + plotH - (v / max) * plotH;
  const parts = [];
  for (const frac of [0, 0.5, 1]) {
    const v = max * frac;
    parts.push(svg("line", { x1: left, x2: W - right, y1: y(v), y2: y(v), class: "grid" }));
    parts.push(svg("text", { x: left - 6, y: y(v) + 4, "text-anchor": "end", class: "axis", text: String(Math.round(v)) }));
  }
  bins.forEach((b, i) => {
    let acc = 0;
    const x = left + i * slot + (slot - bar) / 2;
    for (const level of CHART_LEVELS) {
      const n = b.counts[level];
      if (!n) continue;
      parts.push(svg("rect", { x, y: y(acc + n), width: bar, height: y(acc) - y(acc + n), class: `bar fill-${level}` },
        svg("title", { text: `${binLabel(b.start, bucket, true)} · ${n} ${level}` })));
      acc += n;
    }
    const every = bucket === "hour" ? (W < 500 ? 8 : 6) : (W < 500 ? 7 : bins.length > 10 ? 5 : 1);
    if (i % every === 0 || i === bins.length - 1) {
      parts.push(svg("text", { x: x + bar / 2, y: H - 6, "text-anchor": "middle", class: "axis", text: binLabel(b.start, bucket) }));
    }
  });
  return h("figure", { class: "chart", id: "chart-hourly" },
    svg("svg", { viewBox: `0 0 ${W} ${H}`, role: "img", "aria-label": `Events per ${bucket} by level, ${label}` }, parts),
    h("figcaption", {}, h("span", { text: `Events per ${bucket}, ${label}` }),
      h("span", { class: "legend" }, CHART_LEVELS.map((l) => h("span", { class: "legend-item" }, h("i", { class: `swatch fill-${l}` }), l)))));
}

export function statusChart(counts, caption, W = 720) {
  const entries = Object.entries(counts);
  const rowH = 30, left = 110, right = 50;
  const H = entries.length * rowH + 8;
  const max = Math.max(1, ...entries.map(([, n]) => n));
  const parts = entries.flatMap(([status, n], i) => {
    const yy = 4 + i * rowH;
    const width = ((W - left - right) * n) / max;
    return [
      svg("text", { x: left - 8, y: yy + 19, "text-anchor": "end", class: "axis label", text: status }),
      svg("rect", { x: left, y: yy + 4, width: Math.max(n ? 3 : 0, width), height: rowH - 10, rx: 3, class: `bar status-fill-${status}` }),
      svg("text", { x: left + width + 6, y: yy + 19, class: "axis value", text: String(n) }),
    ];
  });
  return h("figure", { class: "chart", id: "chart-deliveries" },
    svg("svg", { viewBox: `0 0 ${W} ${H}`, role: "img", "aria-label": "Deliveries by status" }, parts),
    h("figcaption", { text: caption }));
}

async function openCriticalCount(api, since) {
  let open = 0, seen = 0, cursor = null;
  do {
    const page = await api.listEvents({ level: "critical" }, cursor, 200, { since });
    open += page.events.filter((e) => !e.acknowledged_at).length;
    seen += page.events.length;
    cursor = page.next_cursor;
  } while (cursor && seen < MAX_OPEN_CRITICAL);
  return open;
}

/** Why events at push level did not become pushes, when none was sent: said beside the numbers. */
export function pushNote(pushed, devices, sent) {
  if (!pushed || sent) return null;
  const events = `${pushed} event${pushed === 1 ? " was" : "s were"} at push level (WARNING and up)`;
  const why = devices
    ? "but none was sent: check the devices' minimum level and channels, and the deliveries below."
    : "but no device has push enabled, so none was sent. Turn it on under Devices.";
  return h("p", { class: "muted push-note", id: "push-note", text: `${events}, ${why}` });
}

function card(label, value, id, extra = {}) {
  return h("div", { class: "card", id, ...extra }, h("span", { class: "card-value", text: String(value) }), h("span", { class: "card-label", text: label }));
}

/** "850 ms", "4.2 s", "3 min": the median delivery latency, or "–" when nothing was delivered. */
export function formatLatency(seconds) {
  if (seconds === null || seconds === undefined) return "–";
  if (seconds < 1) return `${Math.round(seconds * 1000)} ms`;
  if (seconds < 60) return `${Number(seconds.toFixed(1))} s`;
  return `${Math.round(seconds / 60)} min`;
}

function pushesPanel(pushes) {
  const items = [["sent", pushes.sent], ["delivered", pushes.delivered], ["opened", pushes.opened],
    ["acknowledged", pushes.acknowledged], ["failed", pushes.failed]];
  return h("section", { class: "panel pushes", id: "pushes" },
    h("h3", { text: "Pushes" }),
    h("dl", { class: "stat-list" }, items.map(([label, n]) => h("div", { class: "stat", dataset: { stat: label } },
      h("dt", { text: label }), h("dd", { text: String(n) }))),
    h("div", { class: "stat", dataset: { stat: "latency" } },
      h("dt", { text: "median sent → delivered" }), h("dd", { id: "latency", text: formatLatency(pushes.median_delivery_latency_s) }))));
}

function devicesPanel(byDevice) {
  if (!byDevice.length) return null;
  const rows = byDevice.map((d) => {
    const s = d.by_status;
    const name = d.name || (d.removed ? "removed device" : d.kind || d.device_id);
    return h("tr", { dataset: { deviceId: d.device_id } },
      h("td", { class: d.removed ? "muted" : "", text: name }),
      h("td", { class: "num", text: String(d.total) }),
      h("td", { class: "num", text: String(s.delivered + s.opened + s.acknowledged) }),
      h("td", { class: "num", text: String(s.failed) }));
  });
  return h("section", { class: "panel", id: "per-device" },
    h("h3", { text: "Per device" }),
    h("table", { class: "per-device" },
      h("thead", {}, h("tr", {}, h("th", { text: "device" }), h("th", { class: "num", text: "pushes" }),
        h("th", { class: "num", text: "reached" }), h("th", { class: "num", text: "failed" }))),
      h("tbody", {}, rows)));
}

function droppedPanel(clients) {
  const recovered = clients.recovered || 0;
  if (!clients.dropped && !recovered) return null;
  const plural = (n) => (n === 1 ? "" : "s");
  return h("section", { class: "panel warn", id: "dropped" },
    h("h3", { text: `Clients dropped ${clients.dropped} event${plural(clients.dropped)}` }),
    h("p", { class: "muted", text: "Events a client's queue could not keep (full, or the hub unreachable for too long); the client reported them with its next batch." }),
    recovered
      ? h("p", { id: "recovered", text: `${recovered} event${plural(recovered)} recovered from a client spool: kept on disk when a process could not deliver them, sent by the next process.` })
      : null,
    h("ul", { class: "plain" }, clients.by_key.map((k) => h("li", { dataset: { keyId: k.key_id || "" } },
      h("strong", { text: k.key_name || "unknown key" }),
      ` ${k.dropped} dropped${k.recovered ? `, ${k.recovered} recovered` : ""} in ${k.reports} report${plural(k.reports)}`))));
}

function rangePicker(main, api, now) {
  const select = h("select", { id: "range", "aria-label": "Period",
    onchange: () => { currentRange = select.value; showDashboard(main, api, now); } },
  Object.entries(RANGES).map(([value, r]) => h("option", { value, text: r.label, selected: value === currentRange })));
  return h("div", { class: "range-picker" }, h("label", { for: "range", text: "Period " }), select);
}

export async function showDashboard(main, api, now = Date.now()) {
  const range = currentRange;
  const { bucket, label } = RANGES[range];
  const view = h("section", { class: "view dashboard", id: "dashboard" }, h("p", { class: "muted", text: "Loading…" }));
  replace(main, view);
  try {
    const since = chartSince(now, range);
    const [stats, devicesAnswer, openCritical] = await Promise.all([
      api.get(`/v1/stats?${new URLSearchParams({ since, bucket })}`),
      api.get("/v1/devices").catch(() => []),
      openCriticalCount(api, since),
    ]);
    const devices = Array.isArray(devicesAnswer) ? devicesAnswer : devicesAnswer.devices || [];
    const width = chartWidth(view.clientWidth - 26); // the figure's padding and border
    const byLevel = stats.events.by_level;
    const pushed = byLevel.warning + byLevel.error + byLevel.critical;
    replace(view,
      rangePicker(main, api, now),
      h("div", { class: "cards" },
        card(`events, ${range}`, stats.events.total, "card-events"),
        card("to push (warning +)", pushed, "card-pushed"),
        card("critical open", openCritical, "card-critical"),
        card("devices", devices.length, "card-devices"),
        card("dropped by clients", stats.clients.dropped, "card-dropped", stats.clients.dropped ? { "data-alert": "" } : {})),
      pushNote(pushed, devices.length, stats.pushes.sent),
      hourlyChart(binsFromStats(stats.events.buckets), width, range),
      statusChart(statusCounts(stats.deliveries.by_status), `Deliveries by status, ${label}`, width),
      h("div", { class: "panels" }, pushesPanel(stats.pushes), devicesPanel(stats.deliveries.by_device)),
      droppedPanel(stats.clients),
      analyticsPanels(stats));
  } catch (err) {
    replace(view, h("p", { class: "form-error", role: "alert", text: `Could not load the dashboard: ${err.message}` }));
    toast(err.message, "error");
  }
}
