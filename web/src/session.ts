/**
 * The dashboard's sign-in: `hull dashboard` prints a link whose fragment
 * carries the daemon's token (`/#token=…`; a fragment never leaves the
 * browser). It is kept in this origin's localStorage, which is the
 * dashboard's alone (scheme, host and port), and sent as `Authorization:
 * Bearer` on every call and as a WebSocket subprotocol. Not a cookie: a
 * browser sends a host's cookies to every port of it, so any local user's web
 * server on 127.0.0.1 would get them.
 */
const KEY = 'hull.dashboard.token';

/** Take the token from a sign-in link's fragment (and drop it from the address bar and history). */
export function takeTokenFromLink(): void {
  const m = /^#token=([0-9a-f]{64})$/.exec(location.hash);
  if (!m) return;
  localStorage.setItem(KEY, m[1]);
  history.replaceState(null, '', `${location.pathname}${location.search}#/overview`);
}

export const token = (): string => localStorage.getItem(KEY) ?? '';

export function forgetToken(): void {
  localStorage.removeItem(KEY);
}

/** The header every API call carries. */
export const authHeader = (): Record<string, string> => (token() ? { Authorization: `Bearer ${token()}` } : {});

/** The subprotocols a console WebSocket offers: the protocol, and the token (browsers cannot set headers on a WebSocket). */
export const wsProtocols = (): string[] => ['hull.v1', ...(token() ? [`bearer.${token()}`] : [])];
