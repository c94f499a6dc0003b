// A device's quiet hours, cap, digest and CRITICAL bypass in the Devices view: a collapsible editor
// under each device (open on this browser's own device) that reads and replaces the device's
// preference document through GET/PUT /v1/devices/{id}/preferences (docs/preferences.md). Filling and
// reading the fields is js/prefs-form.js, shared with the app users' preference page.
import { h, toast } from "./dom.js";
import { fillPrefs, readPrefsForm } from "./prefs-form.js";

function field(label, control) {
  return h("label", { class: "field" }, h("span", { text: label }), control);
}

function check(name, label) {
  return h("label", { class: "day" }, h("input", { type: "checkbox", name }), label);
}

function attentionFields() {
  return [
    h("fieldset", {},
      h("legend", { text: "Quiet hours" }),
      h("div", { class: "windows" }),
      field("Time zone", h("input", { name: "timezone", autocomplete: "off", placeholder: "Europe/Paris" })),
      field("During quiet hours", h("select", { name: "quiet_mode" },
        h("option", { value: "hold", text: "hold pushes, one summary when they end" }),
        h("option", { value: "feed", text: "feed only, no push" })))),
    h("fieldset", {},
      h("legend", { text: "How often" }),
      h("div", { class: "caps" }),
      check("digest_info", "Collect INFO events into a digest"),
      field("Digest", h("select", { name: "digest_every" },
        h("option", { value: "hour", text: "every hour" }), h("option", { value: "day", text: "once a day" }))),
      field("Daily digest at", h("input", { type: "time", name: "digest_at" })),
      check("critical_bypass", "CRITICAL ignores quiet hours and caps")),
    h("button", { type: "submit", class: "primary", text: "Save quiet hours and digests" }),
  ];
}

/** The editor for `device`: loads the document the first time it is opened. */
export function attentionEditor(api, device, { open = false } = {}) {
  const path = `/v1/devices/${encodeURIComponent(device.id)}/preferences`;
  const status = h("p", { class: "muted small", role: "status", text: "Loading…" });
  let current = null;
  const form = h("form", { class: "prefs-form attention-form", hidden: true, dataset: { capFor: "channel" }, onsubmit: async (e) => {
    e.preventDefault();
    // min_level and channels are the device row's, saved by the form above: not named here, not changed.
    const { min_level: _level, channels: _channels, ...doc } = readPrefsForm(form, current);
    try {
      current = (await api.put(path, doc)).preferences;
      fillPrefs(form, current);
      toast("Quiet hours and digests saved.");
    } catch (err) {
      toast(`Could not save: ${err.message}`, "error");
    }
  } }, attentionFields());
  const load = async () => {
    try {
      current = (await api.get(path)).preferences;
      fillPrefs(form, current);
      form.hidden = false;
      status.hidden = true;
    } catch (err) {
      status.textContent = `Could not load: ${err.message}`;
    }
  };
  const details = h("details", { class: "attention", open },
    h("summary", { text: "Quiet hours, cap, digest, CRITICAL bypass" }), status, form);
  let loading = null;
  const loadOnce = () => { loading = loading || load(); };
  details.addEventListener("toggle", () => { if (details.open) loadOnce(); });
  if (open) loadOnce();
  return details;
}
