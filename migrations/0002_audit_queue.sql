-- Issue 15: audit rows now arrive through a queue, whose consumer may see a batch again after a failure.
-- A token id is unique, so `INSERT OR IGNORE` on this index makes a redelivery write nothing twice.
CREATE UNIQUE INDEX IF NOT EXISTS audit_log_token ON audit_log (token_id);
-- Rate limits moved to one Durable Object per customer; the counters table is no longer written.
DROP TABLE IF EXISTS rate_counters;
