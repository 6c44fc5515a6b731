-- Issue 13: a new customer's onboarding (POST /api/admin/customers/{id}/onboard) records what Power BI has
-- confirmed after every step, so a call cut off at any point resumes where it stopped.
CREATE TABLE IF NOT EXISTS onboarding (
  customer_id TEXT PRIMARY KEY,
  request TEXT NOT NULL,
  progress TEXT NOT NULL,
  updated_at TEXT NOT NULL
);
