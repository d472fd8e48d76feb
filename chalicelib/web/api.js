// The API client: the key lives in sessionStorage (this tab only), every path is relative to the
// page, so the dashboard only ever talks to the API that served it.
const KEY = "conductor.key";

export class ApiError extends Error {
  constructor(status, error) {
    super(error?.message || `HTTP ${status}`);
    this.status = status;
    this.code = error?.code || "http_error";
    this.details = error?.details || [];
  }
}

export const session = {
  key: sessionStorage.getItem(KEY) || "",
  role: null,
  name: null,
  websocketUrl: null,
  get canWrite() {
    return this.role === "operator" || this.role === "admin";
  },
  save(key) {
    this.key = key;
    sessionStorage.setItem(KEY, key);
  },
  clear() {
    this.key = "";
    this.role = null;
    sessionStorage.removeItem(KEY);
  },
};

/** Call the API; resolves to the JSON body, rejects with an ApiError carrying the error shape. */
export async function api(path, { method = "GET", body, query } = {}) {
  let url = "v2/" + path;
  if (query) {
    const params = new URLSearchParams();
    for (const [k, v] of Object.entries(query)) if (v !== undefined && v !== null && v !== "") params.set(k, v);
    if ([...params].length) url += "?" + params;
  }
  const headers = { Authorization: "Bearer " + session.key };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const response = await fetch(url, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await response.text();
  const data = text ? JSON.parse(text) : null;
  if (!response.ok) throw new ApiError(response.status, data?.error);
  return data;
}

/** Every page of a list, up to ``limit`` items; ``.more`` on the result says some were left. */
export async function all(path, query = {}, limit = 500) {
  const items = [];
  let cursor;
  do {
    const page = await api(path, { query: { ...query, limit: 100, cursor } });
    items.push(...page.items);
    cursor = page.next_cursor;
  } while (cursor && items.length < limit);
  items.more = Boolean(cursor);
  return items;
}
