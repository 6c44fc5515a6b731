// An identity blob's value is a user's SSO access token: a secret. Page state goes into the URL
// (history, synced history, shared links), so every value written there has its blobs replaced
// by a placeholder. The rules only need to know that a blob is present.

export const BLOB_PLACEHOLDER = '<SSO access token: not kept in links>';

/** Whether member `k` with value `x` is an identity blob whose value is a token (not the placeholder). */
function secretBlob(k: string, x: unknown): x is Record<string, unknown> {
  if (k !== 'identityBlob' || !x || typeof x !== 'object') return false;
  const value = (x as Record<string, unknown>).value;
  return value !== undefined && value !== null && value !== '' && value !== BLOB_PLACEHOLDER;
}

/** Whether `v` holds a secret blob at any depth. */
function hasBlob(v: unknown): boolean {
  if (Array.isArray(v)) return v.some(hasBlob);
  if (!v || typeof v !== 'object') return false;
  return Object.entries(v).some(([k, x]) => secretBlob(k, x) || hasBlob(x));
}

function replaced(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(replaced);
  if (!v || typeof v !== 'object') return v;
  const out: Record<string, unknown> = {};
  for (const [k, x] of Object.entries(v)) {
    out[k] = secretBlob(k, x) ? { ...x, value: BLOB_PLACEHOLDER } : replaced(x);
  }
  return out;
}

/** `v` itself when it holds no secret, else a copy with every blob value replaced. */
export function redact<T>(v: T): T {
  return hasBlob(v) ? (replaced(v) as T) : v;
}

/**
 * JSON text with its blob values replaced, keeping the user's layout where it can. `undefined`
 * for text that is not JSON and mentions a blob: it cannot be made safe, so it is not written.
 */
export function redactText(text: string): string | undefined {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    return /identityBlob/.test(text) ? undefined : text;
  }
  if (!hasBlob(v)) return text;
  const safe = replaced(v);
  const kept = text.replace(
    /("identityBlob"\s*:\s*\{\s*"value"\s*:\s*)"(?:[^"\\]|\\.)*"/g,
    (_, head: string) => `${head}${JSON.stringify(BLOB_PLACEHOLDER)}`,
  );
  try {
    if (JSON.stringify(JSON.parse(kept)) === JSON.stringify(safe)) return kept;
  } catch {}
  return JSON.stringify(safe, null, 2);
}
