// @embedgate/embed: embeds Power BI reports with embed tokens from an Embedgate token endpoint (the worker's
// `POST /api/token`). One V2 token covers every report of a session and is refreshed in place with
// `setAccessToken`: on a timer before it expires, when a sleeping tab becomes visible, and on `TokenExpired`.
// The token lives in this module's memory only: never in a URL, storage or a log line.
import { factories, models, service } from 'powerbi-client';
import type { Report } from 'powerbi-client';
import type { Diagnostic, ErrorBody, TokenResponse } from './api.js';

export type {
  Diagnostic,
  ErrorBody,
  ListedReport,
  ReportsResponse,
  TokenReport,
  TokenResponse,
} from './api.js';

/** What went wrong, in the terms a portal acts on. */
export type ErrorKind =
  /** 401: the portal's sign-in expired or was refused; sign the user in again, then `refresh()`. */
  | 'signin'
  /** 403: this user's organisation may not embed the item (`forbidden_item`), or embedding is disabled. */
  | 'forbidden'
  /** 400/404/405/413/415: the request itself is wrong (`path` points at the field). */
  | 'invalid_request'
  /** 422: the core refused the token request; `diagnostics` says why, with rule codes. */
  | 'validation'
  /** 429 after the retries: too many tokens for this user or organisation. */
  | 'rate_limited'
  /** 503 after the retries, or another 5xx: the token service or Power BI is unavailable. */
  | 'unavailable'
  /** The endpoint could not be reached, or answered something that is not a token. */
  | 'network'
  /** Power BI's embed reported an error other than an expired token. */
  | 'embed';

export class EmbedgateError extends Error {
  readonly kind: ErrorKind;
  /** HTTP status of the token endpoint's answer, when there was one. */
  readonly status?: number;
  /** The endpoint's stable error code (`forbidden_item`, `validation_failed`, ...). */
  readonly code?: string;
  /** JSON Pointer into the request body where the problem is. */
  readonly path?: string;
  /** Seconds the endpoint asked to wait (429/503). */
  readonly retryAfter?: number;
  /** The core's diagnostics (422). */
  readonly diagnostics: Diagnostic[];
  /** The report an `embed` error came from. */
  readonly reportId?: string;

  constructor(
    kind: ErrorKind,
    message: string,
    extra: { status?: number; body?: Partial<ErrorBody> | null; reportId?: string } = {},
  ) {
    super(message);
    this.name = 'EmbedgateError';
    this.kind = kind;
    this.status = extra.status;
    this.code = extra.body?.error ?? undefined;
    this.path = extra.body?.path ?? undefined;
    this.retryAfter = extra.body?.retryAfter ?? undefined;
    this.diagnostics = extra.body?.diagnostics ?? [];
    this.reportId = extra.reportId;
  }
}

/** Why a token was fetched. */
export type TokenReason = 'initial' | 'scheduled' | 'visible' | 'expired' | 'manual' | 'retry';

export interface EmbedgateEvents {
  /** A token was fetched and given to every report (never carries the token itself). */
  token: { reason: TokenReason; tokenId: string; expiration: string; expiresInSeconds: number; refreshAt: Date };
  /** A 429/503 (or a network failure) is retried after `delaySeconds`. */
  retry: { attempt: number; status: number | null; delaySeconds: number };
  /** A refresh or an embed failed; the session keeps trying unless `kind` is `signin` or `forbidden`. */
  error: EmbedgateError;
  /** A report's `loaded` event. */
  loaded: { reportId: string };
  /** A report's `rendered` event (again after each refresh). */
  rendered: { reportId: string };
}

export type Handlers = { [K in keyof EmbedgateEvents]: (detail: EmbedgateEvents[K]) => void };

export interface ReportTarget {
  reportId: string;
  /** The element the report's iframe goes into. */
  container: HTMLElement;
  /** Passed to `powerbi.embed` as `settings`. */
  settings?: models.ISettings;
  /** Page to open (`pageName` of the embed configuration). */
  pageName?: string;
}

export interface EmbedOptions {
  /** Base URL of the token endpoint; `''` (the default) is the page's own origin. */
  endpoint?: string;
  /** The signed-in portal user's token (a JWT the worker verifies), asked for before every request. */
  getUserToken: () => string | Promise<string>;
  /** The reports to embed. They share one embed token. */
  reports: ReportTarget[];
  /** The `powerbi-client` service; default `window.powerbi`. */
  powerbi?: service.Service;
  /** Refresh this many seconds before `expiration` (at most half the token's lifetime). Default 600. */
  refreshMarginSeconds?: number;
  /** Retries of a 429, a 503 or a network failure per request. Default 3. */
  maxRetries?: number;
  /** A `Retry-After` longer than this is not waited for: the request fails. Default 60. */
  maxRetryDelaySeconds?: number;
  /** After a failed refresh, try again this many seconds later (or sooner if the token expires first). Default 30. */
  failedRefreshRetrySeconds?: number;
  /** `lifetimeInMinutes` of the token request (the worker caps it per organisation). */
  lifetimeInMinutes?: number;
  /** Handlers attached before the first request, so the initial events are seen. */
  on?: Partial<Handlers>;
  /** `fetch` to use (tests, instrumentation). Default `globalThis.fetch`. */
  fetch?: typeof fetch;
}

const DEFAULTS = { refreshMarginSeconds: 600, maxRetries: 3, maxRetryDelaySeconds: 60, failedRefreshRetrySeconds: 30 };

class Destroyed extends Error {}

/** Seconds from a `Retry-After` header: delta-seconds or an HTTP date. */
function retryAfterSeconds(header: string | null, body: Partial<ErrorBody> | null): number | undefined {
  if (header) {
    const n = Number(header);
    if (Number.isFinite(n) && n >= 0) return n;
    const at = Date.parse(header);
    if (!Number.isNaN(at)) return Math.max(0, (at - Date.now()) / 1000);
  }
  return body?.retryAfter ?? undefined;
}

function kindOf(status: number): ErrorKind {
  if (status === 401) return 'signin';
  if (status === 403) return 'forbidden';
  if (status === 422) return 'validation';
  if (status === 429) return 'rate_limited';
  if (status >= 500) return 'unavailable';
  return 'invalid_request';
}

function isTokenResponse(v: unknown): v is TokenResponse {
  const t = v as TokenResponse | null;
  return !!t && typeof t.token === 'string' && t.token.length > 0 && typeof t.tokenId === 'string' &&
    typeof t.expiration === 'string' && Array.isArray(t.reports);
}

/** One embed token shared by a set of embedded reports, kept fresh until `destroy()`. */
export class EmbedSession {
  #opts: EmbedOptions & typeof DEFAULTS;
  #powerbi: service.Service;
  #fetch: typeof fetch;
  #handlers: { [K in keyof EmbedgateEvents]: Set<(d: EmbedgateEvents[K]) => void> } = {
    token: new Set(), retry: new Set(), error: new Set(), loaded: new Set(), rendered: new Set(),
  };
  #token = '';
  #timer: ReturnType<typeof setTimeout> | undefined;
  #inflight: Promise<void> | undefined;
  #abort = new AbortController();
  #destroyed = false;
  #stopped = false;
  #onVisible = () => {
    if (document.visibilityState === 'visible' && this.#due()) void this.refresh('visible');
  };
  readonly #embeds = new Map<string, { report: Report; container: HTMLElement }>();
  /** Id of the current token (safe to show and log). */
  tokenId = '';
  /** When Power BI stops accepting the current token. */
  expiration: Date | undefined;
  /** When the next refresh is due, by this browser's clock. */
  refreshAt: Date | undefined;

  constructor(opts: EmbedOptions) {
    if (typeof opts?.getUserToken !== 'function') throw new TypeError('getUserToken must be a function');
    if (!Array.isArray(opts.reports) || opts.reports.length === 0) throw new TypeError('reports must list at least one report');
    for (const [i, r] of opts.reports.entries()) {
      if (typeof r?.reportId !== 'string' || !r.reportId) throw new TypeError(`reports[${i}].reportId must be a report id`);
      if (!(r.container instanceof HTMLElement)) throw new TypeError(`reports[${i}].container must be an element`);
    }
    this.#opts = { ...DEFAULTS, ...opts };
    this.#powerbi = opts.powerbi ?? window.powerbi ??
      new service.Service(factories.hpmFactory, factories.wpmpFactory, factories.routerFactory);
    this.#fetch = opts.fetch ?? globalThis.fetch.bind(globalThis);
    for (const [name, h] of Object.entries(opts.on ?? {})) {
      if (h) this.on(name as keyof EmbedgateEvents, h as never);
    }
  }

  /** The embedded reports by id (after `start()`). */
  get reports(): ReadonlyMap<string, Report> {
    return new Map([...this.#embeds].map(([id, e]) => [id, e.report]));
  }

  /** Subscribes to an event; returns the unsubscribe function. */
  on<K extends keyof EmbedgateEvents>(name: K, handler: (detail: EmbedgateEvents[K]) => void): () => void {
    this.#handlers[name].add(handler);
    return () => this.#handlers[name].delete(handler);
  }

  #emit<K extends keyof EmbedgateEvents>(name: K, detail: EmbedgateEvents[K]) {
    for (const h of this.#handlers[name]) {
      try {
        h(detail);
      } catch {
        // A portal handler's bug must not stop the refresh cycle.
      }
    }
  }

  #due() {
    return !this.#stopped && !!this.refreshAt && Date.now() >= this.refreshAt.getTime();
  }

  #sleep(ms: number) {
    return new Promise<void>((resolve, reject) => {
      if (this.#destroyed) return reject(new Destroyed());
      const t = setTimeout(() => {
        this.#abort.signal.removeEventListener('abort', stop);
        resolve();
      }, ms);
      const stop = () => {
        clearTimeout(t);
        reject(new Destroyed());
      };
      this.#abort.signal.addEventListener('abort', stop, { once: true });
    });
  }

  /** One token for every report, with the bounded retries of 429/503 and network failures. */
  async #request(): Promise<TokenResponse> {
    const o = this.#opts;
    const body: Record<string, unknown> = { reports: o.reports.map((r) => r.reportId) };
    if (o.lifetimeInMinutes !== undefined) body.lifetimeInMinutes = o.lifetimeInMinutes;
    const url = `${(o.endpoint ?? '').replace(/\/+$/, '')}/api/token`;
    for (let attempt = 1; ; attempt++) {
      let userToken: string;
      try {
        userToken = await o.getUserToken();
      } catch (e) {
        // The portal could not produce a sign-in: the user has to sign in again.
        throw new EmbedgateError('signin', `getUserToken failed: ${(e as Error)?.message ?? String(e)}`);
      }
      if (this.#destroyed) throw new Destroyed();
      if (typeof userToken !== 'string' || !userToken) {
        throw new EmbedgateError('signin', 'getUserToken returned no token: the user is not signed in.');
      }
      let res: Response;
      try {
        res = await this.#fetch(url, {
          method: 'POST',
          headers: { authorization: `Bearer ${userToken}`, 'content-type': 'application/json' },
          body: JSON.stringify(body),
          cache: 'no-store',
          credentials: 'omit',
          signal: this.#abort.signal,
        });
      } catch {
        if (this.#destroyed) throw new Destroyed();
        if (attempt > o.maxRetries) throw new EmbedgateError('network', 'The token endpoint could not be reached.');
        const delaySeconds = Math.min(2 ** (attempt - 1), o.maxRetryDelaySeconds);
        this.#emit('retry', { attempt, status: null, delaySeconds });
        await this.#sleep(delaySeconds * 1000);
        continue;
      }
      let parsed: unknown = null;
      try {
        parsed = await res.json();
      } catch {
        // Not JSON: handled by status below.
      }
      if (res.ok) {
        if (isTokenResponse(parsed)) return parsed;
        throw new EmbedgateError('network', 'The token endpoint answered without a token.', { status: res.status });
      }
      const err = (parsed && typeof parsed === 'object' ? parsed : null) as Partial<ErrorBody> | null;
      if (res.status === 429 || res.status === 503) {
        const wait = retryAfterSeconds(res.headers.get('retry-after'), err) ?? Math.min(2 ** (attempt - 1), o.maxRetryDelaySeconds);
        if (attempt <= o.maxRetries && wait <= o.maxRetryDelaySeconds) {
          this.#emit('retry', { attempt, status: res.status, delaySeconds: wait });
          await this.#sleep(wait * 1000);
          continue;
        }
      }
      const message = typeof err?.message === 'string' ? err.message : `The token endpoint answered ${res.status}.`;
      throw new EmbedgateError(kindOf(res.status), message, { status: res.status, body: err });
    }
  }

  #schedule(t: TokenResponse, reason: TokenReason) {
    const now = Date.now();
    // The server's relative lifetime: the browser's clock may be skewed against Power BI's.
    const lifetime = Number.isFinite(t.expiresInSeconds) ? t.expiresInSeconds : (Date.parse(t.expiration) - now) / 1000;
    const margin = Math.min(this.#opts.refreshMarginSeconds, lifetime / 2);
    const inMs = Math.max(0, (lifetime - margin) * 1000);
    this.tokenId = t.tokenId;
    this.expiration = new Date(now + lifetime * 1000);
    this.refreshAt = new Date(now + inMs);
    this.#arm(inMs);
    this.#emit('token', { reason, tokenId: t.tokenId, expiration: t.expiration, expiresInSeconds: lifetime, refreshAt: this.refreshAt });
  }

  #arm(inMs: number) {
    clearTimeout(this.#timer);
    if (this.#destroyed || this.#stopped) return;
    // setTimeout holds at most 2^31-1 ms; a longer wait re-arms.
    const step = Math.min(inMs, 2 ** 31 - 1);
    this.#timer = setTimeout(() => {
      if (this.#due()) void this.refresh('scheduled');
      else if (this.refreshAt) this.#arm(this.refreshAt.getTime() - Date.now());
    }, step);
  }

  /** Fetches the first token and embeds every report. Rejects with an `EmbedgateError`; no iframe is made then. */
  async start(): Promise<this> {
    let t: TokenResponse;
    try {
      t = await this.#request();
    } catch (e) {
      if (e instanceof Destroyed) throw new EmbedgateError('network', 'The session was destroyed before it started.');
      throw e;
    }
    if (this.#destroyed) throw new EmbedgateError('network', 'The session was destroyed before it started.');
    const urls = this.#opts.reports.map((target) => {
      const meta = t.reports.find((r) => r.id.toLowerCase() === target.reportId.toLowerCase());
      if (!meta?.embedUrl) {
        throw new EmbedgateError('unavailable', `No embed URL for report ${target.reportId}: Power BI's metadata is unavailable.`);
      }
      return meta.embedUrl;
    });
    this.#token = t.token;
    this.#opts.reports.forEach((target, i) => this.#embed(target, urls[i]));
    document.addEventListener('visibilitychange', this.#onVisible);
    this.#schedule(t, 'initial');
    return this;
  }

  #embed(target: ReportTarget, embedUrl: string) {
    const config: models.IReportEmbedConfiguration = {
      type: 'report',
      id: target.reportId,
      embedUrl,
      accessToken: this.#token,
      tokenType: models.TokenType.Embed,
      settings: target.settings,
      pageName: target.pageName,
    };
    const report = this.#powerbi.embed(target.container, config) as Report;
    const reportId = target.reportId;
    report.on('loaded', () => this.#emit('loaded', { reportId }));
    report.on('rendered', () => this.#emit('rendered', { reportId }));
    report.on('error', (event) => {
      const detail = (event as CustomEvent<models.IError | undefined>).detail;
      if (detail?.message === 'TokenExpired') {
        // Missed the timer (a throttled tab, a clock change): recover without showing the user an error.
        void this.refresh('expired');
        return;
      }
      this.#emit('error', new EmbedgateError('embed', detail?.detailedMessage ?? detail?.message ?? 'The report failed to load.', { reportId }));
    });
    this.#embeds.set(reportId, { report, container: target.container });
  }

  /** Fetches a new token now and gives it to every report; concurrent calls share one request. */
  refresh(reason: TokenReason = 'manual'): Promise<void> {
    if (this.#destroyed) return Promise.resolve();
    if (reason === 'manual') this.#stopped = false;
    this.#inflight ??= this.#refresh(reason).finally(() => {
      this.#inflight = undefined;
    });
    return this.#inflight;
  }

  async #refresh(reason: TokenReason) {
    try {
      const t = await this.#request();
      if (this.#destroyed) return;
      this.#token = t.token;
      await Promise.all([...this.#embeds.values()].map((e) => e.report.setAccessToken(this.#token)));
      this.#schedule(t, reason);
    } catch (e) {
      if (e instanceof Destroyed || this.#destroyed) return;
      const err = e instanceof EmbedgateError ? e
        : new EmbedgateError('embed', (e as models.IError)?.message ?? 'The new token could not be applied.');
      this.#emit('error', err);
      if (err.kind === 'signin' || err.kind === 'forbidden') {
        // Needs the user or an administrator: stop until the portal calls refresh().
        this.#stopped = true;
        clearTimeout(this.#timer);
        return;
      }
      const left = this.expiration ? (this.expiration.getTime() - Date.now()) / 1000 : 0;
      const wait = Math.max(1, Math.min(this.#opts.failedRefreshRetrySeconds, left > 2 ? left / 2 : this.#opts.failedRefreshRetrySeconds));
      this.refreshAt = new Date(Date.now() + wait * 1000);
      this.#arm(wait * 1000);
    }
  }

  /** Stops every timer and listener, aborts a pending request, removes the reports' iframes and forgets the token. */
  destroy() {
    if (this.#destroyed) return;
    this.#destroyed = true;
    clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#abort.abort();
    document.removeEventListener('visibilitychange', this.#onVisible);
    for (const { report, container } of this.#embeds.values()) {
      for (const n of ['loaded', 'rendered', 'error']) report.off(n);
      this.#powerbi.reset(container);
    }
    this.#embeds.clear();
    for (const set of Object.values(this.#handlers)) set.clear();
    this.#token = '';
    this.refreshAt = undefined;
  }

  /** Whether `destroy()` was called. */
  get destroyed() {
    return this.#destroyed;
  }

  /** Whether a timer is armed (false after `destroy()`, or after a `signin`/`forbidden` refresh failure). */
  get scheduled() {
    return this.#timer !== undefined && !this.#destroyed && !this.#stopped;
  }
}

/** Embeds `opts.reports` with one shared token and keeps it fresh. Rejects with an `EmbedgateError`. */
export function embedReports(opts: EmbedOptions): Promise<EmbedSession> {
  return new EmbedSession(opts).start();
}
