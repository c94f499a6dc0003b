// The preference document's fields in a <form> (docs/preferences.md): filled from a document and read
// back into one. Shared by the preference page an app user opens (js/preferences.js) and the web app's
// per-device editor (js/attention.js); each builds its own markup with the same field names. Optional
// fields (cap_per, critical_bypass, digest_info) are handled when the form has them.
export const DAYS = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];

/** The browser's IANA zone, the default when nobody chose one. */
export function browserZone() {
  return Intl.DateTimeFormat().resolvedOptions().timeZone || "UTC";
}

function dayBox(day, checked) {
  const box = document.createElement("input");
  Object.assign(box, { type: "checkbox", name: "day", value: day, checked });
  const label = document.createElement("label");
  label.className = "day";
  label.append(box, day);
  return label;
}

/** The uncategorised cap this form edits: per hour only, or either when the form offers cap_per. */
function editsCap(form, cap) {
  return !cap.category && (form.cap_per ? true : cap.per === "hour");
}

/** Show `prefs` (a PreferenceDocument) in `form`; the weekday boxes go into its `.days` element. */
export function fillPrefs(form, prefs) {
  const quiet = prefs.quiet_hours[0] || { start: "", end: "", days: DAYS };
  form.quiet_start.value = quiet.start;
  form.quiet_end.value = quiet.end;
  form.querySelector(".days").replaceChildren(...DAYS.map((d) => dayBox(d, quiet.days.includes(d))));
  form.quiet_mode.value = prefs.quiet_mode;
  form.timezone.value = prefs.timezone || browserZone();
  const cap = prefs.caps.find((c) => editsCap(form, c));
  form.cap.value = cap ? cap.max : "";
  if (form.cap_per) form.cap_per.value = cap ? cap.per : "hour";
  form.digest_every.value = prefs.digest.every;
  form.digest_at.value = prefs.digest.at;
  if (form.critical_bypass) form.critical_bypass.checked = prefs.critical_bypass;
  if (form.digest_info) form.digest_info.checked = prefs.digest_info;
}

/** `current` with what `form` shows: the first quiet window, mode, zone, the cap, the digest and the switches. */
export function readPrefsForm(form, current) {
  const doc = structuredClone(current);
  const days = [...form.querySelectorAll("input[name=day]:checked")].map((i) => i.value);
  // The form shows the first window; further ones (set through the API) are kept as they are.
  const first = form.quiet_start.value && form.quiet_end.value && days.length
    ? [{ start: form.quiet_start.value, end: form.quiet_end.value, days }] : [];
  doc.quiet_hours = [...first, ...doc.quiet_hours.slice(1)];
  doc.quiet_mode = form.quiet_mode.value;
  doc.timezone = form.timezone.value.trim() || null;
  doc.caps = doc.caps.filter((c) => !editsCap(form, c));
  if (form.cap.value) {
    doc.caps.push({ max: Number(form.cap.value), per: form.cap_per ? form.cap_per.value : "hour", category: null });
  }
  doc.digest = { every: form.digest_every.value, at: form.digest_at.value || "09:00" };
  if (form.critical_bypass) doc.critical_bypass = form.critical_bypass.checked;
  if (form.digest_info) doc.digest_info = form.digest_info.checked;
  return doc;
}
