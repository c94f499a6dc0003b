// The web app's entry point: sign-in with a read key, the hash router (#/, #/events/ID, #/devices,
// #/dashboard, #/heartbeats, #/rules, #/rules/NAME, #/notifications, #/notifications/new), the live-connection indicator and messages from
// the service worker.

import { Api, ApiError, forgetKey, storedKey, storeKey } from "./js/api.js";
import { showDashboard } from "./js/dashboard.js";
import { showComposer } from "./js/composer.js";
import { showDetail } from "./js/detail.js";
import { h, replace, toast } from "./js/dom.js";
import { Feed } from "./js/feed.js";
import { showDevices } from "./js/push.js";
import { showHeartbeats } from "./js/heartbeats.js";
import { showNotifications } from "./js/notifications.js";
import { showRule, showRules } from "./js/rules.js";
import { forgetUsersKey } from "./js/users-key.js";

const main = document.getElementById("main");
const nav = document.getElementById("nav");
const live = document.getElementById("live");
const signOutButton = document.getElementById("sign-out");
const notificationLog = document.getElementById("notification-log");

let session = null; // {api, feed} while signed in

function explainKeyError(err) {
  if (err instanceof ApiError) {
    if (err.status === 401) return "The hub does not accept this key (unknown or revoked).";
    if (err.status === 403) return "This key cannot read the feed: sign in with a read or admin key, not a publish key.";
    if (err.status === 0) return err.message;
    return `The hub answered ${err.status}: ${err.message}`;
  }
  return String(err.message || err);
}

function showSignIn(message = "") {
  document.body.classList.remove("signed-in");
  nav.hidden = true;
  signOutButton.hidden = true;
  live.hidden = true;
  const error = h("p", { class: "form-error", id: "sign-in-error", role: "alert", hidden: !message, text: message });
  const input = h("input", {
    id: "key", name: "key", type: "password", required: true, autocomplete: "current-password",
    placeholder: "pl_read_…", spellcheck: "false",
  });
  const form = h("form", { class: "sign-in", id: "sign-in", onsubmit: async (e) => {
    e.preventDefault();
    const key = input.value.trim();
    const button = form.querySelector("button");
    button.disabled = true;
    try {
      await new Api(key).listEvents({}, null, 1);
      storeKey(key);
      startSession(key);
    } catch (err) {
      error.textContent = explainKeyError(err);
      error.hidden = false;
    } finally {
      button.disabled = false;
    }
  } },
  h("h2", { text: "Sign in" }),
  h("p", { class: "muted", text: "Paste a read key (pushlog keys create --name NAME --scope read). It stays in this browser until you sign out." }),
  h("label", { class: "field field-wide" }, h("span", { text: "Read key" }), input),
  h("button", { type: "submit", class: "primary", id: "sign-in-button", text: "Sign in" }),
  error);
  replace(main, form);
  input.focus();
}

function startSession(key) {
  const api = new Api(key, {
    onUnauthorized: () => {
      signOut("Your key is no longer accepted (revoked?). Sign in again.");
    },
  });
  const feed = new Feed(api, { onLiveState: setLiveState });
  session = { api, feed };
  document.body.classList.add("signed-in");
  nav.hidden = false;
  signOutButton.hidden = false;
  live.hidden = false;
  route();
}

function signOut(message = "") {
  if (session) session.feed.close();
  session = null;
  forgetKey();
  forgetUsersKey();
  if (location.hash && location.hash !== "#/") history.replaceState(null, "", "#/");
  showSignIn(message);
}

function setLiveState(state, detail = "", status = 0) {
  if (state === "denied" && status === 401) {
    signOut("Your key is no longer accepted (revoked?). Sign in again.");
    return;
  }
  live.dataset.state = state;
  live.title = detail || state;
  live.querySelector(".live-text").textContent = { live: "live", connecting: "connecting", reconnecting: "offline", denied: "denied" }[state] || state;
  if (state === "denied") toast(`The live stream was refused: ${detail}`, "error");
}

function route() {
  if (!session) return;
  const [hash, search = ""] = (location.hash.replace(/^#/, "") || "/").split("?");
  for (const link of nav.querySelectorAll("a")) {
    const target = link.getAttribute("href").slice(1);
    link.classList.toggle("active", target === "/" ? hash === "/" || hash.startsWith("/events/") : hash.startsWith(target));
  }
  const eventMatch = hash.match(/^\/events\/(.+)$/);
  const ruleMatch = hash.match(/^\/rules\/(.+)$/);
  if (eventMatch) {
    showDetail(main, session.api, decodeURIComponent(eventMatch[1]), { onChange: (e) => session?.feed.updateEvent(e) });
  } else if (hash.startsWith("/devices")) {
    showDevices(main, session.api);
  } else if (hash.startsWith("/dashboard")) {
    showDashboard(main, session.api);
  } else if (hash.startsWith("/heartbeats")) {
    showHeartbeats(main, session.api);
  } else if (ruleMatch) {
    showRule(main, session.api, decodeURIComponent(ruleMatch[1]));
  } else if (hash.startsWith("/rules")) {
    showRules(main, session.api);
  } else if (hash === "/notifications/new") {
    showComposer(main, session.api);
  } else if (hash.startsWith("/notifications")) {
    showNotifications(main, session.api);
  } else {
    session.feed.mount(main, new URLSearchParams(search).get("since"));
  }
  window.scrollTo(0, 0);
}

// What the service worker reports: a notification it showed, an acknowledgement from its action button.
if ("serviceWorker" in navigator) {
  navigator.serviceWorker.addEventListener("message", (message) => {
    const data = message.data || {};
    if (data.type === "pushlog:shown") {
      notificationLog.append(h("li", { dataset: { eventId: data.event_id || "", level: data.level || "" }, text: data.title }));
    } else if (data.type === "pushlog:acked" && session) {
      session.feed.updateEvent({ id: data.event_id, acknowledged_at: new Date().toISOString() });
    }
  });
}

window.addEventListener("hashchange", route);
signOutButton.addEventListener("click", () => signOut());
const key = storedKey();
if (key) startSession(key);
else showSignIn();
