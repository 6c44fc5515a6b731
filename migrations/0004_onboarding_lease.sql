-- One onboarding call at a time per customer. Two calls that overlap would both look up, both create, and
-- overwrite each other's saved progress; the second is answered 409 with Retry-After instead. A lease (not a
-- lock) so that a call cut off without releasing it frees the customer when the lease runs out.
CREATE TABLE IF NOT EXISTS onboarding_leases (
  customer_id TEXT PRIMARY KEY,
  holder TEXT NOT NULL,
  until_unix INTEGER NOT NULL
);
