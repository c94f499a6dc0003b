// The Heartbeats view (#/heartbeats): every dead man's switch the hub knows (GET /v1/heartbeats) with
// its status, last check-in, period, grace and next deadline. Overdue ones come first.

import { fullTime, h, relativeTime, replace, toast } from "./dom.js";

const ORDER = { overdue: 0, failed: 1, up: 2, unmonitored: 3 };
const LABEL = { up: "ok", failed: "failed", overdue: "overdue", unmonitored: "unmonitored" };

/** 86400 -> "1d", 5400 -> "1h30m", 90 -> "1m30s", null -> "–" (like pushlog's format_seconds). */
export function formatPeriod(seconds) {
  if (seconds === null || seconds === undefined) return "–";
  let rest = Math.round(Number(seconds));
  if (rest <= 0) return "0s";
  const parts = [];
  for (const [unit, size] of [["d", 86400], ["h", 3600], ["m", 60], ["s", 1]]) {
    if (rest >= size) {
      parts.push(`${Math.floor(rest / size)}${unit}`);
      rest %= size;
    }
  }
  return parts.slice(0, 2).join("");
}

/** "in 5 min", "12 min late": the next deadline relative to `now` (injectable for tests). */
export function deadlineText(iso, now = Date.now()) {
  const t = Date.parse(iso);
  if (Number.isNaN(t)) return "–";
  const s = Math.round((t - now) / 1000);
  const span = (x) => (x < 90 ? `${x} s` : x < 5400 ? `${Math.round(x / 60)} min` : x < 172800 ? `${Math.round(x / 3600)} h` : `${Math.round(x / 86400)} d`);
  return s >= 0 ? `in ${span(s)}` : `${span(-s)} late`;
}

function lastRunFailed(beat) {
  return Boolean(beat.last_failure_at && (!beat.last_success_at || beat.last_failure_at > beat.last_success_at));
}

/** What the badge says: the hub's status, except that a job checking in on time whose last run
 * failed is "failed", never a green "ok" beside "failed (exit 1)". */
export function displayStatus(beat) {
  return beat.status === "up" && lastRunFailed(beat) ? "failed" : beat.status;
}

/** Overdue first, then failed, ok, unmonitored; by name within each. */
export function sortHeartbeats(list) {
  const rank = (b) => ORDER[displayStatus(b)] ?? 4;
  return [...list].sort((a, b) => rank(a) - rank(b) || a.name.localeCompare(b.name));
}

function lastRun(beat) {
  if (lastRunFailed(beat)) {
    return `last run failed${beat.last_exit_code !== null && beat.last_exit_code !== undefined ? ` (exit ${beat.last_exit_code})` : ""}`;
  }
  return beat.last_success_at ? "last run succeeded" : beat.last_start_at ? "started" : "";
}

function row(beat, now) {
  const shown = displayStatus(beat);
  const status = LABEL[shown] || shown;
  const facts = [
    ["last check-in", beat.last_ping_at ? relativeTime(beat.last_ping_at, now) : "never", beat.last_ping_at],
    ["period", formatPeriod(beat.every_s)],
    ["grace", formatPeriod(beat.grace_s)],
    ["next deadline", beat.due_at ? deadlineText(beat.due_at, now) : "–", beat.due_at],
  ];
  const run = lastRun(beat);
  return h("li", { class: `heartbeat hb-${beat.status}`, dataset: { name: beat.name, status: beat.status } },
    h("div", { class: "heartbeat-head" },
      h("strong", { class: "heartbeat-name", text: beat.name }),
      h("span", { class: `hb-status hb-status-${shown}`, text: status }),
      run ? h("span", { class: "muted small", text: run }) : null),
    h("dl", { class: "heartbeat-facts" }, facts.map(([label, value, iso]) => h("div", { dataset: { fact: label } },
      h("dt", { text: label }), h("dd", { text: value, title: iso ? fullTime(iso) : null })))),
    beat.last_message ? h("p", { class: "muted small heartbeat-message", text: beat.last_message }) : null);
}

export async function showHeartbeats(main, api, now = Date.now()) {
  const view = h("section", { class: "view heartbeats-view", id: "heartbeats" }, h("p", { class: "muted", text: "Loading…" }));
  replace(main, view);
  try {
    const answer = await api.get("/v1/heartbeats");
    const beats = sortHeartbeats(answer.heartbeats || []);
    const overdue = beats.filter((b) => b.status === "overdue").length;
    replace(view,
      h("h2", { text: "Heartbeats" }),
      h("p", { class: "muted", id: "heartbeats-summary", text: beats.length
        ? `${beats.length} heartbeat${beats.length === 1 ? "" : "s"}, ${overdue ? `${overdue} overdue` : "none overdue"}.`
        : "" }),
      beats.length
        ? h("ul", { class: "heartbeats", id: "heartbeat-list" }, beats.map((b) => row(b, now)))
        : h("p", { class: "empty", id: "heartbeats-empty" },
          "No heartbeats yet. A job checks in with ", h("code", { text: "pushlog run --name NAME --every 1h -- CMD" }),
          ", ", h("code", { text: 'with pushlog.job("NAME", every="1h"):' }), " or ",
          h("code", { text: "POST /v1/heartbeats/NAME" }), "; the hub alerts when a check-in is overdue."));
  } catch (err) {
    replace(view, h("p", { class: "form-error", role: "alert", text: `Could not load the heartbeats: ${err.message}` }));
    toast(err.message, "error");
  }
}
