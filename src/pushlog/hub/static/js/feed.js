// The feed: filters, the newest-first list with "load older" (cursor pagination) and live updates
// from the stream. One Feed lives as long as the user is signed in, so going to an event's detail and
// back keeps the list, its scroll position and the live connection.

import { apiUrl, filterParams, query } from "./api.js";
import { h, levelName, relativeTime, replace, resolvedNote, safeUrl, toast } from "./dom.js";
import { IncidentEntry, incidentKey, incidentOf, joinIncident, recount } from "./incidents.js";
import { LiveStream } from "./sse.js";

const PAGE = 50;

export class Feed {
  constructor(api, { onLiveState = () => {} } = {}) {
    this.api = api;
    this.onLiveState = onLiveState;
    this.filters = { level: "", channel: "", tag: "", meta: "", q: "", since: "" };
    this.rows = new Map(); // event id -> {event, el}
    this.groups = new Map(); // incident key -> {rows, incident, entry}: lines shown as one (incidents.js)
    this.maxSeq = null;
    this.nextCursor = null;
    this.stream = null;
    this.generation = 0; // bumps on every reload so late answers of an old query are dropped
    this.root = this.build();
    // "3 min ago" labels age: refresh them twice a minute while signed in.
    this.clock = setInterval(() => this.refreshTimes(), 30000);
  }

  refreshTimes(now = Date.now()) {
    for (const time of this.list.querySelectorAll("time[datetime]")) {
      time.textContent = relativeTime(time.getAttribute("datetime"), now);
    }
  }

  /** Sign-out: stop the stream and the label clock for good. */
  close() {
    this.stop();
    clearInterval(this.clock);
  }

  build() {
    const f = this.filters;
    this.form = h(
      "form",
      { class: "filters", id: "filters", onsubmit: (e) => (e.preventDefault(), this.applyForm()) },
      h(
        "label",
        { class: "field" },
        h("span", { text: "Level" }),
        h(
          "select",
          { name: "level", id: "filter-level", onchange: () => this.applyForm() },
          h("option", { value: "", text: "all" }),
          ["info", "warning", "error", "critical"].map((l) =>
            h("option", { value: l, text: l === "info" ? "info +" : `${l} +`, selected: f.level === l }),
          ),
        ),
      ),
      h("label", { class: "field" }, h("span", { text: "Channel" }),
        h("input", { name: "channel", id: "filter-channel", placeholder: "payments", autocomplete: "off" })),
      h("label", { class: "field" }, h("span", { text: "Tag" }),
        h("input", { name: "tag", id: "filter-tag", placeholder: "billing", autocomplete: "off" })),
      h("label", { class: "field field-wide" }, h("span", { text: "Metadata" }),
        h("input", { name: "meta", id: "filter-meta", placeholder: "user_id=42 plan=pro", autocomplete: "off" })),
      h("label", { class: "field field-wide" }, h("span", { text: "Text" }),
        h("input", { name: "q", id: "filter-q", type: "search", placeholder: "search titles and bodies" })),
      h("div", { class: "filter-buttons" },
        h("button", { type: "submit", class: "primary", id: "filter-apply", text: "Apply" }),
        h("button", { type: "button", id: "filter-clear", text: "Clear", onclick: () => this.clearFilters() })),
      (this.filterError = h("p", { class: "form-error", role: "alert", hidden: true })),
    );
    // A summary push links to the feed from the time its held pushes began (#/?since=...).
    this.sinceNote = h("p", { class: "since-note", id: "feed-since", hidden: true },
      (this.sinceText = h("span")), " ",
      h("button", { type: "button", class: "quiet", id: "feed-since-clear", text: "Show all",
        onclick: () => this.showSince("") }));
    this.list = h("ol", { class: "events", id: "events", "aria-live": "polite" });
    this.empty = h("p", { class: "empty", id: "feed-empty", hidden: true, text: "No events match." });
    this.older = h("button", {
      class: "older", id: "load-older", hidden: true, text: "Load older",
      onclick: () => this.loadOlder(),
    });
    // On a phone the filters start folded so the feed is on the first screen; on wider screens open.
    this.filterBox = h("details", { class: "filter-box", id: "filter-box", open: matchMedia("(min-width: 760px)").matches },
      (this.filterSummary = h("summary", { text: "Filters" })), this.form);
    return h("section", { class: "view feed", id: "feed" }, this.filterBox, this.sinceNote, this.list, this.empty, this.older);
  }

  /** Show the feed; ``since`` (RFC 3339, from a summary push's link) limits it to events from then on. */
  mount(main, since = null) {
    replace(main, this.root);
    if (since !== null && since !== this.filters.since) {
      this.started = true;
      this.showSince(since);
    } else if (!this.started) {
      this.started = true;
      this.reload();
    }
  }

  showSince(since) {
    const when = since ? new Date(since) : null;
    if (when && Number.isNaN(when.getTime())) {
      toast(`This link's start time is not a time: ${since}`, "error");
      since = "";
    }
    this.filters = { ...this.filters, since };
    this.sinceNote.hidden = !since;
    if (!since && location.hash.includes("since=")) history.replaceState(null, "", "#/");
    if (since) this.sinceText.textContent = `Showing events since ${new Date(since).toLocaleString()}.`;
    this.reload();
  }

  applyForm() {
    const data = new FormData(this.form);
    const next = Object.fromEntries(["level", "channel", "tag", "meta", "q"].map((k) => [k, String(data.get(k) || "")]));
    next.since = this.filters.since; // set by a link, cleared by its own button
    try {
      filterParams(next); // validates metadata pairs
    } catch (err) {
      this.filterError.textContent = err.message;
      this.filterError.hidden = false;
      return;
    }
    this.filterError.hidden = true;
    this.filters = next;
    const active = Object.entries(next).filter(([k, v]) => k !== "since" && v).length;
    this.filterSummary.textContent = active ? `Filters (${active})` : "Filters";
    this.reload();
  }

  clearFilters() {
    this.form.reset();
    this.filters.since = "";
    this.sinceNote.hidden = true;
    this.applyForm();
  }

  stop() {
    this.generation += 1;
    if (this.stream) this.stream.stop();
    this.stream = null;
  }

  /** Load the first page for the current filters, then follow the stream from its newest event. */
  async reload() {
    this.stop();
    const generation = this.generation;
    this.rows.clear();
    this.groups.clear();
    this.list.replaceChildren();
    this.maxSeq = null;
    this.root.classList.add("loading");
    let page;
    try {
      page = await this.api.listEvents(this.filters, null, PAGE);
    } catch (err) {
      if (generation !== this.generation) return;
      this.root.classList.remove("loading");
      toast(`Could not load the feed: ${err.message}`, "error");
      return;
    }
    if (generation !== this.generation) return;
    this.root.classList.remove("loading");
    for (const event of page.events) this.add(event, "end");
    this.nextCursor = page.next_cursor;
    this.updateFooter();
    this.stream = new LiveStream({
      url: apiUrl(`/v1/stream${query(filterParams(this.filters))}`),
      key: this.api.key,
      lastEventId: this.maxSeq ?? 0,
      onMessage: (type, data) => this.onStreamMessage(type, data),
      onState: (state, detail, status) => this.onLiveState(state, detail, status),
    }).start();
  }

  async loadOlder() {
    if (!this.nextCursor) return;
    const generation = this.generation;
    this.older.disabled = true;
    try {
      const page = await this.api.listEvents(this.filters, this.nextCursor, PAGE);
      if (generation !== this.generation) return;
      for (const event of page.events) this.add(event, "end");
      this.nextCursor = page.next_cursor;
    } catch (err) {
      toast(`Could not load older events: ${err.message}`, "error");
    } finally {
      this.older.disabled = false;
      this.updateFooter();
    }
  }

  onStreamMessage(type, data) {
    if (type === "event" && data && typeof data === "object") {
      this.add(data, "start");
      this.updateFooter();
    } else if (type === "update" && data && typeof data === "object" && data.id) {
      // A dedup follow-up was folded into this line: the hub sends the line as it is now (its ×N grew).
      this.updateEvent(data);
    } else if (type === "resolved" && data && data.id) {
      // An alert line was resolved (a recovery, its rule, a quiet time): "resolved after N min" in place.
      const { id, resolved_at, resolved_by, resolved_after_s } = data;
      this.updateEvent({ id, resolved_at, resolved_by, resolved_after_s });
    } else if (type === "ack" && data && data.id) {
      const row = this.rows.get(data.id);
      if (row) {
        row.event.acknowledged_at = data.acknowledged_at;
        this.refresh(row);
      }
    }
  }

  updateFooter() {
    this.older.hidden = !this.nextCursor;
    this.empty.hidden = this.rows.size > 0;
  }

  add(event, where) {
    if (this.rows.has(event.id)) return;
    if (typeof event.seq === "number" && (this.maxSeq === null || event.seq > this.maxSeq)) this.maxSeq = event.seq;
    const row = { event, el: null };
    row.el = this.render(row);
    this.rows.set(event.id, row);
    if (where === "start") row.el.classList.add("new");
    this.place(row);
  }

  /**
   * Put a row in the list, or in its incident's entry when it shares a trace id or fingerprint with
   * other lines. A loaded line brings the hub's `incident`; a live one (none) is counted in here.
   */
  place(row) {
    const key = incidentKey(row.event);
    if (!key) return insertByOrder(this.list, row.el);
    const group = this.groups.get(key) || { rows: [], incident: null, entry: null };
    this.groups.set(key, group);
    group.rows.push(row);
    group.incident = row.event.incident
      || (group.incident ? joinIncident(group.incident, row.event) : incidentOf(group.rows.map((r) => r.event)));
    if (group.incident.lines < 2) return insertByOrder(this.list, row.el);
    if (!group.entry) group.entry = new IncidentEntry(key);
    for (const r of group.rows) if (r.el.parentElement !== group.entry.lines) insertByOrder(group.entry.lines, r.el);
    this.showIncident(group);
  }

  showIncident(group) {
    group.entry.update(group.incident, JSON.parse(group.entry.lines.firstElementChild.dataset.order));
    group.entry.el.remove();
    insertByOrder(this.list, group.entry.el);
  }

  refresh(row) {
    const el = this.render(row);
    row.el.replaceWith(el);
    row.el = el;
  }

  /** Update an event shown in the list (an acknowledgement elsewhere in the app, a stream `update`). */
  updateEvent(event) {
    const row = this.rows.get(event.id);
    if (row) {
      const before = row.event;
      row.event = { ...row.event, ...event };
      this.refresh(row);
      const group = this.groups.get(incidentKey(row.event));
      if (group && group.entry) {
        group.incident = recount(group.incident, before, row.event);
        this.showIncident(group);
      }
    }
  }

  render(row) {
    const e = row.event;
    const level = levelName(e.level);
    const seen = e.last_seen_at ? `, last reported ${e.last_seen_at}` : "";
    const count = Number(e.count) > 1 ? h("span", { class: "count", title: `${e.count} occurrences${seen}`, text: `×${e.count}` }) : null;
    const link = safeUrl(e.link);
    const resolved = resolvedNote(e);
    return h(
      "li",
      { class: `event level-${level}${e.acknowledged_at ? " acked" : ""}`,
        dataset: { id: e.id, seq: e.seq ?? "", order: JSON.stringify(orderKey(e)) } },
      h(
        "a",
        { class: "event-main", href: `#/events/${encodeURIComponent(e.id)}` },
        h("div", { class: "event-head" },
          h("span", { class: `badge badge-${level}`, text: level }),
          h("span", { class: "event-title", text: e.title }),
          count,
          resolved ? h("span", { class: "chip resolved", title: e.resolved_by || "", text: resolved }) : null),
        e.body ? h("p", { class: "event-body", text: e.body }) : null,
        e.channel || (e.tags || []).length
          ? h("div", { class: "event-meta" },
            e.channel ? h("span", { class: "chip channel", text: `#${e.channel}` }) : null,
            (e.tags || []).map((t) => h("span", { class: "chip tag", text: t })))
          : null,
      ),
      h("div", { class: "event-side" },
        // The time heads the right-hand column of every row, so it lines up whatever else a row has.
        h("time", { datetime: e.ts, title: e.ts, text: relativeTime(e.ts) }),
        link ? h("a", { class: "ext", href: link, target: "_blank", rel: "noopener noreferrer", text: "link ↗" }) : null,
        ackControl(e, () => this.acknowledge(row))),
    );
  }

  async acknowledge(row) {
    try {
      const updated = await this.api.ack(row.event.id);
      row.event = { ...row.event, ...(updated || {}), acknowledged_at: updated?.acknowledged_at || new Date().toISOString() };
      this.refresh(row);
      toast("Acknowledged: re-pushing stopped on every device.");
    } catch (err) {
      toast(`Could not acknowledge: ${err.message}`, "error");
    }
  }
}

/** [log time in ms, seq]: what the feed sorts by (newest first). */
export function orderKey(event) {
  const t = Date.parse(event.ts);
  const seq = Number(event.seq);
  return [Number.isFinite(t) ? t : 0, Number.isFinite(seq) ? seq : 0];
}

/**
 * Insert a row (or an incident's entry) into `list` at its place: newest first by log time (ts), not
 * by arrival: a client sends pushes before feed-only events, so an INFO logged before a WARNING may
 * arrive after it. Ties (and bad times) by arrival (seq).
 */
function insertByOrder(list, el) {
  const key = JSON.parse(el.dataset.order);
  const before = [...list.children].find((li) => li !== el && isOlder(JSON.parse(li.dataset.order), key));
  list.insertBefore(el, before || null);
}

/** Whether a row with order key `a` belongs below one with key `b`. */
export function isOlder(a, b) {
  return a[0] < b[0] || (a[0] === b[0] && a[1] < b[1]);
}

/** The acknowledge button for unacknowledged CRITICAL events, a check mark once acknowledged. */
export function ackControl(event, onAck) {
  if (event.acknowledged_at) {
    return h("span", { class: "acked-mark", title: `acknowledged ${event.acknowledged_at}`, text: "✓ acknowledged" });
  }
  if (levelName(event.level) !== "critical") return null;
  return h("button", {
    class: "ack danger", type: "button", text: "Acknowledge",
    onclick: (ev) => {
      ev.preventDefault();
      ev.currentTarget.disabled = true;
      onAck();
    },
  });
}
