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

// The ApiError of an answer that is not 2xx, with its problem+json when it carries one.
async function failure(response) {
  let problem = null;
  try {
    problem = await response.json();
  } catch {
    problem = null;
  }
  return new ApiError(response.status, problem);
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
  if (!response.ok) throw await failure(response);
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

// A document of the signed-in partner (a PDF, a CSV) saved as a file: the bearer token
// cannot ride on a plain link, so the file is fetched and handed to the browser as a blob.
export async function download(path, params, filename) {
  const url = new URL(`/v1/partners/${encodeURIComponent(session.partnerId)}${path}`, window.location.origin);
  for (const [key, value] of Object.entries(params || {})) url.searchParams.set(key, value);
  let response;
  try {
    response = await fetch(url, { headers: { Authorization: `Bearer ${session.token}` }, cache: "no-store" });
  } catch (e) {
    throw new ApiError(0, { detail: `the service could not be reached (${e.message})` });
  }
  if (!response.ok) {
    if (response.status === 401) unauthorized();
    throw await failure(response);
  }
  const href = URL.createObjectURL(await response.blob());
  const anchor = Object.assign(document.createElement("a"), { href, download: filename });
  document.body.append(anchor);
  anchor.click();
  anchor.remove();
  setTimeout(() => URL.revokeObjectURL(href), 60_000);
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
