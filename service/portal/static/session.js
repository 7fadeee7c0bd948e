// Who is signed in: the partner, the key and what it may read. app.js keeps the record (in
// the tab's storage) and sets it here; the other modules read the live binding.

export let session = null;
let onUnauthorized = () => {};

export function setSession(value) {
  session = value;
}

// Whether the signed-in key's role holds `permission` (as GET /v1/me lists them): the
// portal offers only the actions the key may take.
export function can(permission) {
  return Boolean(session && (session.permissions || []).includes(permission));
}

// app.js registers what a 401 mid-session does (sign out); api.js and verify.js call it.
export function whenUnauthorized(fn) {
  onUnauthorized = fn;
}

export function unauthorized() {
  onUnauthorized("Your API key is no longer accepted (unknown or revoked). Sign in again.");
}
