// The preference page an app links its users to (docs/preferences.md): the signed token arrives in
// the URL fragment (never sent to a server in a Referer or a log line) and authorises GET/PUT
// /v1/link/preferences for that one user. No API key, no sign-in.
import { fillPrefs, readPrefsForm } from "./prefs-form.js";

const MODES = { push: "notify me", digest: "in the digest", off: "never" };
const token = new URLSearchParams(location.hash.replace(/^#/, "")).get("token") || "";
const status = document.getElementById("status");
const form = document.getElementById("prefs");
let current = null;

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === "text") node.textContent = v;
    else if (v === true) node.setAttribute(k, "");
    else if (v !== false && v != null) node.setAttribute(k, v);
  }
  node.append(...children);
  return node;
}

async function call(method, body) {
  const response = await fetch("v1/link/preferences", {
    method,
    headers: { "X-Pushlog-Link": token, ...(body ? { "Content-Type": "application/json" } : {}) },
    body: body ? JSON.stringify(body) : undefined,
  });
  const data = await response.json().catch(() => ({}));
  if (!response.ok) throw new Error((data.error && data.error.message) || `HTTP ${response.status}`);
  return data;
}

function show(prefs, categories) {
  fillPrefs(form, prefs);
  const names = Object.keys(categories);
  document.getElementById("categories-set").hidden = names.length === 0;
  document.getElementById("categories").replaceChildren(...names.map((name) => {
    const chosen = prefs.categories[name] || categories[name].default;
    const select = el("select", { name: `category:${name}`, "data-category": name },
      ...Object.entries(MODES).map(([v, t]) => el("option", { value: v, text: t, selected: v === chosen })));
    return el("label", {}, categories[name].description || name, " ", select);
  }));
}

function collect() {
  const doc = readPrefsForm(form, current);
  for (const select of form.querySelectorAll("select[data-category]")) doc.categories[select.dataset.category] = select.value;
  return doc;
}

async function load() {
  if (!token) { status.textContent = "This link is incomplete: open it again from the app."; return; }
  try {
    const data = await call("GET");
    current = data.user.preferences;
    show(current, data.categories);
    form.hidden = false;
    status.textContent = "";
  } catch (error) {
    status.textContent = error.message;
  }
}

form.addEventListener("submit", async (event) => {
  event.preventDefault();
  try {
    current = (await call("PUT", collect())).preferences;
    status.textContent = "Saved.";
  } catch (error) {
    status.textContent = error.message;
  }
});

load();
