// The preference document's fields in a <form> (docs/preferences.md): filled from a document and read
// back into one. Shared by the preference page an app user opens (js/preferences.js) and the web app's
// per-device editor (js/attention.js); each builds its own markup with the same field names and two
// empty containers this module fills: `.windows` (every quiet-hours window, one row each) and `.caps`
// (every frequency cap, one row each), each with its "add" button. Optional fields (critical_bypass,
// digest_info) are handled when the form has them. A cap's "for" is a channel on a team device and a
// category on an app user's document (the form's `data-cap-for` names it).
export const DAYS = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];

/** The browser's IANA zone, the default when nobody chose one. */
export function browserZone() {
  return Intl.DateTimeFormat().resolvedOptions().timeZone || "UTC";
}

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  Object.assign(node, attrs);
  node.append(...children);
  return node;
}

function labelled(text, control) {
  return el("label", { className: "field" }, el("span", { textContent: text }), control);
}

function removeButton(what) {
  return el("button", {
    type: "button", className: "quiet remove-row", textContent: `Remove ${what}`,
    onclick: (e) => e.target.closest(".pref-row").remove(),
  });
}

function dayBox(day, checked) {
  return el("label", { className: "day" }, el("input", { type: "checkbox", name: "day", value: day, checked }), day);
}

function windowRow(window = { start: "", end: "", days: DAYS }) {
  return el("div", { className: "pref-row window" },
    labelled("From", el("input", { type: "time", name: "quiet_start", value: window.start })),
    labelled("Until", el("input", { type: "time", name: "quiet_end", value: window.end })),
    el("div", { className: "days" }, ...DAYS.map((d) => dayBox(d, window.days.includes(d)))),
    removeButton("this window"));
}

function capRow(capFor, cap = { max: "", per: "hour", category: null }) {
  const per = el("select", { name: "cap_per" },
    el("option", { value: "hour", textContent: "hour" }), el("option", { value: "day", textContent: "day" }));
  per.value = cap.per;
  return el("div", { className: "pref-row cap-row" },
    labelled("At most (pushes)", el("input", { type: "number", name: "cap", min: 1, max: 10000, placeholder: "no limit", value: cap.max })),
    labelled("per", per),
    labelled(`For ${capFor}`, el("input", { name: "cap_for", autocomplete: "off", placeholder: "all", value: cap.category || "" })),
    removeButton("this cap"));
}

/** Fill `box` with `rows` (at least one, empty when there is nothing) and a button adding another. */
function rowsWithAdd(box, rows, makeRow, what) {
  const add = el("button", { type: "button", className: "add-row", textContent: `Add ${what}` });
  add.onclick = () => add.before(makeRow());
  box.replaceChildren(...(rows.length ? rows : [makeRow()]), add);
}

/** Show `prefs` (a PreferenceDocument) in `form`. */
export function fillPrefs(form, prefs) {
  const capFor = form.dataset.capFor || "category";
  rowsWithAdd(form.querySelector(".windows"), prefs.quiet_hours.map((w) => windowRow(w)), () => windowRow(), "a quiet window");
  rowsWithAdd(form.querySelector(".caps"), prefs.caps.map((c) => capRow(capFor, c)), () => capRow(capFor), "a cap");
  form.quiet_mode.value = prefs.quiet_mode;
  form.timezone.value = prefs.timezone || browserZone();
  form.digest_every.value = prefs.digest.every;
  form.digest_at.value = prefs.digest.at;
  if (form.critical_bypass) form.critical_bypass.checked = prefs.critical_bypass;
  if (form.digest_info) form.digest_info.checked = prefs.digest_info;
}

/** `current` with what `form` shows: every complete quiet window and every cap with a number, the
 * mode, zone, digest and switches. A window without a start, an end or a day is left out. */
export function readPrefsForm(form, current) {
  const doc = structuredClone(current);
  doc.quiet_hours = [...form.querySelectorAll(".window")]
    .map((row) => ({
      start: row.querySelector("[name=quiet_start]").value,
      end: row.querySelector("[name=quiet_end]").value,
      days: [...row.querySelectorAll("input[name=day]:checked")].map((i) => i.value),
    }))
    .filter((w) => w.start && w.end && w.days.length);
  doc.caps = [...form.querySelectorAll(".cap-row")]
    .filter((row) => row.querySelector("[name=cap]").value)
    .map((row) => ({
      max: Number(row.querySelector("[name=cap]").value),
      per: row.querySelector("[name=cap_per]").value,
      category: row.querySelector("[name=cap_for]").value.trim() || null,
    }));
  doc.quiet_mode = form.quiet_mode.value;
  doc.timezone = form.timezone.value.trim() || null;
  doc.digest = { every: form.digest_every.value, at: form.digest_at.value || "09:00" };
  if (form.critical_bypass) doc.critical_bypass = form.critical_bypass.checked;
  if (form.digest_info) doc.digest_info = form.digest_info.checked;
  return doc;
}
