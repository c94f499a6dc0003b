// The dashboard: events per hour by level over the last 24 hours (stacked bars) and deliveries by
// status, drawn as inline SVG. Both are computed in the browser from the API's lists.

import { h, levelName, replace, svg, toast } from "./dom.js";

const HOUR = 3600 * 1000;
const CHART_LEVELS = ["info", "warning", "error", "critical"];
export const STATUSES = ["queued", "sent", "failed", "delivered", "opened", "acknowledged"];
const MAX_EVENTS = 5000;
const DELIVERY_SAMPLE = 40;

/** 24 hourly bins ending with the current hour: [{start: ms, counts: {level: n}}], oldest first. */
export function hourlyBins(events, now = Date.now()) {
  const currentHour = Math.floor(now / HOUR) * HOUR;
  const first = currentHour - 23 * HOUR;
  const bins = Array.from({ length: 24 }, (_, i) => ({
    start: first + i * HOUR,
    counts: Object.fromEntries(CHART_LEVELS.map((l) => [l, 0])),
  }));
  for (const e of events) {
    const t = Date.parse(e.ts);
    if (Number.isNaN(t) || t < first || t >= currentHour + HOUR) continue;
    const level = levelName(e.level);
    if (!(level in bins[0].counts)) continue;
    bins[Math.floor((t - first) / HOUR)].counts[level] += Number(e.count) > 0 ? Number(e.count) : 1;
  }
  return bins;
}

/** Count deliveries by status (unknown statuses are kept under their own name). */
export function statusCounts(deliveries) {
  const counts = Object.fromEntries(STATUSES.map((s) => [s, 0]));
  for (const d of deliveries) counts[d.status] = (counts[d.status] || 0) + 1;
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

export function hourlyChart(bins) {
  const W = 720, H = 260, left = 36, bottom = 24, top = 10, right = 8;
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
        svg("title", { text: `${new Date(b.start).getHours()}:00 · ${n} ${level}` })));
      acc += n;
    }
    if (i % 6 === 0 || i === bins.length - 1) {
      parts.push(svg("text", { x: x + bar / 2, y: H - 6, "text-anchor": "middle", class: "axis", text: `${String(new Date(b.start).getHours()).padStart(2, "0")}h` }));
    }
  });
  return h("figure", { class: "chart", id: "chart-hourly" },
    svg("svg", { viewBox: `0 0 ${W} ${H}`, role: "img", "aria-label": "Events per hour by level, last 24 hours" }, parts),
    h("figcaption", {}, h("span", { text: "Events per hour, last 24 h" }),
      h("span", { class: "legend" }, CHART_LEVELS.map((l) => h("span", { class: "legend-item" }, h("i", { class: `swatch fill-${l}` }), l)))));
}

export function statusChart(counts, caption) {
  const entries = Object.entries(counts);
  const W = 720, rowH = 30, left = 110, right = 50;
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

async function eventsSince(api, sinceIso) {
  const events = [];
  let cursor = null;
  do {
    const page = await api.listEvents({}, cursor, 200, { since: sinceIso });
    events.push(...page.events);
    cursor = page.next_cursor;
  } while (cursor && events.length < MAX_EVENTS);
  return events;
}

async function deliveriesOf(api, events) {
  const pushed = events.filter((e) => e.push !== false && ["warning", "error", "critical"].includes(levelName(e.level))).slice(0, DELIVERY_SAMPLE);
  const all = [];
  let next = 0;
  const worker = async () => {
    while (next < pushed.length) {
      const e = pushed[next++];
      const answer = await api.get(`/v1/events/${encodeURIComponent(e.id)}/deliveries`);
      all.push(...(Array.isArray(answer) ? answer : answer.deliveries || []));
    }
  };
  await Promise.all([worker(), worker(), worker()]);
  return { deliveries: all, sampled: pushed.length };
}

function card(label, value, id) {
  return h("div", { class: "card", id }, h("span", { class: "card-value", text: String(value) }), h("span", { class: "card-label", text: label }));
}

export async function showDashboard(main, api, now = Date.now()) {
  const view = h("section", { class: "view dashboard", id: "dashboard" }, h("p", { class: "muted", text: "Loading…" }));
  replace(main, view);
  try {
    const events = await eventsSince(api, new Date(now - 24 * HOUR).toISOString());
    const [{ deliveries, sampled }, devicesAnswer] = await Promise.all([
      deliveriesOf(api, events),
      api.get("/v1/devices").catch(() => []),
    ]);
    const devices = Array.isArray(devicesAnswer) ? devicesAnswer : devicesAnswer.devices || [];
    const pushed = events.filter((e) => levelRankAtLeast(e.level, "warning")).length;
    const open = events.filter((e) => levelName(e.level) === "critical" && !e.acknowledged_at).length;
    replace(view,
      h("div", { class: "cards" },
        card("events, 24 h", events.length, "card-events"),
        card("pushed", pushed, "card-pushed"),
        card("critical open", open, "card-critical"),
        card("devices", devices.length, "card-devices")),
      hourlyChart(hourlyBins(events, now)),
      statusChart(statusCounts(deliveries), sampled ? `Deliveries by status (latest ${sampled} pushed events)` : "Deliveries by status (nothing pushed in 24 h)"));
  } catch (err) {
    replace(view, h("p", { class: "form-error", role: "alert", text: `Could not load the dashboard: ${err.message}` }));
    toast(err.message, "error");
  }
}

function levelRankAtLeast(level, min) {
  const order = ["debug", "info", "warning", "error", "critical"];
  return order.indexOf(levelName(level)) >= order.indexOf(min);
}
