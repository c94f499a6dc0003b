// The composer (#/notifications/new): a notification to an app's users, as POST /v1/notifications
// takes it (docs/notifications.md). Who: a saved segment, a filter typed in the filter language, or
// user ids, with the number of users and devices it reaches and a sample (POST
// /v1/audiences/preview, asked again PREVIEW_DELAY_MS after the last change; the hub's parse error is
// shown under the filter). What: a template, previewed as a sample user would get it (POST
// /v1/templates/{name}/preview), or literal title and body; level, category (the app's categories
// offered, GET /v1/categories), link. When: now, at a time, or at HH:MM in each recipient's time
// zone on a date. Sending goes back to the list (js/notifications.js).

import { h, LEVELS, replace, toast } from "./dom.js";
import { withUsersKey } from "./notifications.js";

/** How long the composer waits after the last keystroke before asking the hub again. */
export const PREVIEW_DELAY_MS = 350;

function pad(n) {
  return String(n).padStart(2, "0");
}

/** The day after `now` in this browser's time zone, as YYYY-MM-DD. */
export function tomorrow(now = new Date()) {
  const d = new Date(now.getTime());
  d.setDate(d.getDate() + 1);
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}`;
}

/** "42, 43 anna" -> ["42", "43", "anna"]. */
export function parseUserIds(text) {
  return text.split(/[\s,]+/).filter(Boolean);
}

/** The audience part of a request from the picker's values; null when nothing is chosen yet. */
export function audienceOf({ kind, segment, filter, users }) {
  if (kind === "segment") return segment ? { segment } : null;
  if (kind === "filter") return filter.trim() ? { filter: filter.trim() } : null;
  const ids = parseUserIds(users);
  return ids.length ? { users: ids } : null;
}

/** `data` from the text field: empty -> null; anything but a JSON object throws a readable Error. */
export function parseData(text) {
  if (!text.trim()) return null;
  let value;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw new Error(`Data must be a JSON object: ${err.message}`);
  }
  if (value === null || typeof value !== "object" || Array.isArray(value)) throw new Error("Data must be a JSON object, like {\"count\": 3}.");
  return value;
}

/** The schedule part of a request: null (now), {at}, or {local_time, date, timezone}. */
export function scheduleOf({ when, at, localTime, date, timezone }) {
  if (when === "at") {
    const t = new Date(at); // a datetime-local value is this browser's local time
    if (!at || Number.isNaN(t.getTime())) throw new Error("Choose the date and time to send at.");
    return { at: t.toISOString() };
  }
  if (when === "local") {
    if (!localTime || !date) throw new Error("Choose the local time and the date.");
    return { local_time: localTime, date, ...(timezone.trim() ? { timezone: timezone.trim() } : {}) };
  }
  return null;
}

function field(label, input, hint = null) {
  return h("label", { class: "field" }, h("span", { text: label }), input, hint ? h("span", { class: "hint", text: hint }) : null);
}

function choice(name, value, label, checked) {
  return h("label", { class: "choice" },
    h("input", { type: "radio", name, value, checked, id: `${name}-${value}` }), h("span", { text: label }));
}

function checkedValue(form, name) {
  return form.querySelector(`input[name="${name}"]:checked`)?.value;
}

/** Run `fn` `ms` after the last call; each call supersedes the previous one. */
function debounce(fn, ms) {
  let timer = null;
  return () => {
    clearTimeout(timer);
    timer = setTimeout(fn, ms);
  };
}

export function showComposer(main, signInApi) {
  const view = h("section", { class: "view composer-view", id: "composer" });
  replace(main, view);
  withUsersKey(view, signInApi, (api) => mountComposer(view, api));
}

async function mountComposer(view, api) {
  replace(view, h("p", { class: "muted", text: "Loading…" }));
  let segments = [];
  let templates = [];
  let categories = {};
  try {
    [segments, templates, categories] = await Promise.all([
      api.get("/v1/segments").then((a) => a.segments || []),
      api.get("/v1/templates").then((a) => a.templates || []),
      api.get("/v1/categories").then((a) => a.categories || {}),
    ]);
  } catch (err) {
    replace(view, h("p", { class: "form-error", role: "alert", text: `Could not load segments and templates: ${err.message}` }));
    return;
  }
  const back = h("a", { href: "#/notifications", class: "back", text: "← Notifications" });

  // Who
  const segmentSelect = h("select", { id: "audience-segment" },
    segments.map((s) => h("option", { value: s.name, text: s.name })));
  const segmentFilter = h("p", { class: "muted small", id: "audience-segment-filter" });
  const filterInput = h("textarea", { id: "audience-filter", rows: 2, spellcheck: "false", placeholder: 'plan = "pro" and last_seen within 30d' });
  const usersInput = h("input", { id: "audience-users", type: "text", spellcheck: "false", placeholder: "42, 43, 57" });
  const audienceError = h("p", { class: "form-error", id: "audience-error", role: "alert", hidden: true });
  const reach = h("p", { class: "reach", id: "audience-count", "aria-live": "polite" });
  const parts = {
    segment: h("div", { class: "audience-part" }, segments.length
      ? [field("Segment", segmentSelect), segmentFilter]
      : h("p", { class: "muted small", text: "No saved segments yet (PUT /v1/segments/NAME)." })),
    filter: h("div", { class: "audience-part" }, field("Filter", filterInput, "The filter language of docs/notifications.md.")),
    users: h("div", { class: "audience-part" }, field("User ids", usersInput, "Separated by commas or spaces.")),
  };
  const startKind = segments.length ? "segment" : "filter";

  // What
  const templateSelect = h("select", { id: "template" }, templates.map((t) => h("option", { value: t.name, text: t.name })));
  const dataInput = h("textarea", { id: "data", rows: 2, spellcheck: "false", placeholder: '{"count": 3}' });
  const userSelect = h("select", { id: "preview-user" });
  const previewBox = h("div", { class: "preview", id: "template-preview", "aria-live": "polite" });
  const titleInput = h("input", { id: "title", type: "text", maxlength: 200 });
  const bodyInput = h("textarea", { id: "body", rows: 3 });
  const content = {
    template: h("div", { class: "content-part" }, templates.length
      ? [field("Template", templateSelect), field("Data (JSON object)", dataInput, "What the template reads as data, e.g. {{ data.count }}."), field("Preview for", userSelect), previewBox]
      : h("p", { class: "muted small", text: "No templates yet (PUT /v1/templates/NAME)." })),
    text: h("div", { class: "content-part" }, field("Title", titleInput), field("Body", bodyInput)),
  };

  // Options
  const levelSelect = h("select", { id: "level" }, LEVELS.map((l) => h("option", { value: l, text: l, selected: l === "info" })));
  const categoryInput = h("input", { id: "category", type: "text", placeholder: "news", list: "category-names" });
  const categoryNames = h("datalist", { id: "category-names" }, Object.entries(categories).map(([name, c]) =>
    h("option", { value: name, label: c.description || null })));
  const linkInput = h("input", { id: "link", type: "text", placeholder: "https://… or myapp://…" });

  // When
  const zone = Intl.DateTimeFormat().resolvedOptions().timeZone || "";
  const atInput = h("input", { id: "schedule-at", type: "datetime-local" });
  const timeInput = h("input", { id: "schedule-time", type: "time", value: "09:00" });
  const dateInput = h("input", { id: "schedule-date", type: "date", value: tomorrow() });
  const zoneInput = h("input", { id: "schedule-zone", type: "text", value: zone, spellcheck: "false" });
  const whenParts = {
    now: h("div", { class: "when-part" }),
    at: h("div", { class: "when-part" }, field("Send at (this browser's time)", atInput)),
    local: h("div", { class: "when-part when-local" },
      field("Local time", timeInput), field("On", dateInput),
      field("Time zone of recipients without one", zoneInput),
      h("p", { class: "muted small", text: "Each recipient gets it at this time in their own time zone; one whose time has passed when it goes out gets it at the same time the next day." })),
  };

  const sendError = h("p", { class: "form-error", id: "send-error", role: "alert", hidden: true });
  const sendButton = h("button", { type: "submit", class: "primary", id: "send", text: "Send now" });
  const idempotencyKey = `webapp-${Date.now().toString(36)}-${Math.random().toString(36).slice(2)}`; // a double press sends once

  const form = h("form", { class: "composer", id: "composer-form" },
    h("fieldset", { id: "audience" }, h("legend", { text: "Who" }),
      h("div", { class: "choices" },
        choice("audience-kind", "segment", "Segment", startKind === "segment"),
        choice("audience-kind", "filter", "Filter", startKind === "filter"),
        choice("audience-kind", "users", "User ids", false)),
      Object.values(parts), audienceError, reach),
    h("fieldset", { id: "content" }, h("legend", { text: "What" }),
      h("div", { class: "choices" },
        choice("content-kind", "template", "Template", templates.length > 0),
        choice("content-kind", "text", "Text", templates.length === 0)),
      Object.values(content),
      h("div", { class: "options" }, field("Level", levelSelect), field("Category", [categoryInput, categoryNames]), field("Link", linkInput))),
    h("fieldset", { id: "when" }, h("legend", { text: "When" }),
      h("div", { class: "choices" },
        choice("when", "now", "Now", true),
        choice("when", "at", "At a time", false),
        choice("when", "local", "Local time", false)),
      Object.values(whenParts)),
    sendButton, sendError);

  const current = () => ({
    audienceKind: checkedValue(form, "audience-kind"),
    contentKind: checkedValue(form, "content-kind"),
    when: checkedValue(form, "when"),
  });

  const showParts = () => {
    const { audienceKind, contentKind, when } = current();
    for (const [kind, el] of Object.entries(parts)) el.hidden = kind !== audienceKind;
    for (const [kind, el] of Object.entries(content)) el.hidden = kind !== contentKind;
    for (const [kind, el] of Object.entries(whenParts)) el.hidden = kind !== when;
    sendButton.textContent = when === "now" ? "Send now" : "Schedule";
    const segment = segments.find((s) => s.name === segmentSelect.value);
    segmentFilter.textContent = segment ? segment.filter : "";
  };

  const audience = () => audienceOf({
    kind: current().audienceKind, segment: segmentSelect.value, filter: filterInput.value, users: usersInput.value,
  });

  // The live count: only the newest answer is shown.
  let reachAsked = 0;
  const updateReach = async () => {
    const asked = ++reachAsked;
    const who = audience();
    if (!who) {
      reach.textContent = "";
      audienceError.hidden = true;
      fillUsers([]);
      return;
    }
    try {
      const answer = await api.post("/v1/audiences/preview", { ...who, sample: 5 });
      if (asked !== reachAsked) return;
      audienceError.hidden = true;
      reach.textContent = `Reaches ${answer.users} user${answer.users === 1 ? "" : "s"} on ${answer.devices} device${answer.devices === 1 ? "" : "s"}`
        + (answer.sample.length ? ` (e.g. ${answer.sample.join(", ")}).` : ".");
      fillUsers(answer.sample);
    } catch (err) {
      if (asked !== reachAsked) return;
      reach.textContent = "";
      audienceError.textContent = err.message;
      audienceError.hidden = false;
    }
  };

  // The sample users the template preview can render for: the audience's sample.
  const fillUsers = (sample) => {
    const chosen = userSelect.value;
    const ids = sample.length ? sample : [];
    replace(userSelect,
      ids.map((id) => h("option", { value: id, text: id })),
      h("option", { value: "", text: "no user (empty attributes)" }));
    userSelect.value = ids.includes(chosen) ? chosen : ids[0] || "";
    updatePreview();
  };

  let previewAsked = 0;
  const updatePreview = async () => {
    const asked = ++previewAsked;
    if (current().contentKind !== "template" || !templateSelect.value) return;
    let data;
    try {
      data = parseData(dataInput.value);
    } catch (err) {
      replace(previewBox, h("p", { class: "form-error", id: "template-error", text: err.message }));
      return;
    }
    const body = { ...(userSelect.value ? { user_id: userSelect.value } : {}), ...(data ? { data } : {}) };
    try {
      const out = await api.post(`/v1/templates/${encodeURIComponent(templateSelect.value)}/preview`, body);
      if (asked !== previewAsked) return;
      replace(previewBox,
        h("p", { class: "muted small", text: `As ${userSelect.value || "a user without attributes"} gets it (${out.locale}):` }),
        h("div", { class: "preview-card" },
          h("strong", { class: "preview-title", text: out.title }),
          out.body ? h("span", { class: "preview-body", text: out.body }) : null,
          out.link ? h("span", { class: "muted small preview-link", text: out.link }) : null));
    } catch (err) {
      if (asked !== previewAsked) return;
      replace(previewBox, h("p", { class: "form-error", id: "template-error", text: err.message }));
    }
  };

  const later = debounce(updateReach, PREVIEW_DELAY_MS);
  const laterPreview = debounce(updatePreview, PREVIEW_DELAY_MS);
  form.addEventListener("change", (e) => {
    showParts();
    if (e.target.name === "audience-kind" || e.target === segmentSelect) updateReach();
    if (e.target.name === "content-kind" || e.target === templateSelect || e.target === userSelect) updatePreview();
  });
  filterInput.addEventListener("input", later);
  usersInput.addEventListener("input", later);
  dataInput.addEventListener("input", laterPreview);

  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    sendError.hidden = true;
    const { contentKind, when } = current();
    const request = { idempotency_key: idempotencyKey, level: levelSelect.value };
    try {
      const who = audience();
      if (!who) throw new Error("Choose who gets it.");
      request.audience = who;
      if (contentKind === "template") {
        if (!templateSelect.value) throw new Error("Choose a template, or write the text.");
        request.template = templateSelect.value;
        const data = parseData(dataInput.value);
        if (data) request.data = data;
      } else {
        if (!titleInput.value.trim()) throw new Error("Write a title.");
        request.title = titleInput.value.trim();
        if (bodyInput.value.trim()) request.body = bodyInput.value.trim();
      }
      if (categoryInput.value.trim()) request.category = categoryInput.value.trim();
      if (linkInput.value.trim()) request.link = linkInput.value.trim();
      const schedule = scheduleOf({ when, at: atInput.value, localTime: timeInput.value, date: dateInput.value, timezone: zoneInput.value });
      if (schedule) request.schedule = schedule;
    } catch (err) {
      sendError.textContent = err.message;
      sendError.hidden = false;
      return;
    }
    sendButton.disabled = true;
    try {
      const made = await api.post("/v1/notifications", request);
      toast(when === "now" ? `Notification ${made.id} is being sent.` : `Notification ${made.id} is scheduled.`);
      location.hash = "#/notifications";
    } catch (err) {
      sendError.textContent = err.message;
      sendError.hidden = false;
      sendButton.disabled = false;
    }
  });

  replace(view, back, h("h2", { text: "New notification" }), form);
  showParts();
  updateReach();
  if (current().contentKind === "template") updatePreview();
}
