// Page state in the URL hash (`#s=<base64url JSON>`), so a link restores it.
function toB64Url(bytes: Uint8Array): string {
  let bin = '';
  for (const b of bytes) bin += String.fromCharCode(b);
  return btoa(bin).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

function fromB64Url(s: string): Uint8Array {
  const bin = atob(s.replace(/-/g, '+').replace(/_/g, '/'));
  return Uint8Array.from(bin, (c) => c.charCodeAt(0));
}

export function encode(text: string): string {
  return toB64Url(new TextEncoder().encode(text));
}

export function decode(s: string): string | undefined {
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(fromB64Url(s));
  } catch {
    return undefined;
  }
}

/** Reads `key` from the hash's `k=v&k=v` pairs. */
export function read(key: string): string | undefined {
  const params = new URLSearchParams(location.hash.replace(/^#/, ''));
  return params.get(key) ?? undefined;
}

/** Replaces the hash (no history entry per keystroke). */
export function write(pairs: Record<string, string | undefined>): void {
  const params = new URLSearchParams();
  for (const [k, v] of Object.entries(pairs)) if (v !== undefined && v !== '') params.set(k, v);
  const hash = params.toString();
  history.replaceState(null, '', hash ? `#${hash}` : location.pathname + location.search);
}

export function shareUrl(): string {
  return location.href;
}
