// The Rules view (#/rules): every rule over the event stream (GET /v1/rules) with its kind, state and
// since when, alerting ones first, a form to add one (rule-form.js) and the device groups escalate
// rules push to (device-groups.js); #/rules/NAME adds the rule's history (GET /v1/rules/{name}): each
// state change with its time, what caused it and the event that caused or announced it, and the
// rule's form to change it, or remove it. docs/rules.md, docs/webapp.md#rules.

import { groupsSection } from "./device-groups.js";
import { formatPeriod } from "./heartbeats.js";
import { fullTime, h, relativeTime, replace, toast } from "./dom.js";
import { changeError, declaration, ruleForm } from "./rule-form.js";

/** States that mean "something is wrong": listed first, shown in the alert colour. */
const ALERTING = new Set(["missed", "firing"]);

/** Alerting rules first, then by name. */
export function sortRules(list) {
  const rank = (r) => (ALERTING.has(r.state) ? 0 : 1);
  return [...list].sort((a, b) => rank(a) - rank(b) || a.name.localeCompare(b.name));
}

/** One line on what a rule watches for: "every 1h (+5m)", "5 in 10m", "quiet 15m", "2 steps". */
export function ruleSummary(rule) {
  if (rule.kind === "expect") return `every ${formatPeriod(rule.every_s)}${rule.grace_s ? ` (+${formatPeriod(rule.grace_s)})` : ""}`;
  if (rule.kind === "threshold") return `${rule.count} in ${formatPeriod(rule.within_s)}`;
  if (rule.kind === "resolve") return `quiet ${formatPeriod(rule.quiet_s)}`;
  if (rule.kind === "escalate") {
    const steps = (rule.steps || []).length;
    return `${steps} step${steps === 1 ? "" : "s"}`;
  }
  return "";
}

function stateBadge(state, paused = false) {
  return [
    h("span", { class: `rule-state${ALERTING.has(state) ? " rule-state-alert" : ""}`, text: state }),
    paused ? h("span", { class: "rule-state rule-state-paused", text: "paused" }) : null,
  ];
}

function since(iso, now) {
  return h("span", { class: "muted small rule-since", title: fullTime(iso), text: `since ${relativeTime(iso, now)}` });
}

function row(rule, now) {
  return h("li", { class: "rule", dataset: { name: rule.name, state: rule.state } },
    h("a", { class: "rule-link", href: `#/rules/${encodeURIComponent(rule.name)}` },
      h("strong", { class: "rule-name", text: rule.name }),
      stateBadge(rule.state, rule.paused),
      since(rule.state_since, now)),
    h("div", { class: "muted small" },
      h("span", { class: "rule-kind", text: rule.kind }), ` · ${ruleSummary(rule)}`));
}

/** The device groups, for escalate rules' steps ([] if they cannot be read). */
async function loadGroups(api) {
  try {
    return (await api.get("/v1/device-groups")).groups || [];
  } catch (err) {
    toast(`Could not load the device groups: ${err.message}`, "error");
    return [];
  }
}

function openRule(rule) {
  toast(`Rule ${rule.name} saved.`);
  location.hash = `#/rules/${encodeURIComponent(rule.name)}`;
}

export async function showRules(main, api, now = Date.now()) {
  const view = h("section", { class: "view rules-view", id: "rules" }, h("p", { class: "muted", text: "Loading…" }));
  replace(main, view);
  try {
    const [listed, groups] = await Promise.all([api.get("/v1/rules"), loadGroups(api)]);
    const rules = sortRules(listed.rules || []);
    const alerting = rules.filter((r) => ALERTING.has(r.state)).length;
    const reload = () => showRules(main, api);
    replace(view,
      h("h2", { text: "Rules" }),
      h("p", { class: "muted", id: "rules-summary", text: rules.length
        ? `${rules.length} rule${rules.length === 1 ? "" : "s"}, ${alerting ? `${alerting} alerting` : "none alerting"}.`
        : "" }),
      rules.length
        ? h("ul", { class: "rules", id: "rule-list" }, rules.map((r) => row(r, now)))
        : h("p", { class: "empty", id: "rules-empty" },
          "No rules yet. Declare one with ", h("code", { text: "pushlog rules add" }), ", ",
          h("code", { text: "PUT /v1/rules/NAME" }), " or a rules file (", h("code", { text: "pushlog serve --rules rules.toml" }), "), or add one here."),
      h("details", { class: "rule new-rule", id: "new-rule" },
        h("summary", { text: "New rule" }),
        ruleForm(api, { groups, onSaved: openRule })),
      await groupsSection(api, groups, reload));
  } catch (err) {
    replace(view, h("p", { class: "form-error", role: "alert", text: `Could not load the rules: ${err.message}` }));
    toast(err.message, "error");
  }
}

function historyLine(entry, now) {
  const change = entry.previous ? `${entry.previous} → ${entry.state}` : entry.state;
  return h("li", { class: "rule-change", dataset: { state: entry.state } },
    h("time", { class: "rule-change-at", datetime: entry.at, title: fullTime(entry.at), text: relativeTime(entry.at, now) }),
    h("span", { class: "rule-change-state", text: change }),
    entry.detail ? h("span", { class: "muted rule-change-detail", text: entry.detail }) : null,
    entry.event_id ? h("a", { class: "rule-change-event", href: `#/events/${encodeURIComponent(entry.event_id)}`, text: "event" }) : null);
}

export async function showRule(main, api, name, now = Date.now()) {
  const back = h("a", { href: "#/rules", class: "back", text: "← Rules" });
  const view = h("section", { class: "view rule-view", id: "rule" }, back, h("p", { class: "muted", text: "Loading…" }));
  replace(main, view);
  try {
    const [rule, groups] = await Promise.all([api.get(`/v1/rules/${encodeURIComponent(name)}`), loadGroups(api)]);
    const history = rule.history || [];
    replace(view, back,
      h("div", { class: "rule-head" },
        h("h2", { class: "rule-name", text: rule.name }),
        stateBadge(rule.state, rule.paused),
        since(rule.state_since, now)),
      h("p", { class: "muted", id: "rule-summary" },
        h("span", { class: "rule-kind", text: rule.kind }), ` · ${ruleSummary(rule)} · declared by ${rule.source}`,
        rule.alert_event_id ? [" · ", h("a", { href: `#/events/${encodeURIComponent(rule.alert_event_id)}`, text: "open alert" })] : null),
      pauseButton(api, rule, () => showRule(main, api, name)),
      h("h3", { text: "History" }),
      history.length
        ? h("ol", { class: "rule-history", id: "rule-history" }, history.map((e) => historyLine(e, now)))
        : h("p", { class: "muted", text: "No changes recorded." }),
      h("details", { class: "rule edit-rule", id: "edit-rule" },
        h("summary", { text: "Change or remove this rule" }),
        rule.source === "file"
          ? h("p", { class: "muted small", text: "Declared by the hub's rules file: the hub's next start puts the file's version back." })
          : null,
        ruleForm(api, { rule, groups, onSaved: () => showRule(main, api, name) }),
        removeButton(api, rule.name)));
  } catch (err) {
    const message = err.status === 404 ? `There is no rule named “${name}”.` : `Could not load the rule: ${err.message}`;
    replace(view, back, h("p", { class: "form-error", role: "alert", text: message }));
    if (err.status !== 404) toast(err.message, "error");
  }
}

/** Pause (not evaluated, kept with its state) or resume: the same declaration with `paused` toggled. */
function pauseButton(api, rule, onChanged) {
  const error = h("p", { class: "form-error", id: "rule-pause-error", role: "alert", hidden: true });
  const button = h("button", { type: "button", id: "rule-pause", text: rule.paused ? "Resume rule" : "Pause rule",
    onclick: async () => {
      const body = { ...declaration(rule) };
      if (rule.paused) delete body.paused;
      else body.paused = true;
      button.disabled = true;
      try {
        await api.put(`/v1/rules/${encodeURIComponent(rule.name)}`, body);
        toast(`Rule ${rule.name} ${rule.paused ? "resumed" : "paused"}.`);
        onChanged();
      } catch (err) {
        replace(error, changeError(err));
        error.hidden = false;
        button.disabled = false;
      }
    } });
  return h("div", { class: "rule-remove rule-pause" }, button, error);
}

/** "Remove rule…" asks once more in place, then DELETE /v1/rules/{name} and back to the list. */
function removeButton(api, name) {
  const error = h("p", { class: "form-error", id: "rule-remove-error", role: "alert", hidden: true });
  const confirm = h("button", { type: "button", class: "danger", id: "rule-remove-confirm", hidden: true,
    text: `Remove “${name}” and its history`, onclick: async () => {
      try {
        await api.delete(`/v1/rules/${encodeURIComponent(name)}`);
        toast(`Rule ${name} removed.`);
        location.hash = "#/rules";
      } catch (err) {
        replace(error, changeError(err));
        error.hidden = false;
      }
    } });
  const ask = h("button", { type: "button", id: "rule-remove", text: "Remove rule…", onclick: () => {
    ask.hidden = true;
    confirm.hidden = false;
  } });
  return h("div", { class: "rule-remove" }, ask, confirm, error);
}
