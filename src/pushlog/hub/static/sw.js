// pushlog's service worker: turns a Web Push message from the hub into a notification and reports
// back. Payload (docs/architecture.md, "Push payload"):
//   {v, event_id, delivery_id, receipt, title, body, level, ts, count, url, link, image, tag,
//    require_interaction, actions: [{action, title, url?}], category, data}
// On push: show the notification (with the image and the action buttons the browser has room for)
// and POST {token, status: "delivered"} to /v1/deliveries/{delivery_id}/receipt. On click: the "ack"
// action POSTs /v1/events/{id}/ack with the receipt token (stops a CRITICAL re-push on every device);
// "open" opens the event in the web app; an action with a url opens that url; a tap on the
// notification itself opens the event's link, else the event. Every opening reports "opened". Open
// pages are told what was shown ("pushlog:shown").

const ICON = "icon-192.png";
const BADGE = "badge-96.png"; // monochrome: Android draws it in the status bar

self.addEventListener("install", () => self.skipWaiting());
self.addEventListener("activate", (event) => event.waitUntil(self.clients.claim()));

/** Only http(s) URLs are shown or opened: a javascript: or data: link in an event must not run. */
function httpUrl(value) {
  return typeof value === "string" && /^https?:\/\//i.test(value) ? value : null;
}

function readPayload(event) {
  if (!event.data) return { title: "pushlog", body: "" };
  try {
    const payload = event.data.json();
    if (payload && typeof payload === "object") return payload;
  } catch {
    /* not JSON: show it as text */
  }
  return { title: "pushlog", body: event.data.text() };
}

async function post(path, body) {
  try {
    // Relative to the worker's scope: the hub may sit under a path prefix behind a proxy.
    const response = await fetch(new URL(path.replace(/^\//, ""), self.registration.scope), {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify(body),
      credentials: "omit",
    });
    if (!response.ok) console.warn(`pushlog: ${path} answered ${response.status}`);
    return response.ok;
  } catch (err) {
    console.warn(`pushlog: ${path} failed: ${err}`);
    return false;
  }
}

function receipt(payload, status) {
  if (!payload.delivery_id || !payload.receipt) return Promise.resolve(false);
  return post(`/v1/deliveries/${encodeURIComponent(payload.delivery_id)}/receipt`, { token: payload.receipt, status });
}

async function tellPages(message) {
  const pages = await self.clients.matchAll({ type: "window", includeUncontrolled: true });
  for (const page of pages) page.postMessage(message);
}

async function onPush(event) {
  const p = readPayload(event);
  const title = String(p.title || "pushlog");
  const critical = p.level === "critical";
  const tag = String(p.tag || p.event_id || "");
  let body = String(p.body || "");
  if (Number(p.count) > 1) body = `×${p.count} · ${body}`;
  const maxActions = self.Notification && "maxActions" in self.Notification ? self.Notification.maxActions : 2;
  const actions = (Array.isArray(p.actions) ? p.actions : []).filter((a) => a && a.action && a.title);
  // Where each button leads: "ack" acknowledges, "open" is the event, an action's own url wins.
  const targets = {};
  for (const a of actions) if (httpUrl(a.url)) targets[String(a.action)] = a.url;
  const options = {
    body,
    tag: tag || undefined,
    renotify: Boolean(tag), // a CRITICAL re-push with the same tag alerts again
    icon: ICON,
    badge: BADGE,
    timestamp: Date.parse(p.ts) || Date.now(),
    requireInteraction: Boolean(p.require_interaction ?? critical),
    data: {
      event_id: p.event_id,
      delivery_id: p.delivery_id,
      receipt: p.receipt,
      url: p.url || "./",
      link: httpUrl(p.link),
      level: p.level,
      targets,
    },
    actions: actions.slice(0, maxActions).map((a) => ({ action: String(a.action), title: String(a.title) })),
  };
  if (httpUrl(p.image)) options.image = p.image;
  try {
    await self.registration.showNotification(title, options);
  } catch (err) {
    // A browser that rejects an option (renotify, actions) still gets the notification.
    await self.registration.showNotification(title, { body, tag: tag || undefined, icon: ICON, data: options.data });
  }
  await Promise.all([
    receipt(p, "delivered"),
    tellPages({ type: "pushlog:shown", title, event_id: p.event_id, level: p.level }),
  ]);
}

async function focusOrOpen(url) {
  const target = new URL(url, self.registration.scope);
  const pages = await self.clients.matchAll({ type: "window", includeUncontrolled: true });
  for (const page of pages) {
    if (new URL(page.url).origin === target.origin && "focus" in page) {
      if ("navigate" in page && page.url !== target.href) {
        try {
          await page.navigate(target.href);
        } catch {
          /* not controlled by this worker: focusing is enough */
        }
      }
      return page.focus();
    }
  }
  return self.clients.openWindow(target.href);
}

async function onClick(event) {
  const data = event.notification.data || {};
  event.notification.close();
  if (event.action === "ack") {
    if (data.event_id && data.receipt) {
      const ok = await post(`/v1/events/${encodeURIComponent(data.event_id)}/ack`, { token: data.receipt, delivery_id: data.delivery_id });
      if (ok) await tellPages({ type: "pushlog:acked", event_id: data.event_id });
    }
    return;
  }
  await Promise.all([focusOrOpen(clickTarget(data, event.action)), receipt(data, "opened")]);
}

// What a click opens: an action's own url, the event for "open", else (a tap on the notification
// itself, or an action without a url) the event's link, falling back to the event in the web app.
function clickTarget(data, action) {
  const targets = data.targets || {};
  if (action && targets[action]) return targets[action];
  if (action === "open") return data.url || "./";
  return data.link || data.url || "./";
}

self.addEventListener("push", (event) => event.waitUntil(onPush(event)));
self.addEventListener("notificationclick", (event) => event.waitUntil(onClick(event)));
