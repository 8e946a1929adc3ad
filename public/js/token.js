/**
 * Reads a JWT's claims for display. This does NOT verify anything (only the server can);
 * it lets the page say whose token it is and when it expires. Null when unreadable.
 */
export function readClaims(token) {
  const part = String(token).split('.')[1];
  if (!part) return null;
  try {
    const base64 = part.replaceAll('-', '+').replaceAll('_', '/').padEnd(Math.ceil(part.length / 4) * 4, '=');
    const bytes = Uint8Array.from(globalThis.atob(base64), (char) => char.charCodeAt(0));
    const claims = JSON.parse(new globalThis.TextDecoder().decode(bytes));
    return typeof claims === 'object' && claims !== null ? claims : null;
  } catch {
    return null;
  }
}

/** "alice · tenant acme · expires 14:02 (in 59 min)", or why the token looks wrong. */
export function describeToken(token) {
  if (!token) return '';
  const claims = readClaims(token);
  if (!claims) return 'This does not look like a JWT (three dot-separated parts).';
  const user = claims.userId ?? claims.sub;
  const parts = [user ? `For user ${user}` : 'No userId or sub claim: the server will refuse it'];
  if (claims.tenantId) parts.push(`tenant ${claims.tenantId}`);
  if (typeof claims.exp === 'number') {
    const minutes = Math.round((claims.exp * 1000 - Date.now()) / 60000);
    const at = new Date(claims.exp * 1000).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit', hour12: false });
    parts.push(minutes < 0 ? `expired at ${at}` : `expires ${at} (in ${minutes} min)`);
  } else {
    parts.push('no exp claim: the server will refuse it');
  }
  return parts.join(' · ');
}
