// Incidents in the feed: lines that belong together (same trace id, else same fingerprint) are shown
// as one entry (docs/rules.md "Incidents", docs/webapp.md). The hub's feed list gives every line of an
// incident its `incident` ({by, key, first, last, count, lines}); lines arriving live on the stream
// carry none, so the feed keys them the same way here and folds them into what it already shows.

import { h } from "./dom.js";

/** The hub's rule (store/incidents.incident_key): metadata `trace_id`, else the fingerprint. */
export function incidentKey(event) {
  const trace = event.metadata && event.metadata.trace_id;
  if (typeof trace === "string" && trace) return `trace_id:${trace}`;
  return event.fingerprint ? `fingerprint:${event.fingerprint}` : null;
}

function lastSeen(event) {
  return event.last_seen_at || event.ts;
}

function earlier(a, b) {
  return Date.parse(a) <= Date.parse(b) ? a : b;
}

/** An incident over the lines the feed holds (when the hub gave none: all were alone at load). */
export function incidentOf(events) {
  return events.reduce((inc, e) => (inc ? joinIncident(inc, e) : {
    first: e.ts, last: lastSeen(e), count: Number(e.count) || 1, lines: 1,
  }), null);
}

/** `incident` with one more line, `event` (a live line the hub has not counted in it yet). */
export function joinIncident(incident, event) {
  const last = lastSeen(event);
  return {
    ...incident,
    first: earlier(incident.first, event.ts),
    last: earlier(incident.last, last) === last ? incident.last : last,
    count: incident.count + (Number(event.count) || 1),
    lines: incident.lines + 1,
  };
}

/** "10:02" today, "1 Dec 23:58" on another day (the browser's time zone). */
export function clockTime(iso, now = new Date()) {
  const t = new Date(Date.parse(iso));
  if (Number.isNaN(t.getTime())) return "";
  const pad = (n) => String(n).padStart(2, "0");
  const time = `${pad(t.getHours())}:${pad(t.getMinutes())}`;
  if (t.toDateString() === now.toDateString()) return time;
  return `${t.getDate()} ${t.toLocaleString("en", { month: "short" })} ${time}`;
}

/** The badge text: "incident: 3 lines, first 10:02, last 10:14". */
export function incidentLabel(incident) {
  return `incident: ${incident.lines} lines, first ${clockTime(incident.first)}, last ${clockTime(incident.last)}`;
}

/**
 * One incident's entry in the feed: an <li class="incident"> holding its lines (newest first) in an
 * <ol>; folded, only the newest line shows, with a badge button under it that unfolds the rest.
 */
export class IncidentEntry {
  constructor(key) {
    this.key = key;
    this.lines = h("ol", { class: "incident-lines" });
    this.toggle = h("button", {
      type: "button", class: "incident-toggle", "aria-expanded": "false",
      onclick: () => this.setOpen(!this.el.classList.contains("open")),
    });
    this.el = h("li", { class: "incident", dataset: { key } }, this.lines, this.toggle);
  }

  setOpen(open) {
    this.el.classList.toggle("open", open);
    this.toggle.setAttribute("aria-expanded", String(open));
  }

  /** Show `incident`'s numbers; `order` is the newest line's order key (where the entry sorts). */
  update(incident, order) {
    this.toggle.textContent = incidentLabel(incident);
    this.toggle.title = `${incident.count} occurrences from ${incident.first} to ${incident.last}`;
    this.el.dataset.order = JSON.stringify(order);
  }
}

/** `incident` after one of its lines changed from `before` to `after` (a repeat folded into it). */
export function recount(incident, before, after) {
  const last = lastSeen(after);
  return {
    ...incident,
    count: incident.count + (Number(after.count) || 1) - (Number(before.count) || 1),
    last: earlier(incident.last, last) === last ? incident.last : last,
  };
}
