-- A service principal profile belongs to exactly one customer: two documents naming one profile would mint one
-- customer's tokens as another's profile. The admin API answers 409 `profile_in_use` before this index is hit;
-- the index holds it against two writes racing.
CREATE UNIQUE INDEX IF NOT EXISTS customers_profile_owner ON customers (profile_id) WHERE profile_id IS NOT NULL;
