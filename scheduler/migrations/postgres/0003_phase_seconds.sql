-- Seconds by phase (Postgres; mirrors ../sqlite/0003_phase_seconds.sql): how long workers spent
-- proving and verifying each job, measured by the scheduler's clock from the workers' phase
-- reports; with the worker's price per machine-hour it gives the job's estimated cost.
-- Applied migrations never change: add a new numbered file instead.

-- When the job entered its current phase (proving or verifying); NULL before the first.
ALTER TABLE jobs ADD COLUMN phase_started_at BIGINT;
-- Milliseconds spent proving, over every attempt that reported a later phase or finished.
ALTER TABLE jobs ADD COLUMN proving_ms BIGINT NOT NULL DEFAULT 0;
-- Milliseconds spent verifying, likewise.
ALTER TABLE jobs ADD COLUMN verifying_ms BIGINT NOT NULL DEFAULT 0;
