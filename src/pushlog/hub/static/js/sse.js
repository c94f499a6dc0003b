// A Server-Sent Events reader on fetch(). EventSource cannot send an Authorization header, so the feed
// reads /v1/stream itself: it parses the text/event-stream format (WHATWG HTML §9.2), remembers the
// last `id:` and reconnects with Last-Event-ID after a dropped connection, backing off up to 15 s.
// A watchdog reconnects when nothing (not even the hub's 15 s keepalive comment) arrived for 45 s.

const MAX_BACKOFF_MS = 15000;
const SILENCE_MS = 45000;

/** Parse an event-stream incrementally; call `dispatch({type, data, id})` for every complete event. */
export class EventStreamParser {
  constructor(dispatch) {
    this.dispatch = dispatch;
    this.buffer = "";
    this.type = "";
    this.data = [];
    this.lastEventId = null;
    this.retry = null;
  }

  feed(text) {
    // A chunk that ends in "\r" may be the first half of "\r\n": hold it back until the next chunk.
    let data = this.buffer + text;
    let held = "";
    if (data.endsWith("\r")) {
      held = "\r";
      data = data.slice(0, -1);
    }
    const lines = data.split(/\r\n|\r|\n/);
    this.buffer = lines.pop() + held; // the unfinished last line
    for (const line of lines) this.line(line);
  }

  line(line) {
    if (line === "") {
      if (this.data.length) {
        this.dispatch({ type: this.type || "message", data: this.data.join("\n"), id: this.lastEventId });
      }
      this.type = "";
      this.data = [];
      return;
    }
    if (line.startsWith(":")) return; // comment (keepalive)
    const colon = line.indexOf(":");
    const field = colon === -1 ? line : line.slice(0, colon);
    let value = colon === -1 ? "" : line.slice(colon + 1);
    if (value.startsWith(" ")) value = value.slice(1);
    if (field === "event") this.type = value;
    else if (field === "data") this.data.push(value);
    else if (field === "id" && !value.includes("\0")) this.lastEventId = value;
    else if (field === "retry" && /^\d+$/.test(value)) this.retry = Number(value);
  }
}

export class LiveStream {
  /**
   * @param {object} o
   * @param {string} o.url        stream URL including the filter query
   * @param {string} o.key        read key
   * @param {string|null} o.lastEventId  resume after this id (the newest seq the page already shows)
   * @param {(type: string, data: any, id: string|null) => void} o.onMessage
   * @param {(state: "connecting"|"live"|"reconnecting"|"denied", detail?: string, status?: number) => void} o.onState
   */
  constructor({ url, key, lastEventId = null, onMessage, onState = () => {} }) {
    this.url = url;
    this.key = key;
    this.lastEventId = lastEventId;
    this.onMessage = onMessage;
    this.onState = onState;
    this.stopped = false;
    this.controller = null;
    this.failures = 0;
  }

  start() {
    this.loop();
    return this;
  }

  stop() {
    this.stopped = true;
    if (this.controller) this.controller.abort();
  }

  async loop() {
    while (!this.stopped) {
      let retryMs = null;
      try {
        retryMs = await this.connectOnce();
      } catch (err) {
        if (this.stopped) return;
        if (err && err.fatal) {
          this.onState("denied", err.message, err.status);
          return;
        }
      }
      if (this.stopped) return;
      this.failures += 1;
      const backoff = retryMs ?? Math.min(MAX_BACKOFF_MS, 500 * 2 ** Math.min(this.failures, 5));
      this.onState("reconnecting", `reconnecting in ${Math.round(backoff / 1000)} s`);
      await new Promise((resolve) => setTimeout(resolve, backoff * (0.8 + Math.random() * 0.4)));
    }
  }

  /** One connection: resolves when it ends (returns the server's retry hint), throws when refused. */
  async connectOnce() {
    this.controller = new AbortController();
    const headers = { Authorization: `Bearer ${this.key}`, Accept: "text/event-stream" };
    if (this.lastEventId !== null && this.lastEventId !== undefined) headers["Last-Event-ID"] = String(this.lastEventId);
    this.onState("connecting");
    const response = await fetch(this.url, { headers, signal: this.controller.signal, cache: "no-store" });
    if (response.status === 401 || response.status === 403 || response.status === 400) {
      let message = `${response.status}`;
      try {
        message = (await response.json()).error.message;
      } catch {
        /* keep the status */
      }
      const err = new Error(message);
      err.fatal = true;
      err.status = response.status;
      throw err;
    }
    if (!response.ok || !response.body) return null;
    this.onState("live");
    this.failures = 0;
    const parser = new EventStreamParser((msg) => {
      let data = msg.data;
      try {
        data = JSON.parse(msg.data);
      } catch {
        /* leave as text */
      }
      if (msg.id !== null) this.lastEventId = msg.id;
      this.onMessage(msg.type, data, msg.id);
    });
    if (this.lastEventId !== null) parser.lastEventId = this.lastEventId;
    const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
    let watchdog = null;
    const arm = () => {
      clearTimeout(watchdog);
      watchdog = setTimeout(() => this.controller.abort(), SILENCE_MS);
    };
    try {
      arm();
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        arm();
        parser.feed(value);
      }
    } finally {
      clearTimeout(watchdog);
    }
    return parser.retry;
  }
}
