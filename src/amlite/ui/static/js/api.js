// The API seen from the page: bearer token in sessionStorage, api-version, ARM errors.

export const API_VERSION = "2021-03-01-preview";
const TOKEN_KEY = "amlite.studio.token";
const WS_KEY = "amlite.studio.workspace";
export const DEFAULT_WORKSPACE = Object.freeze({
  sub: "00000000-0000-0000-0000-000000000000",
  rg: "amlite",
  ws: "default",
});

export class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

export class Unauthorized extends ApiError {}

export function getToken() {
  return sessionStorage.getItem(TOKEN_KEY) || "";
}

export function setToken(token) {
  sessionStorage.setItem(TOKEN_KEY, token);
}

export function clearToken() {
  sessionStorage.removeItem(TOKEN_KEY);
}

export function getWorkspace() {
  try {
    const saved = JSON.parse(localStorage.getItem(WS_KEY) || "null");
    if (saved && saved.sub && saved.rg && saved.ws) return saved;
  } catch {
    /* fall through to the default */
  }
  return { ...DEFAULT_WORKSPACE };
}

export function setWorkspace(ws) {
  localStorage.setItem(WS_KEY, JSON.stringify({ sub: ws.sub, rg: ws.rg, ws: ws.ws }));
}

export function wsPath(ws) {
  const e = encodeURIComponent;
  return (
    `/subscriptions/${e(ws.sub)}/resourceGroups/${e(ws.rg)}` +
    `/providers/Microsoft.MachineLearningServices/workspaces/${e(ws.ws)}`
  );
}

export function jobPath(ws, name) {
  return `${wsPath(ws)}/jobs/${encodeURIComponent(name)}`;
}

/** The page of a job, in the format of the job's Studio interaction endpoint. */
export function jobHref(ws, name) {
  return `#/jobs${jobPath(ws, name)}`;
}

/** A server link (absolute nextLink) as a same-origin path, whatever host name we were opened by. */
export function localPath(link) {
  const url = new URL(link, location.origin);
  return url.pathname + url.search;
}

function withVersion(path, params) {
  const url = new URL(path, location.origin);
  if (!url.searchParams.has("api-version")) url.searchParams.set("api-version", API_VERSION);
  for (const [k, v] of Object.entries(params || {})) {
    if (v !== undefined && v !== null && v !== "") url.searchParams.set(k, String(v));
  }
  return url.pathname + url.search;
}

/**
 * fetch with the bearer token. Returns the Response (for raw=true) or the parsed JSON.
 * 401 clears the token and throws Unauthorized; other errors throw ApiError with the
 * ARM envelope's code and message.
 */
export async function request(path, { method = "GET", params, raw = false, signal, body } = {}) {
  const token = getToken();
  if (!token) throw new Unauthorized(401, "NoToken", "sign in first");
  const headers = { Authorization: `Bearer ${token}` };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const resp = await fetch(withVersion(path, params), {
    method,
    headers,
    signal,
    body: body === undefined ? undefined : JSON.stringify(body),
    cache: "no-store",
  });
  if (resp.status === 401) {
    clearToken();
    throw new Unauthorized(401, "Unauthorized", await errorMessage(resp));
  }
  if (!resp.ok) {
    const text = await errorMessage(resp);
    throw new ApiError(resp.status, resp.statusText, text);
  }
  if (raw) return resp;
  const text = await resp.text();
  return text ? JSON.parse(text) : null;
}

async function errorMessage(resp) {
  const text = await resp.text();
  try {
    const data = JSON.parse(text);
    if (data && data.error) return `${data.error.code}: ${data.error.message}`;
    if (data && data.message) return String(data.message);
  } catch {
    /* not JSON */
  }
  return text || `${resp.status} ${resp.statusText}`;
}

/** Save a file the API serves (the download needs the token, so no plain link). */
export async function download(path, filename) {
  const resp = await request(path, { raw: true });
  const blob = await resp.blob();
  const url = URL.createObjectURL(blob);
  const a = document.createElement("a");
  a.href = url;
  a.download = filename;
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}
