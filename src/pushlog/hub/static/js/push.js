// "Enable push on this device" and the device list with per-device preferences.
//
// Subscribing is the fragile step: a browser whose push service is unreachable (Chromium offline, or
// Firefox still starting) may never settle pushManager.subscribe(). Every browser call here is raced
// against a timeout and turned into a sentence the user can act on.

import { attentionEditor } from "./attention.js";
import { h, LEVELS, levelName, replace, toast, fullTime } from "./dom.js";

const SUBSCRIBE_TIMEOUT_MS = 15000;
const SUBSCRIBE_ATTEMPTS = 3;

/** How long one subscribe() may take; localStorage "pushlog.subscribeTimeoutMs" overrides (slow devices, tests). */
function subscribeTimeout() {
  const override = Number(localStorage.getItem("pushlog.subscribeTimeoutMs"));
  return override > 0 ? override : SUBSCRIBE_TIMEOUT_MS;
}

export class TimeoutError extends Error {}

/** Resolve with `promise`, or reject with TimeoutError(message) after `ms`. */
export function withTimeout(promise, ms, message) {
  let timer;
  return Promise.race([
    promise,
    new Promise((_, reject) => {
      timer = setTimeout(() => reject(new TimeoutError(message)), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}

export function base64UrlToBytes(text) {
  const padded = text.replace(/-/g, "+").replace(/_/g, "/") + "===".slice((text.length + 3) % 4);
  const raw = atob(padded);
  return Uint8Array.from(raw, (c) => c.charCodeAt(0));
}

function bytesToBase64Url(buffer) {
  const bytes = new Uint8Array(buffer);
  let raw = "";
  for (const b of bytes) raw += String.fromCharCode(b);
  return btoa(raw).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

export function pushSupport() {
  if (!("serviceWorker" in navigator)) return "This browser has no service workers, so it cannot receive push.";
  if (!("PushManager" in window)) return "This browser cannot receive Web Push.";
  if (!("Notification" in window)) return "This browser cannot show notifications.";
  if (!window.isSecureContext) return "Push needs HTTPS (or localhost): open the hub over https.";
  return null;
}

function deviceName() {
  const ua = navigator.userAgent;
  const browser = /Firefox\//.test(ua) ? "Firefox" : /Edg\//.test(ua) ? "Edge" : /Chrome\//.test(ua) ? "Chrome" : /Safari\//.test(ua) ? "Safari" : "Browser";
  const os = /Android/.test(ua) ? "Android" : /iPhone|iPad/.test(ua) ? "iOS" : /Mac OS X/.test(ua) ? "macOS" : /Windows/.test(ua) ? "Windows" : /Linux/.test(ua) ? "Linux" : "";
  return os ? `${browser} on ${os}` : browser;
}

/**
 * Register the service worker, subscribe with the hub's VAPID key and register the device.
 * Returns the hub's Device. Throws an Error whose message says what to do.
 */
export async function enablePush(api, preferences, { onProgress = () => {}, timeoutMs = subscribeTimeout() } = {}) {
  const unsupported = pushSupport();
  if (unsupported) throw new Error(unsupported);
  onProgress("Asking for permission to show notifications…");
  const permission = await withTimeout(Notification.requestPermission(), 60000, "The permission prompt was not answered.");
  if (permission === "denied") {
    throw new Error("Notifications are blocked for this site: allow them in the browser's site settings, then try again.");
  }
  if (permission !== "granted") {
    throw new Error("Notifications were not allowed: press the button again and choose Allow.");
  }
  onProgress("Starting the service worker…");
  await navigator.serviceWorker.register("sw.js", { scope: "./" });
  const registration = await withTimeout(navigator.serviceWorker.ready, timeoutMs, "The service worker did not start.");
  const { public_key: publicKey } = await api.get("/v1/webpush/vapid-public-key");
  let subscription = await registration.pushManager.getSubscription();
  if (subscription) {
    const current = subscription.options && subscription.options.applicationServerKey;
    if (current && bytesToBase64Url(current) !== publicKey) {
      await subscription.unsubscribe(); // subscribed to another hub's key: start over
      subscription = null;
    }
  }
  for (let attempt = 1; !subscription; attempt += 1) {
    onProgress(attempt === 1 ? "Subscribing with the browser's push service…" : `Subscribing (attempt ${attempt})…`);
    try {
      subscription = await withTimeout(
        registration.pushManager.subscribe({ userVisibleOnly: true, applicationServerKey: base64UrlToBytes(publicKey) }),
        timeoutMs,
        `The browser's push service did not answer within ${Math.round(timeoutMs / 1000)} s. ` +
          "Is this browser online and allowed to reach its push service?",
      );
    } catch (err) {
      if (attempt >= SUBSCRIBE_ATTEMPTS) {
        if (err instanceof TimeoutError) throw err;
        throw new Error(`The browser refused the push subscription (${err.name}: ${err.message}).`);
      }
    }
  }
  onProgress("Registering this device with the hub…");
  const device = await api.post("/v1/devices", {
    kind: "webpush",
    name: deviceName(),
    subscription: subscription.toJSON(),
    preferences,
  });
  return device;
}

function devicePrefs(device) {
  const prefs = device.preferences || {};
  return {
    min_level: levelName(prefs.min_level ?? device.min_level ?? "warning"),
    channels: prefs.channels ?? device.channels ?? null,
  };
}

function parseChannels(text) {
  const list = text.split(/[\s,]+/).filter(Boolean);
  return list.length ? list : null;
}

function prefsFields(prefs, idPrefix) {
  return [
    h("label", { class: "field" }, h("span", { text: "Push from level" }),
      h("select", { name: "min_level", id: `${idPrefix}-min-level` },
        LEVELS.filter((l) => l !== "debug" && l !== "info").map((l) =>
          h("option", { value: l, text: l, selected: prefs.min_level === l })))),
    h("label", { class: "field field-wide" }, h("span", { text: "Channels (empty = all)" }),
      h("input", { name: "channels", id: `${idPrefix}-channels`, placeholder: "payments, deploys", value: (prefs.channels || []).join(", ") })),
  ];
}

function readPrefs(form) {
  const data = new FormData(form);
  return { min_level: String(data.get("min_level")), channels: parseChannels(String(data.get("channels") || "")) };
}

/** The Devices view: this device's push switch and every registered device with its preferences. */
export async function showDevices(main, api) {
  const status = h("p", { class: "push-status", id: "push-status", role: "status" });
  const thisForm = h("form", { class: "prefs", id: "enable-push-form", onsubmit: (e) => e.preventDefault() },
    prefsFields({ min_level: "warning", channels: null }, "new"),
    h("button", { type: "submit", class: "primary", id: "enable-push", text: "Enable push on this device" }));
  const list = h("ul", { class: "devices", id: "devices" });
  replace(main, h("section", { class: "view devices-view", id: "devices-view" },
    h("h2", { text: "This device" }), status, thisForm,
    h("h2", { text: "Devices" }), list));

  const setStatus = (text, kind = "info") => {
    status.textContent = text;
    status.className = `push-status push-${kind}`;
  };

  // This browser's subscription endpoint (null when not subscribed): "this device" is the hub's device
  // with the same endpoint, whatever localStorage remembers.
  const currentEndpoint = async () => {
    if (pushSupport()) return null;
    const registration = await navigator.serviceWorker.getRegistration();
    const subscription = registration ? await registration.pushManager.getSubscription().catch(() => null) : null;
    return subscription ? subscription.endpoint : null;
  };

  /** Redraw the list; returns this browser's device as the hub knows it (or null). */
  const refreshList = async () => {
    let devices;
    try {
      const answer = await api.get("/v1/devices");
      devices = Array.isArray(answer) ? answer : answer.devices || [];
    } catch (err) {
      replace(list, h("li", { class: "form-error", text: `Could not load devices: ${err.message}` }));
      return null;
    }
    const endpoint = await currentEndpoint();
    const mine = devices.find((d) => endpoint && d.endpoint === endpoint) || null;
    const changed = { saved: refreshList, removed: () => showDevices(main, api) };
    replace(list, devices.length ? devices.map((d) => deviceItem(api, d, d === mine, changed))
      : h("li", { class: "muted", text: "No devices yet. Enable push on a phone or laptop to get notifications." }));
    return mine;
  };

  thisForm.addEventListener("submit", async () => {
    const button = thisForm.querySelector("button");
    button.disabled = true;
    try {
      const device = await enablePush(api, readPrefs(thisForm), { onProgress: (t) => setStatus(t, "busy") });
      setStatus(`Push is on for this device (${device.name || device.id}).`, "ok");
      toast("Push enabled on this device.");
      await refreshList();
    } catch (err) {
      setStatus(err.message, "error");
    } finally {
      button.disabled = false;
    }
  });

  const mine = await refreshList();
  const unsupported = pushSupport();
  if (unsupported) {
    setStatus(unsupported, "error");
  } else if (Notification.permission === "denied") {
    setStatus("Notifications are blocked for this site: allow them in the browser's site settings.", "error");
  } else if (mine) {
    setStatus(`Push is on for this device (${mine.name || mine.id}).`, "ok");
  } else if (await currentEndpoint()) {
    // Subscribed, but the hub dropped the device (removed, or its push service said it is gone).
    setStatus("Push is off: the hub no longer knows this device. Enable push to register it again.", "info");
  } else {
    setStatus("Push is off for this device.", "info");
  }
}

function deviceItem(api, device, isThis, changed) {
  const prefs = devicePrefs(device);
  const idPrefix = `device-${device.id}`;
  const form = h("form", { class: "prefs", onsubmit: async (e) => {
    e.preventDefault();
    try {
      await api.patch(`/v1/devices/${encodeURIComponent(device.id)}`, { preferences: readPrefs(form) });
      toast("Preferences saved.");
      await changed.saved();
    } catch (err) {
      toast(`Could not save: ${err.message}`, "error");
    }
  } },
  prefsFields(prefs, idPrefix),
  h("div", { class: "filter-buttons" },
    h("button", { type: "submit", class: "primary", text: "Save" }),
    h("button", { type: "button", class: "danger", text: "Remove", onclick: async () => {
      if (!confirm(`Remove ${device.name || "this device"}? It will get no more pushes.`)) return;
      try {
        await api.delete(`/v1/devices/${encodeURIComponent(device.id)}`);
        if (isThis) {
          // This browser: drop its subscription too, so "Enable push" starts clean.
          const registration = await navigator.serviceWorker.getRegistration();
          const subscription = registration ? await registration.pushManager.getSubscription() : null;
          if (subscription) await withTimeout(subscription.unsubscribe(), 10000, "unsubscribe timed out").catch(() => false);
        }
        await changed.removed();
      } catch (err) {
        toast(`Could not remove: ${err.message}`, "error");
      }
    } })));
  return h("li", { class: `device${isThis ? " this-device" : ""}`, dataset: { id: device.id } },
    h("div", { class: "device-head" },
      h("strong", { text: device.name || device.kind || "device" }),
      isThis ? h("span", { class: "chip", text: "this device" }) : null,
      h("span", { class: "chip", text: device.kind || "webpush" })),
    h("p", { class: "muted small", text: [
      device.created_at ? `added ${fullTime(device.created_at)}` : null,
      device.last_success_at ? `last push ${fullTime(device.last_success_at)}` : null,
      device.failure_count ? `${device.failure_count} failures` : null,
    ].filter(Boolean).join(" · ") }),
    form,
    attentionEditor(api, device, { open: isThis }));
}
