// The public JSON API as the portal reads it: problem+json errors as ApiError, the
// signed-in partner's resources, every page of a list.
import { session, unauthorized } from "./session.js";

const PAGE_LIMIT = 500;
const MAX_PAGES = 40;

export class ApiError extends Error {
  constructor(status, problem) {
    super((problem && (problem.detail || problem.title)) || `HTTP ${status}`);
    this.status = status;
    this.problem = problem || {};
  }
}

export async function request(path, params, token, { method = "GET", body } = {}) {
  const url = new URL(path, window.location.origin);
  for (const [key, value] of Object.entries(params || {})) {
    if (value !== null && value !== undefined && value !== "") url.searchParams.set(key, value);
  }
  let response;
  try {
    const headers = { Authorization: `Bearer ${token}`, Accept: "application/json" };
    if (body !== undefined) headers["Content-Type"] = "application/json";
    // A retried POST (a double click, a lost answer) records nothing twice.
    if (method === "POST") headers["Idempotency-Key"] = crypto.randomUUID();
    response = await fetch(url, {
      method, headers, cache: "no-store",
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch (e) {
    throw new ApiError(0, { detail: `the service could not be reached (${e.message})` });
  }
  if (!response.ok) {
    let problem = null;
    try {
      problem = await response.json();
    } catch {
      problem = null;
    }
    throw new ApiError(response.status, problem);
  }
  return response.status === 204 ? null : response.json();
}

// A read of the signed-in partner's resource; a 401 mid-session signs out.
export async function api(path, params) {
  try {
    return await request(`/v1/partners/${encodeURIComponent(session.partnerId)}${path}`,
      params, session.token);
  } catch (e) {
    if (e instanceof ApiError && e.status === 401) {
      unauthorized();
    }
    throw e;
  }
}

// A change to the signed-in partner's resource (POST, DELETE); a 401 signs out.
export async function apiSend(method, path, body) {
  try {
    return await request(`/v1/partners/${encodeURIComponent(session.partnerId)}${path}`,
      null, session.token, { method, body });
  } catch (e) {
    if (e instanceof ApiError && e.status === 401) unauthorized();
    throw e;
  }
}

// Every page of a list (limit 500 per page).
export async function apiAll(path, params) {
  const rows = [];
  let cursor = null;
  for (let n = 0; n < MAX_PAGES; n += 1) {
    const page = await api(path, { ...params, limit: PAGE_LIMIT, cursor });
    rows.push(...page.data);
    cursor = page.next_cursor;
    if (!cursor) break;
  }
  return rows;
}

export function problemText(error) {
  if (!(error instanceof ApiError)) return `Something went wrong: ${error.message}`;
  if (error.status === 403) return `This key may not read this view: ${error.message}.`;
  if (error.status === 404) return `Not found: ${error.message}.`;
  if (error.status === 0) return `The service could not be reached: ${error.message}.`;
  return `The service answered ${error.status}: ${error.message}.`;
}
