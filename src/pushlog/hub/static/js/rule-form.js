// The form that declares a rule from the Rules view (PUT /v1/rules/{name}, docs/rules.md): the fields
// every rule has (name, kind, which events) and those of the chosen kind, shown one kind at a time;
// the hub checks the declaration and its message is shown in the form, next to the save button.
// Changing rules needs an admin key; the web app usually holds a read key, so a 403 says so in place.

import { parseMeta } from "./api.js";
import { h, LEVELS, replace } from "./dom.js";

export const ADMIN_NEEDED = "Changing rules needs an admin key: sign in with one.";

/** What to show when the hub refuses a change: the admin-key sentence for a 403, else its message. */
export function changeError(err) {
  return err && err.status === 403 ? ADMIN_NEEDED : String((err && err.message) || err);
}

export const KINDS = ["expect", "threshold", "resolve", "escalate"];
const KIND_TEXT = {
  expect: "expect (a line at least every …)",
  threshold: "threshold (N lines within …)",
  resolve: "resolve (after quiet time)",
  escalate: "escalate (to device groups)",
};
/** The kind-specific fields, by kind (the hub refuses a field a kind does not use). */
const KIND_FIELDS = {
  expect: ["every", "grace", "level", "title"],
  threshold: ["count", "within", "level", "title"],
  resolve: ["quiet"],
  escalate: ["steps"],
};
const MATCH_FIELDS = ["channel", "text", "fingerprint", "tag"];

/** The declaration `rule` (as GET /v1/rules gives it) was made with, as PUT takes it again. */
export function declaration(rule) {
  const body = { kind: rule.kind, match: rule.match || {} };
  const seconds = { every: rule.every_s, grace: rule.grace_s, within: rule.within_s, quiet: rule.quiet_s };
  for (const name of KIND_FIELDS[rule.kind]) {
    const value = name === "steps" ? (rule.steps || []).map((s) => ({ after: s.after_s, group: s.group }))
      : name in seconds ? seconds[name] : rule[name];
    if (value !== null && value !== undefined) body[name] = value;
  }
  if (rule.paused) body.paused = true;
  return body;
}

/** Seconds as a duration the hub reads back exactly: 5400 -> "1h30m", 90 -> "1m30s". */
export function durationText(seconds) {
  if (seconds === null || seconds === undefined) return "";
  let rest = Number(seconds);
  const parts = [];
  for (const [unit, size] of [["d", 86400], ["h", 3600], ["m", 60]]) {
    if (rest >= size) {
      parts.push(`${Math.floor(rest / size)}${unit}`);
      rest %= size;
    }
  }
  if (rest > 0 || !parts.length) parts.push(`${Math.round(rest * 1000) / 1000}s`);
  return parts.join("");
}

function field(label, control, { kinds = null, hint = "" } = {}) {
  return h("label", { class: "field", dataset: kinds ? { kinds: kinds.join(" ") } : {} },
    h("span", { text: label }), control, hint ? h("small", { class: "muted", text: hint }) : null);
}

function input(name, attrs = {}) {
  return h("input", { name, autocomplete: "off", spellcheck: "false", ...attrs });
}

function levelSelect(name, first) {
  return h("select", { name }, h("option", { value: "", text: first }), LEVELS.map((l) => h("option", { value: l, text: l })));
}

function stepRow(groups, step = {}) {
  const select = h("select", { name: "step_group", "aria-label": "device group" },
    groups.map((g) => h("option", { value: g.name, text: g.name })));
  if (step.group && !groups.some((g) => g.name === step.group)) {
    select.append(h("option", { value: step.group, text: `${step.group} (no such group)` }));
  }
  if (step.group) select.value = step.group;
  const row = h("li", { class: "rule-step" },
    h("span", { class: "muted", text: "after" }),
    input("step_after", { placeholder: "10m", "aria-label": "after", value: durationText(step.after_s) }),
    h("span", { class: "muted", text: "to" }), select,
    h("button", { type: "button", class: "rule-step-remove", "aria-label": "remove step", text: "×", onclick: () => row.remove() }));
  return row;
}

/**
 * The form for a new rule (`rule` null) or for changing `rule` (its name stays). `groups` are the
 * device groups (GET /v1/device-groups) an escalate rule's steps choose from; `onSaved(rule)` runs
 * with the hub's answer.
 */
export function ruleForm(api, { rule = null, groups = [], onSaved = () => {} } = {}) {
  const error = h("p", { class: "form-error", id: "rule-form-error", role: "alert", hidden: true });
  const kind = h("select", { name: "kind" }, KINDS.map((k) => h("option", { value: k, text: KIND_TEXT[k] })));
  const steps = h("ol", { class: "rule-steps" });
  const addStep = h("button", { type: "button", id: "rule-add-step", text: "Add a step",
    onclick: () => steps.append(stepRow(groups)) });
  const form = h("form", { class: "prefs-form rule-form", id: "rule-form", novalidate: true },
    h("fieldset", {},
      h("legend", { text: "Rule" }),
      field("Name", input("name", { required: true, maxlength: 128, placeholder: "nightly backup", readonly: Boolean(rule) })),
      field("Kind", kind)),
    h("fieldset", {},
      h("legend", { text: "Which events (all given must hold)" }),
      field("Channel", input("channel", { placeholder: "any" })),
      field("Text in the title or body", input("text", { placeholder: "any" })),
      field("Lowest level", levelSelect("min_level", "any")),
      field("Fingerprint", input("fingerprint", { placeholder: "any" })),
      field("Tag", input("tag", { placeholder: "any" })),
      field("Metadata", input("meta", { placeholder: "job=backup" }), { hint: "key=value pairs, all must hold" })),
    h("fieldset", { class: "rule-kind-fields" },
      h("legend", { text: "When" }),
      field("At least every", input("every", { placeholder: "1d" }), { kinds: ["expect"] }),
      field("Grace", input("grace", { placeholder: "every/10, at least 1m" }), { kinds: ["expect"] }),
      field("Count", input("count", { type: "number", min: 2, placeholder: "20" }), { kinds: ["threshold"] }),
      field("Within", input("within", { placeholder: "5m" }), { kinds: ["threshold"] }),
      field("Resolve alerts quiet for", input("quiet", { placeholder: "15m" }), { kinds: ["resolve"] }),
      field("Push at level", levelSelect("level", "error (default)"), { kinds: ["expect", "threshold"] }),
      field("Push text", input("title", { placeholder: "the rule's name" }), { kinds: ["expect", "threshold"] }),
      h("div", { class: "field", dataset: { kinds: "escalate" } },
        h("span", { text: "Steps (unacknowledged after …, push to a device group)" }),
        steps, groups.length ? null : h("small", { class: "muted", text: "Make a device group below first." }),
        addStep)),
    error,
    h("div", { class: "rule-form-buttons" },
      h("button", { type: "submit", class: "primary", id: "rule-save", text: rule ? "Save changes" : "Add rule" })));

  const showKind = () => {
    for (const el of form.querySelectorAll("[data-kinds]")) el.hidden = !el.dataset.kinds.split(" ").includes(kind.value);
    if (kind.value === "escalate" && !steps.children.length) steps.append(stepRow(groups));
  };
  kind.addEventListener("change", showKind);
  if (rule) fill(form, rule, groups, steps);
  showKind();

  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    error.hidden = true;
    const name = form.elements.name.value.trim();
    let body;
    try {
      if (!name) throw new Error("name: give the rule a name.");
      body = readRuleForm(form);
      if (rule && rule.paused) body.paused = true; // changing a paused rule leaves it paused
    } catch (err) {
      replace(error, err.message);
      error.hidden = false;
      return;
    }
    const button = form.querySelector("#rule-save");
    button.disabled = true;
    try {
      onSaved(await api.put(`/v1/rules/${encodeURIComponent(name)}`, body));
    } catch (err) {
      replace(error, changeError(err));
      error.hidden = false;
    } finally {
      button.disabled = false;
    }
  });
  return form;
}

function fill(form, rule, groups, steps) {
  const el = form.elements;
  el.name.value = rule.name;
  el.kind.value = rule.kind;
  const match = rule.match || {};
  for (const name of MATCH_FIELDS) el[name].value = match[name] || "";
  el.min_level.value = match.level || "";
  el.meta.value = Object.entries(match.meta || {}).map(([k, v]) => `${k}=${v}`).join(" ");
  el.every.value = durationText(rule.every_s);
  el.grace.value = durationText(rule.grace_s);
  el.count.value = rule.count ?? "";
  el.within.value = durationText(rule.within_s);
  el.quiet.value = durationText(rule.quiet_s);
  el.level.value = rule.kind === "expect" || rule.kind === "threshold" ? rule.level || "" : "";
  el.title.value = rule.title || "";
  for (const step of rule.steps || []) steps.append(stepRow(groups, step));
}

/** The declaration the form describes, as PUT /v1/rules/{name} takes it: only what is filled in. */
export function readRuleForm(form) {
  const el = form.elements;
  const kind = el.kind.value;
  const match = {};
  for (const name of MATCH_FIELDS) if (el[name].value.trim()) match[name] = el[name].value.trim();
  if (el.min_level.value) match.level = el.min_level.value;
  const meta = parseMeta(el.meta.value);
  if (meta.length) match.meta = Object.fromEntries(meta);
  const body = { kind, match };
  for (const name of KIND_FIELDS[kind]) {
    if (name === "steps") {
      body.steps = [...form.querySelectorAll(".rule-step")].map((row) => ({
        after: row.querySelector("[name=step_after]").value.trim(),
        group: row.querySelector("[name=step_group]").value,
      }));
      continue;
    }
    const value = el[name].value.trim();
    if (value) body[name] = name === "count" ? Number(value) : value;
  }
  return body;
}
