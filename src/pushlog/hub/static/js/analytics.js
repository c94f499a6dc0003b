// The dashboard's analytics panels (GET /v1/stats: channels, noisiest fingerprints, time to
// acknowledge CRITICALs, transports, the delivery funnel, the funnels of app-user notifications per
// notification and per template), each a plain table with a CSV export.
// Tables rather than charts: top lists and funnels are read as numbers, and a table stays readable on
// a 360 px phone without a charting library (the hub serves everything itself, offline).

import { h } from "./dom.js";
import { formatLatency } from "./dashboard.js";

/** RFC 4180 CSV: fields with a comma, quote or line break are quoted, quotes doubled. */
export function toCsv(header, rows) {
  const field = (value) => {
    const text = value === null || value === undefined ? "" : String(value);
    return /[",\r\n]/.test(text) ? `"${text.replaceAll('"', '""')}"` : text;
  };
  return [header, ...rows].map((row) => row.map(field).join(",")).join("\r\n") + "\r\n";
}

function download(name, text) {
  const url = URL.createObjectURL(new Blob([text], { type: "text/csv" }));
  const link = h("a", { href: url, download: name, hidden: true });
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 1000);
}

/** A titled table with a "CSV" button exporting exactly the rows shown. `numeric`: right-aligned columns. */
export function tablePanel(id, title, header, rows, { numeric = [], empty = "Nothing in this period." } = {}) {
  const csv = h("button", { type: "button", class: "quiet csv", "data-csv": id, text: "CSV",
    onclick: () => download(`pushlog-${id}.csv`, toCsv(header, rows)) });
  const body = rows.length
    ? h("table", { class: "per-device" },
      h("thead", {}, h("tr", {}, header.map((name, i) => h("th", { class: numeric.includes(i) ? "num" : "", text: name })))),
      h("tbody", {}, rows.map((row) => h("tr", {}, row.map((cell, i) =>
        h("td", { class: numeric.includes(i) ? "num" : "", text: cell === null || cell === undefined ? "–" : String(cell) }))))))
    : h("p", { class: "muted", text: empty });
  return h("section", { class: "panel analytics", id }, h("div", { class: "panel-head" }, h("h3", { text: title }), rows.length ? csv : null), body);
}

const percent = (rate) => (rate === null || rate === undefined ? null : `${Math.round(rate * 1000) / 10} %`);

const total = (byReason) => Object.values(byReason || {}).reduce((a, b) => a + b, 0);

/** One notification's (or template's) funnel as table cells: targeted, skipped (users not reached and
 * deliveries the attention gate skipped), sent, delivered, opened, failed, open rate, the reasons. */
export function funnelCells(f) {
  if (!f) return [null, null, null, null, null, null, null, ""];
  const reasons = { ...f.skipped };
  for (const [r, n] of Object.entries({ ...f.skipped_reasons, ...f.failed_reasons })) reasons[r] = (reasons[r] || 0) + n;
  return [f.targeted, total(f.skipped) + total(f.skipped_reasons), f.sent, f.delivered, f.opened, f.failed,
    percent(f.sent ? f.opened / f.sent : null), Object.entries(reasons).map(([r, n]) => `${r} ${n}`).join(", ")];
}

const FUNNEL_HEADER = ["targeted", "skipped", "sent", "delivered", "opened", "failed", "open rate", "reasons"];

function notificationPanels(shown) {
  const numeric = (from) => [0, 1, 2, 3, 4, 5, 6].map((i) => i + from);
  return h("div", { class: "panels" },
    tablePanel("notification-funnels", `Notifications (${shown.total})`, ["notification", "template", "status", ...FUNNEL_HEADER],
      shown.items.map((n) => [n.id, n.template, n.status, ...funnelCells(n.funnel)]),
      { numeric: numeric(3), empty: "No notifications in this period." }),
    tablePanel("template-funnels", "Templates", ["template", "notifications", ...FUNNEL_HEADER],
      shown.by_template.map((t) => [t.template ?? "(none)", t.notifications, ...funnelCells(t.funnel)]),
      { numeric: [1, ...numeric(2)], empty: "No notifications in this period." }));
}

export function analyticsPanels(stats) {
  const ack = stats.acknowledgement;
  const funnel = stats.funnel;
  const reasons = (byReason) => Object.entries(byReason).map(([r, n]) => `${r} ${n}`).join(", ") || "0";
  const sum = (byReason) => Object.values(byReason).reduce((a, b) => a + b, 0);
  return [
    h("div", { class: "panels" },
      tablePanel("noisiest", "Noisiest", ["fingerprint", "title", "channel", "level", "lines", "occurrences"],
        stats.noisiest.map((f) => [f.fingerprint, f.title, f.channel, f.level, f.lines, f.occurrences]), { numeric: [4, 5] }),
      tablePanel("channels", "Channels", ["channel", "events"],
        Object.entries(stats.channels.by_channel).map(([c, n]) => [c, n]), { numeric: [1] })),
    h("div", { class: "panels" },
      tablePanel("funnel", "Delivery funnel", ["step", "count", "detail"], [
        ["targeted", funnel.targeted, ""],
        ["held", sum(funnel.held), reasons(funnel.held)],
        ["skipped", sum(funnel.skipped), reasons(funnel.skipped)],
        ["sent", funnel.sent, ""],
        ["delivered", funnel.delivered, ""],
        ["opened", funnel.opened, ""],
        ["acknowledged", funnel.acknowledged, ""],
        ["failed", sum(funnel.failed), Object.entries(funnel.failed).map(([c, n]) => `HTTP ${c}: ${n}`).join(", ")],
      ], { numeric: [1] }),
      tablePanel("transports", "Transports", ["transport", "sent", "failed", "success", "p50", "p90", "p99"],
        stats.transports.map((t) => [t.transport, t.sent, t.failed, percent(t.success_rate),
          formatLatency(t.latency_p50_s), formatLatency(t.latency_p90_s), formatLatency(t.latency_p99_s)]),
        { numeric: [1, 2, 3, 4, 5, 6] })),
    tablePanel("open-rate", "Open rate over time", ["from (UTC)", "sent", "delivered", "opened", "open rate"],
      stats.pushes.buckets.filter((b) => b.sent).map((b) => [b.start.slice(0, 16).replace("T", " "), b.sent,
        b.delivered, b.opened, percent(b.open_rate)]),
      { numeric: [1, 2, 3, 4], empty: "No pushes sent in this period." }),
    tablePanel("acknowledgement", "Time to acknowledge CRITICAL", ["critical", "acknowledged", "mean", "p90"],
      ack.critical ? [[ack.critical, ack.acknowledged, formatLatency(ack.mean_s), formatLatency(ack.p90_s)]] : [],
      { numeric: [0, 1, 2, 3], empty: "No CRITICAL events in this period." }),
    notificationPanels(stats.notifications),
  ];
}
