-- Tenants (Postgres; mirrors ../sqlite/0002_tenants.sql): API keys with roles, jobs owned by
-- the key that submitted them, per-key quotas and fair claiming across tenants.
-- Applied migrations never change: add a new numbered file instead.

CREATE TABLE api_keys (
    id                  BIGINT  GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    -- Unique human name (`starfarm keys revoke NAME`); the tenant label of /metrics.
    name                TEXT    NOT NULL UNIQUE,
    -- What the key may do.
    role                TEXT    NOT NULL CHECK (role IN ('submit', 'worker', 'admin')),
    -- sha256 hex of the key: the key itself is shown once, at creation, and never stored.
    key_sha256          TEXT    NOT NULL UNIQUE,
    created_at          BIGINT  NOT NULL,
    -- Set once revoked: every later request with the key gets 401.
    revoked_at          BIGINT,
    -- Per-key quotas; NULL takes the scheduler's default.
    max_active_jobs     BIGINT  CHECK (max_active_jobs >= 0),
    max_submissions_per_minute BIGINT CHECK (max_submissions_per_minute >= 0),
    max_stored_bytes    BIGINT  CHECK (max_stored_bytes >= 0),
    -- Program and input bytes its submissions stored (the `max_stored_bytes` quota).
    stored_bytes        BIGINT  NOT NULL DEFAULT 0
);

-- The key that submitted the job; NULL for the farm's own jobs (block chunks and aggregates)
-- and for the scheduler's `--api-key` admin key, which is not stored.
ALTER TABLE jobs ADD COLUMN owner BIGINT REFERENCES api_keys (id);
-- The stored key that claimed the job (a worker may read only the blobs of jobs it holds).
ALTER TABLE jobs ADD COLUMN claimed_by BIGINT REFERENCES api_keys (id);
-- Program and input bytes stored for this submission.
ALTER TABLE jobs ADD COLUMN stored_bytes BIGINT NOT NULL DEFAULT 0;
-- Fair-queueing tag: max(the queue head's tag, the owner's previous tag + 1). At equal
-- priority claims go by tag, so owners interleave and a flood of one owner queues behind
-- its own jobs, not in front of the others'.
ALTER TABLE jobs ADD COLUMN fair_tag BIGINT NOT NULL DEFAULT 0;

-- The claim's order, now by tag within a priority.
DROP INDEX jobs_claim_order;
CREATE INDEX jobs_claim_order ON jobs (state, priority DESC, fair_tag, id);
-- The queue head's tag (new submissions start there).
CREATE INDEX jobs_queue_tag ON jobs (state, fair_tag);
-- A tenant's jobs, newest first (list) and its blobs; its last queued tag and its live
-- jobs (quota); its submissions of the last minute (rate limit).
CREATE INDEX jobs_owner ON jobs (owner, id);
CREATE INDEX jobs_owner_queue ON jobs (owner, state, fair_tag);
CREATE INDEX jobs_owner_created ON jobs (owner, created_at);
