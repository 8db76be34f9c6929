// The REST API as the app uses it: every call is a POST of JSON to /<service.action> on this
// origin, signed in by the session cookie (HttpOnly, so this code never sees the token) and the
// X-ClearML-Web header that lets the server accept it. Errors carry the server's message.

export class ApiError extends Error {
  constructor(endpoint, status, code, subcode, msg) {
    super(`${endpoint}: ${msg || 'request failed'}` + (code ? ` (${code}/${subcode})` : ''));
    this.endpoint = endpoint; this.status = status; this.code = code; this.subcode = subcode;
  }
}

let onUnauthorized = () => {};
export function setUnauthorizedHandler(fn) { onUnauthorized = fn; }

export async function call(endpoint, body = {}) {
  let r;
  try {
    r = await fetch(`/${endpoint}`, {
      method: 'POST', credentials: 'same-origin', cache: 'no-store',
      headers: { 'Content-Type': 'application/json', 'X-ClearML-Web': '1' },
      body: JSON.stringify(body),
    });
  } catch (e) {
    throw new ApiError(endpoint, 0, 0, 0, `the server cannot be reached (${e.message})`);
  }
  let env = null;
  try { env = await r.json(); } catch (e) { /* not JSON */ }
  const meta = env && env.meta;
  if (!meta) throw new ApiError(endpoint, r.status, r.status, 0, `HTTP ${r.status}`);
  if (meta.result_code !== 200) {
    if (meta.result_code === 401) onUnauthorized();
    throw new ApiError(endpoint, r.status, meta.result_code, meta.result_subcode, meta.result_msg);
  }
  return env.data || {};
}

export async function session(method, body) {
  const r = await fetch('/ui/session', {
    method, credentials: 'same-origin', cache: 'no-store',
    headers: { 'Content-Type': 'application/json', 'X-ClearML-Web': '1' },
    body: body ? JSON.stringify(body) : undefined,
  });
  let data = {};
  try { data = await r.json(); } catch (e) { /* empty */ }
  return { ok: r.ok, status: r.status, data };
}
