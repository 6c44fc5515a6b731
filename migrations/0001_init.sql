-- Embedgate edge worker: customers, rate-limit counters, audit log.

-- One row per customer. `config` is the full customer document (validated by the worker, see
-- crates/worker/README.md); the other columns mirror its key fields for queries.
CREATE TABLE customers (
  id          TEXT PRIMARY KEY,
  name        TEXT NOT NULL,
  flow        TEXT NOT NULL CHECK (flow IN ('profile', 'legacy')),
  profile_id  TEXT,
  enabled     INTEGER NOT NULL DEFAULT 1,
  config      TEXT NOT NULL,
  -- Bumped to invalidate the customer's cached Power BI metadata (KV keys include it).
  cache_gen   INTEGER NOT NULL DEFAULT 1,
  created_at  TEXT NOT NULL,
  updated_at  TEXT NOT NULL
);

-- Fixed one-minute windows per key (`c:<customer>`, `u:<customer>:<user>`).
CREATE TABLE rate_counters (
  key          TEXT NOT NULL,
  window_start INTEGER NOT NULL,
  count        INTEGER NOT NULL,
  PRIMARY KEY (key, window_start)
) WITHOUT ROWID;

-- Every issued embed token. Never the token itself.
CREATE TABLE audit_log (
  id          INTEGER PRIMARY KEY AUTOINCREMENT,
  at          TEXT NOT NULL,
  at_unix     INTEGER NOT NULL,
  customer_id TEXT NOT NULL,
  user_id     TEXT NOT NULL,
  flow        TEXT NOT NULL,
  profile_id  TEXT,
  token_id    TEXT NOT NULL,
  expiration  TEXT NOT NULL,
  items       TEXT NOT NULL,
  identity    TEXT NOT NULL,
  request_id  TEXT
);
CREATE INDEX audit_log_customer ON audit_log (customer_id, id);
