// An identity blob's value is a user's SSO access token: a secret. Page state goes into the URL
// (history, synced history, shared links), so every value written there has its blobs replaced
// by a placeholder. The rules only need to know that a blob is present, and in which shape.
//
// A blob is any member named `identityBlob` in any case (the core suggests the right spelling for
// `IdentityBlob`, but the token is in the text until the user takes that fix), whatever its shape:
// every string in it is a token to hide (`{"value": t}`, `{"Value": t}`, a bare string).

export const BLOB_PLACEHOLDER = '<SSO access token: not kept in links>';

const isBlobKey = (k: string): boolean => k.toLowerCase() === 'identityblob';

/** Whether `x`, the value of a blob, holds a string that is not empty and not the placeholder. */
function holdsToken(x: unknown): boolean {
  if (typeof x === 'string') return x !== '' && x !== BLOB_PLACEHOLDER;
  if (Array.isArray(x)) return x.some(holdsToken);
  if (x && typeof x === 'object') return Object.values(x).some(holdsToken);
  return false;
}

/** A blob's value with every non-empty string replaced by the placeholder, its shape kept. */
function hidden(x: unknown): unknown {
  if (typeof x === 'string') return x === '' ? x : BLOB_PLACEHOLDER;
  if (Array.isArray(x)) return x.map(hidden);
  if (x && typeof x === 'object') return Object.fromEntries(Object.entries(x).map(([k, y]) => [k, hidden(y)]));
  return x;
}

/** Whether `v` holds a secret blob at any depth. */
function hasBlob(v: unknown): boolean {
  if (Array.isArray(v)) return v.some(hasBlob);
  if (!v || typeof v !== 'object') return false;
  return Object.entries(v).some(([k, x]) => (isBlobKey(k) && holdsToken(x)) || hasBlob(x));
}

function replaced(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(replaced);
  if (!v || typeof v !== 'object') return v;
  const out: Record<string, unknown> = {};
  for (const [k, x] of Object.entries(v)) out[k] = isBlobKey(k) ? hidden(x) : replaced(x);
  return out;
}

/** `v` itself when it holds no secret, else a copy with every blob's strings replaced. */
export function redact<T>(v: T): T {
  return hasBlob(v) ? (replaced(v) as T) : v;
}

// A blob's token in JSON text: `"identityBlob": "t"` or `"identityBlob": {"value": "t"}` (any case).
const STRING = String.raw`"(?:[^"\\]|\\.)*"`;
const BLOB_IN_TEXT = new RegExp(String.raw`("identityblob"\s*:\s*(?:\{\s*${STRING}\s*:\s*)?)${STRING}`, 'gi');

/**
 * JSON text with its blobs' tokens replaced, keeping the user's layout where it can. `undefined`
 * for text that is not JSON and mentions a blob: it cannot be made safe, so it is not written.
 */
export function redactText(text: string): string | undefined {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    return /identityblob/i.test(text) ? undefined : text;
  }
  if (!hasBlob(v)) return text;
  const safe = replaced(v);
  const kept = text.replace(BLOB_IN_TEXT, (_, head: string) => `${head}${JSON.stringify(BLOB_PLACEHOLDER)}`);
  try {
    if (JSON.stringify(JSON.parse(kept)) === JSON.stringify(safe)) return kept;
  } catch {}
  return JSON.stringify(safe, null, 2);
}
