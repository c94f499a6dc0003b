// One event in full: body, link, metadata, source, dedup count, acknowledgement and its deliveries.

import { ackControl } from "./feed.js";
import { formatValue, fullTime, h, levelName, replace, resolvedNote, safeUrl, toast } from "./dom.js";

export async function showDetail(main, api, id, { onChange = () => {} } = {}) {
  const view = h("section", { class: "view detail", id: "detail" },
    h("a", { href: "#/", class: "back", text: "← Feed" }),
    h("p", { class: "muted", text: "Loading…" }));
  replace(main, view);
  let event;
  let deviceNames = new Map();
  try {
    const [found, devices] = await Promise.all([api.getEvent(id), api.get("/v1/devices").catch(() => ({ devices: [] }))]);
    event = found;
    deviceNames = new Map((devices.devices || []).map((d) => [d.id, d.name || d.kind]));
  } catch (err) {
    replace(view, h("a", { href: "#/", class: "back", text: "← Feed" }),
      h("p", { class: "form-error", role: "alert", text: err.status === 404 ? "No such event." : `Could not load the event: ${err.message}` }));
    return;
  }
  const render = () => {
    replace(view, h("a", { href: "#/", class: "back", text: "← Feed" }), renderEvent(event, acknowledge, deviceNames));
  };
  const acknowledge = async () => {
    try {
      const updated = await api.ack(event.id);
      event = { ...event, ...(updated || {}) };
      if (!event.acknowledged_at) event.acknowledged_at = new Date().toISOString();
      onChange(event);
      toast("Acknowledged: re-pushing stopped on every device.");
    } catch (err) {
      toast(`Could not acknowledge: ${err.message}`, "error");
    }
    render();
  };
  render();
}

function table(rows, cls) {
  if (!rows.length) return h("p", { class: "muted", text: "none" });
  return h("table", { class: `kv ${cls}` },
    h("tbody", {}, rows.map(([k, v]) => h("tr", {}, h("th", { scope: "row", text: k }), h("td", {}, v)))));
}

function renderEvent(e, acknowledge, deviceNames) {
  const level = levelName(e.level);
  const link = safeUrl(e.link);
  const metadata = Object.entries(e.metadata || {}).map(([k, v]) => [k, formatValue(v)]);
  const source = Object.entries(e.source || {}).map(([k, v]) => [k, formatValue(v)]);
  const facts = [
    ["level", level],
    ["time", fullTime(e.ts)],
    ["received", fullTime(e.received_at)],
    ["count", String(e.count ?? 1)],
    e.channel ? ["channel", e.channel] : null,
    e.tags && e.tags.length ? ["tags", e.tags.join(", ")] : null,
    e.fingerprint ? ["fingerprint", e.fingerprint] : null,
    ["id", e.id],
    e.acknowledged_at ? ["acknowledged", `${fullTime(e.acknowledged_at)}${e.acknowledged_by ? ` by ${e.acknowledged_by}` : ""}`] : null,
    e.resolved_at ? ["resolved", `${resolvedNote(e)}, ${fullTime(e.resolved_at)}${e.resolved_by ? ` by ${e.resolved_by}` : ""}`] : null,
  ].filter(Boolean);
  const deliveries = e.deliveries || [];
  return h("article", { class: `event-detail level-${level}`, dataset: { id: e.id } },
    h("header", {},
      h("span", { class: `badge badge-${level}`, text: level }),
      h("h2", { id: "detail-title", text: e.title }),
      Number(e.count) > 1 ? h("span", { class: "count", text: `×${e.count}` }) : null),
    e.body ? h("pre", { class: "body", id: "detail-body", text: e.body }) : null,
    link ? h("p", {}, h("a", { href: link, target: "_blank", rel: "noopener noreferrer", class: "ext", text: link })) : null,
    h("div", { class: "detail-actions", id: "detail-ack" }, ackControl(e, acknowledge)),
    h("h3", { text: "Metadata" }), table(metadata, "metadata"),
    h("h3", { text: "Event" }), table(facts.map(([k, v]) => [k, v]), "facts"),
    source.length ? [h("h3", { text: "Source" }), table(source, "source")] : null,
    h("h3", { text: "Deliveries" }),
    deliveries.length
      ? h("div", { class: "scroll-x" }, h("table", { class: "deliveries" },
          h("thead", {}, h("tr", {}, ["device", "round", "status", "attempts", "updated"].map((c) => h("th", { text: c })))),
          h("tbody", {}, deliveries.map((d) => h("tr", {},
            h("td", { text: deviceNames.get(d.device_id) || d.device_name || d.device_id || "(removed device)" }),
            h("td", { text: d.round ?? 0 }),
            h("td", { title: d.last_error || "" },
              h("span", { class: `status status-${d.status}`, text: d.status }),
              d.last_status_code ? h("span", { class: "muted small", text: ` (${d.last_status_code})` }) : null),
            h("td", { text: d.attempts ?? "" }),
            h("td", { text: fullTime(d.updated_at || d.created_at) }))))))
      : h("p", { class: "muted", text: e.push === false ? "Feed only: not pushed." : "No deliveries (no device wanted it)." }),
  );
}
