// Small DOM and formatting helpers shared by the views. Everything that shows data from the hub goes
// through h(), which sets text with textContent: event titles, bodies and metadata are never parsed as HTML.

/**
 * Create an element. `attrs` keys: "class", "text", "on<event>" (listener), "dataset" (object),
 * anything else becomes an attribute (false/null/undefined are skipped). Children may be strings,
 * nodes, arrays or null.
 */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (key === "class") el.className = value;
    else if (key === "text") el.textContent = String(value);
    else if (key === "dataset") Object.assign(el.dataset, value);
    else if (key.startsWith("on") && typeof value === "function") el.addEventListener(key.slice(2), value);
    else el.setAttribute(key, value === true ? "" : String(value));
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    if (Array.isArray(child)) append(el, child);
    else el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

/** An SVG element (charts). */
export function svg(tag, attrs = {}, ...children) {
  const el = document.createElementNS("http://www.w3.org/2000/svg", tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === null || value === undefined) continue;
    if (key === "text") el.textContent = String(value);
    else el.setAttribute(key, String(value));
  }
  for (const child of children.flat()) if (child) el.append(child);
  return el;
}

/** Replace all children of `el`. */
export function replace(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

export const LEVELS = ["debug", "info", "warning", "error", "critical"];
const LEVEL_BY_NUMBER = { 10: "debug", 20: "info", 30: "warning", 40: "error", 50: "critical" };

/** The hub sends level names; accept numbers too (custom levels map down, as in pushlog._levels). */
export function levelName(level) {
  if (typeof level === "string") {
    const name = level.toLowerCase();
    if (LEVELS.includes(name)) return name;
    if (/^\d+$/.test(name)) return levelName(Number(name));
    return name === "fatal" ? "critical" : name === "warn" ? "warning" : "info";
  }
  if (typeof level === "number") {
    const floor = Math.max(10, Math.min(50, Math.floor(level / 10) * 10));
    return LEVEL_BY_NUMBER[floor];
  }
  return "info";
}

export function levelRank(level) {
  return LEVELS.indexOf(levelName(level));
}

/** "3 min ago", "yesterday 14:02", a date for older ones. `now` is injectable for tests. */
export function relativeTime(iso, now = Date.now()) {
  const t = Date.parse(iso);
  if (Number.isNaN(t)) return "";
  const s = Math.round((now - t) / 1000);
  if (s < 45) return "just now";
  if (s < 3600) return `${Math.round(s / 60)} min ago`;
  if (s < 86400) return `${Math.round(s / 3600)} h ago`;
  return new Date(t).toLocaleString();
}

export function fullTime(iso) {
  const t = Date.parse(iso);
  return Number.isNaN(t) ? String(iso ?? "") : new Date(t).toLocaleString();
}

/** Only http(s) links become clickable: a javascript: link in an event must not run. */
export function safeUrl(url) {
  if (typeof url !== "string") return null;
  try {
    const u = new URL(url, location.href);
    return u.protocol === "https:" || u.protocol === "http:" ? u.href : null;
  } catch {
    return null;
  }
}

export function formatValue(value) {
  if (value === null) return "null";
  if (typeof value === "object") return JSON.stringify(value);
  return String(value);
}

/** A transient message at the bottom of the screen (errors and confirmations). */
export function toast(message, kind = "info") {
  const box = document.getElementById("toasts");
  if (!box) return;
  const el = h("div", { class: `toast toast-${kind}`, role: kind === "error" ? "alert" : "status", text: message });
  box.append(el);
  setTimeout(() => el.remove(), kind === "error" ? 8000 : 4000);
}

/** "resolved after 14 min" for a resolved alert, null otherwise (the hub's format_span: seconds
 * below 2 min, minutes below 2 h, hours below 3 d, then days; docs/rules.md). */
export function resolvedNote(event) {
  if (!event || !event.resolved_at) return null;
  const after = event.resolved_after_s;
  if (after === null || after === undefined) return "resolved";
  const s = Math.max(0, Number(after));
  const span = s < 120 ? `${Math.round(s)} s` : s < 7200 ? `${Math.round(s / 60)} min`
    : s < 3 * 86400 ? `${Math.round(s / 3600)} h` : `${Math.round(s / 86400)} d`;
  return `resolved after ${span}`;
}
