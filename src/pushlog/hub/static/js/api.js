// The hub's HTTP API as the web app uses it. The read key lives in localStorage (the user signs in with
// it, signs out to remove it); every request carries it as a Bearer token.

const KEY_STORAGE = "pushlog.key";

/**
 * API paths are written from the hub's root ("/v1/events"); requests go relative to the page, so a hub
 * served under a path prefix behind a reverse proxy (https://example.com/pushlog/) works unchanged.
 */
export function apiUrl(path) {
  return path.startsWith("/") ? `.${path}` : path;
}

export class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

export function storedKey() {
  return localStorage.getItem(KEY_STORAGE);
}

export function storeKey(key) {
  localStorage.setItem(KEY_STORAGE, key);
}

export function forgetKey() {
  localStorage.removeItem(KEY_STORAGE);
}

/** Build a query string from an object, skipping empty values; arrays repeat the parameter. */
export function query(params) {
  const q = new URLSearchParams();
  for (const [key, value] of Object.entries(params)) {
    if (value === null || value === undefined || value === "") continue;
    if (Array.isArray(value)) value.forEach((v) => q.append(key, v));
    else q.append(key, String(value));
  }
  const text = q.toString();
  return text ? `?${text}` : "";
}

export class Api {
  constructor(key, { onUnauthorized = () => {} } = {}) {
    this.key = key;
    this.onUnauthorized = onUnauthorized;
  }

  headers(extra = {}) {
    return { Authorization: `Bearer ${this.key}`, Accept: "application/json", ...extra };
  }

  /** Send a request; resolve to the parsed JSON (or null for 204), reject with ApiError. */
  async request(method, path, body = undefined, { signal } = {}) {
    let response;
    try {
      response = await fetch(apiUrl(path), {
        method,
        headers: this.headers(body === undefined ? {} : { "Content-Type": "application/json" }),
        body: body === undefined ? undefined : JSON.stringify(body),
        signal,
        cache: "no-store",
      });
    } catch (err) {
      if (err.name === "AbortError") throw err;
      throw new ApiError(0, "network", `The hub did not answer (${err.message || err}).`);
    }
    if (response.status === 204) return null;
    let data = null;
    const text = await response.text();
    try {
      data = text ? JSON.parse(text) : null;
    } catch {
      data = null;
    }
    if (!response.ok) {
      const error = data && data.error ? data.error : {};
      const message = error.message || `${response.status} ${response.statusText}`.trim();
      const err = new ApiError(response.status, error.code || "http_error", message);
      if (response.status === 401) this.onUnauthorized(err);
      throw err;
    }
    return data;
  }

  get(path, options) {
    return this.request("GET", path, undefined, options);
  }

  post(path, body = {}, options) {
    return this.request("POST", path, body, options);
  }

  put(path, body, options) {
    return this.request("PUT", path, body, options);
  }

  patch(path, body, options) {
    return this.request("PATCH", path, body, options);
  }

  delete(path, options) {
    return this.request("DELETE", path, undefined, options);
  }

  listEvents(filters, cursor = null, limit = 50, extra = {}) {
    return this.get(`/v1/events${query({ ...filterParams(filters), cursor, limit, ...extra })}`);
  }

  getEvent(id) {
    return this.get(`/v1/events/${encodeURIComponent(id)}`);
  }

  ack(id) {
    return this.post(`/v1/events/${encodeURIComponent(id)}/ack`, {});
  }
}

/**
 * Turn the feed's filter form into API parameters. `meta` is free text: "user_id=42 plan=pro" or
 * "meta.user_id=42"; each pair becomes a `meta.KEY=VALUE` parameter.
 */
export function filterParams(filters = {}) {
  const params = {};
  if (filters.level) params.level = filters.level;
  if (filters.channel) params.channel = filters.channel.trim();
  if (filters.tag) params.tag = filters.tag.trim();
  if (filters.q) params.q = filters.q.trim();
  if (filters.since) params.since = filters.since;
  for (const [key, value] of parseMeta(filters.meta || "")) params[`meta.${key}`] = value;
  return params;
}

/** "a=1 meta.b=two" -> [["a","1"],["b","two"]]; throws a readable Error for a pair without "=". */
export function parseMeta(text) {
  const pairs = [];
  for (const part of text.split(/[\s,]+/).filter(Boolean)) {
    const eq = part.indexOf("=");
    if (eq <= 0) throw new Error(`Metadata filter "${part}" needs the form key=value.`);
    const key = part.slice(0, eq).replace(/^meta\./, "");
    if (!key) throw new Error(`Metadata filter "${part}" has no key.`);
    pairs.push([key, part.slice(eq + 1)]);
  }
  return pairs;
}
