// The Notifications view (#/notifications): notifications to an app's users (docs/notifications.md),
// newest first, each with its state, when, its audience and its funnel (GET /v1/notifications), a
// Cancel button while it can still be stopped, and a link to the composer (#/notifications/new,
// js/composer.js). The PAGE newest are fetched again every POLL_MS while the view is on screen (not
// in a background tab), so a funnel fills in as deliveries are sent and receipts arrive; Load older
// pages further back (the API's next_cursor) and keeps those rows below the polled ones. The view
// talks with a users or admin key (js/users-key.js); when the sign-in key is not one, it asks for one
// first.

import { Api, ApiError } from "./api.js";
import { fullTime, h, relativeTime, replace, toast } from "./dom.js";
import { canNotify, explainUsersKeyError, notificationsApi, storeUsersKey } from "./users-key.js";

/** How often the list is fetched again while it is on screen. */
export const POLL_MS = 3000;
/** Notifications per request: the newest page is polled, Load older fetches one more. */
export const PAGE = 50;

const CANCELLABLE = new Set(["scheduled", "sending"]);

function plural(n, word) {
  return `${n} ${word}${n === 1 ? "" : "s"}`;
}

/** "segment pro-eu and filter plan = "pro"", "users anna, bob and 3 more", "topic news". */
export function audienceSummary(audience = {}) {
  const parts = [];
  if (audience.segment) parts.push(`segment ${audience.segment}`);
  if (audience.filter) parts.push(`filter ${audience.filter}`);
  if (audience.topic) parts.push(`topic ${audience.topic}`);
  if (audience.users) {
    const shown = audience.users.slice(0, 3).join(", ");
    const more = audience.users.length - 3;
    parts.push(`${audience.users.length === 1 ? "user" : "users"} ${shown}${more > 0 ? ` and ${more} more` : ""}`);
  }
  return parts.join(" and ") || "no audience";
}

/** What was sent: the template's name, else the literal title. */
export function contentSummary(n) {
  if (n.template) return `template ${n.template}`;
  return n.title ? `“${n.title}”` : "literal text";
}

/** When it goes (or went) out, in words. A local-time send keeps saying so after it is expanded:
 * its deliveries go out as each recipient's zone reaches the time. `now` is injectable for tests. */
export function whenSummary(n, now = Date.now()) {
  const s = n.schedule || {};
  if (n.status === "cancelled") return `cancelled ${relativeTime(n.cancelled_at, now)}`;
  if (s.local_time) {
    return `at ${s.local_time} in each recipient's time zone on ${s.date}${s.timezone ? ` (else ${s.timezone})` : ""}`;
  }
  if (n.expanded_at) return `sent ${relativeTime(n.expanded_at, now)}`;
  return `at ${fullTime(n.start_at)}`;
}

function reasons(map) {
  const entries = Object.entries(map || {}).filter(([, n]) => n);
  return entries.length ? ` (${entries.map(([reason, n]) => `${reason.replace(/_/g, " ")} ${n}`).join(", ")})` : "";
}

/** The funnel as [label, number, detail] rows, in the order a delivery moves through them. */
export function funnelRows(funnel) {
  if (!funnel) return [];
  const skipped = { ...(funnel.skipped || {}) };
  for (const [reason, n] of Object.entries(funnel.skipped_reasons || {})) skipped[reason] = (skipped[reason] || 0) + n;
  const skippedTotal = Object.values(skipped).reduce((a, b) => a + b, 0);
  return [
    ["targeted", funnel.targeted, ""],
    ["skipped", skippedTotal, reasons(skipped)],
    ["held", funnel.held, reasons(funnel.held_reasons)],
    ["queued", funnel.queued, ""],
    ["sent", funnel.sent, ""],
    ["delivered", funnel.delivered, ""],
    ["opened", funnel.opened, ""],
    ["failed", funnel.failed, reasons(funnel.failed_reasons)],
    ...(funnel.cancelled ? [["cancelled", funnel.cancelled, ""]] : []),
  ];
}

function funnelList(funnel) {
  if (!funnel) return h("p", { class: "muted small notification-nofunnel", text: "Nothing sent yet." });
  return h("dl", { class: "funnel" }, funnelRows(funnel).map(([label, n, detail]) => h("div", { dataset: { step: label } },
    h("dt", { text: label }),
    h("dd", {}, String(n), detail ? h("span", { class: "funnel-why", text: detail }) : null))));
}

function row(n, api, cancelled, now) {
  const cancel = CANCELLABLE.has(n.status)
    ? h("button", { type: "button", class: "danger notification-cancel", text: "Cancel", onclick: async (e) => {
      const what = n.status === "scheduled" ? "It will not be sent." : "Deliveries not sent yet are dropped.";
      if (!confirm(`Cancel this notification? ${what}`)) return;
      e.target.disabled = true;
      try {
        const changed = await api.post(`/v1/notifications/${encodeURIComponent(n.id)}/cancel`, {});
        toast("Notification cancelled.");
        await cancelled(changed);
      } catch (err) {
        e.target.disabled = false;
        toast(`Could not cancel: ${err.message}`, "error");
      }
    } })
    : null;
  return h("li", { class: "notification", dataset: { id: n.id, status: n.status } },
    h("div", { class: "notification-head" },
      h("strong", { class: "notification-what", text: contentSummary(n) }),
      h("span", { class: `notification-status notification-status-${n.status}`, text: n.status }),
      cancel),
    h("p", { class: "muted small notification-when", title: fullTime(n.start_at), text: `${whenSummary(n, now)} · ${n.level}` }),
    h("p", { class: "small notification-audience", text: audienceSummary(n.audience) }),
    funnelList(n.funnel));
}

/** The form asking for a users (or admin) key; `onKey(api)` once the hub accepts one. */
function keyForm(view, message, onKey) {
  const error = h("p", { class: "form-error", id: "users-key-error", role: "alert", hidden: !message, text: message });
  const input = h("input", {
    id: "users-key", name: "users-key", type: "password", required: true, autocomplete: "off",
    placeholder: "pl_users_…", spellcheck: "false",
  });
  const form = h("form", { class: "sign-in users-key-form", id: "users-key-form", onsubmit: async (e) => {
    e.preventDefault();
    const key = input.value.trim();
    const button = form.querySelector("button");
    button.disabled = true;
    try {
      const api = new Api(key);
      await canNotify(api);
      storeUsersKey(key);
      onKey(api);
    } catch (err) {
      error.textContent = explainUsersKeyError(err);
      error.hidden = false;
    } finally {
      button.disabled = false;
    }
  } },
  h("h2", { text: "A key for notifications" }),
  h("p", { id: "users-key-why", text: "Notifications reach your app's users, which your read key may not: paste a key with the users scope (pushlog keys create --name NAME --scope users) or an admin key. It stays in this browser beside your read key until you sign out." }),
  h("label", { class: "field field-wide" }, h("span", { text: "Users key" }), input),
  h("button", { type: "submit", class: "primary", id: "users-key-button", text: "Use this key" }),
  error);
  replace(view, form);
  input.focus();
}

/**
 * Resolve the Api of the Notifications views, asking for a users key first when needed, then call
 * `show(api)`. Shared by the list and the composer.
 */
export async function withUsersKey(view, signInApi, show) {
  replace(view, h("p", { class: "muted", text: "Loading…" }));
  let found;
  try {
    found = await notificationsApi(signInApi);
  } catch (err) {
    replace(view, h("p", { class: "form-error", role: "alert", text: `Could not reach the notifications: ${err.message}` }));
    return;
  }
  if (found.api) show(found.api);
  else keyForm(view, found.message, show);
}

/**
 * The rows shown: the polled newest page first, then every row loaded before (older pages, and rows
 * that newer ones pushed off the newest page), in the hub's order (newest first), each id once.
 */
export class NotificationRows {
  constructor() {
    this.byId = new Map();
    this.order = [];
    this.olderCursor = null;
    this.pagedBack = false; // once Load older ran, its cursor (not the newest page's) says what is next
  }

  /** The newest page (GET /v1/notifications) as polled now. */
  newest(page) {
    const items = page.notifications || [];
    for (const n of items) this.byId.set(n.id, n);
    const fresh = new Set(items.map((n) => n.id));
    this.order = [...items.map((n) => n.id), ...this.order.filter((id) => !fresh.has(id))];
    if (!this.pagedBack) this.olderCursor = page.next_cursor || null;
  }

  /** One notification as the hub answered it now (e.g. after Cancel), wherever it is listed. */
  update(n) {
    if (this.byId.has(n.id)) this.byId.set(n.id, n);
  }

  /** The page before `olderCursor`. */
  older(page) {
    for (const n of page.notifications || []) {
      if (!this.byId.has(n.id)) this.order.push(n.id);
      this.byId.set(n.id, n);
    }
    this.olderCursor = page.next_cursor || null;
    this.pagedBack = true;
  }

  get items() {
    return this.order.map((id) => this.byId.get(id));
  }
}

export function showNotifications(main, signInApi) {
  const view = h("section", { class: "view notifications-view", id: "notifications" });
  replace(main, view);
  const show = (api) => {
    const list = h("ul", { class: "notifications", id: "notification-list" });
    const summary = h("p", { class: "muted", id: "notifications-summary" });
    const rows = new NotificationRows();
    const olderButton = h("button", {
      type: "button", class: "older", id: "notifications-older", hidden: true, text: "Load older",
      onclick: () => loadOlder(),
    });
    replace(view,
      h("div", { class: "notifications-head" },
        h("h2", { text: "Notifications" }),
        h("a", { class: "button primary", id: "new-notification", href: "#/notifications/new", text: "New notification" })),
      summary,
      list,
      olderButton);
    let timer = null;
    let generation = 0; // a refresh started by Cancel supersedes the poll in flight
    const render = () => {
      const now = Date.now();
      const items = rows.items;
      summary.textContent = items.length
        ? `${plural(items.length, "notification")}, newest first; ${items.length > PAGE ? `the ${PAGE} newest ` : ""}updated every ${POLL_MS / 1000} s.`
        : "";
      replace(list, items.length
        ? items.map((n) => row(n, api, cancelled, now))
        : h("li", { class: "empty", id: "notifications-empty", text: "No notifications yet. Press New notification to send one." }));
      olderButton.hidden = !rows.olderCursor;
    };
    const cancelled = async (n) => {
      rows.update(n);
      render();
      await refresh();
    };
    const loadOlder = async () => {
      if (!rows.olderCursor) return;
      olderButton.disabled = true;
      try {
        rows.older(await api.get(`/v1/notifications?limit=${PAGE}&cursor=${encodeURIComponent(rows.olderCursor)}`));
        render();
      } catch (err) {
        toast(`Could not load older notifications: ${err.message}`, "error");
      } finally {
        olderButton.disabled = false;
      }
    };
    const refresh = async () => {
      clearTimeout(timer);
      const mine = ++generation;
      if (!view.isConnected) return; // another view replaced this one: stop polling
      if (document.hidden) { // a background tab asks nothing; it looks again when shown
        document.addEventListener("visibilitychange", refresh, { once: true });
        return;
      }
      try {
        const answer = await api.get(`/v1/notifications?limit=${PAGE}`);
        if (mine !== generation) return;
        rows.newest(answer);
        render();
      } catch (err) {
        if (err instanceof ApiError && (err.status === 401 || err.status === 403)) {
          if (api !== signInApi) withUsersKey(view, signInApi, show); // says why the stored key failed
          return;
        }
        summary.textContent = `Could not load the notifications: ${err.message}`;
      }
      if (mine === generation && view.isConnected) timer = setTimeout(refresh, POLL_MS);
    };
    refresh();
  };
  withUsersKey(view, signInApi, show);
}
