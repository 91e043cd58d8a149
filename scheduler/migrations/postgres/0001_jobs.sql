-- The farm's jobs (Postgres). Mirrors ../sqlite/0001_jobs.sql column for column; the same
-- code runs on both. Applied migrations never change: add a new numbered file instead.
-- Times are integer milliseconds since the Unix epoch.

CREATE TABLE jobs (
    -- Submission order (an identity is never reused).
    id                    BIGINT  GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    -- JobKind: cairo_proof | block_chunk | block_aggregate (no CHECK: new kinds need no
    -- table rebuild, and the store refuses to read names it does not know).
    kind                  TEXT    NOT NULL,
    -- sha256 over kind, program hash, input hash and profile: one live job per key.
    idempotency_key       TEXT    NOT NULL,
    -- Content hashes (sha256 hex) of the program and its input in the object store.
    program_hash          TEXT    NOT NULL,
    input_hash            TEXT    NOT NULL,
    -- Prover security profile.
    profile               TEXT    NOT NULL,
    -- Higher is claimed first.
    priority              INTEGER NOT NULL,
    -- Claims allowed in total.
    max_attempts          INTEGER NOT NULL CHECK (max_attempts >= 1),
    -- Workers with less memory do not get the job.
    required_memory_bytes BIGINT  NOT NULL CHECK (required_memory_bytes >= 0),
    -- Backend a worker must advertise (cuda, wgpu, cpu); NULL for any.
    required_backend      TEXT,
    -- Kind-specific parameters, JSON kept as text so it reads back as written.
    payload               TEXT    NOT NULL,
    -- JobState (TEXT with a CHECK rather than an enum type: the same statements and row
    -- decoding serve SQLite and Postgres).
    state                 TEXT    NOT NULL CHECK (state IN
        ('queued', 'leased', 'proving', 'verifying', 'done', 'failed', 'cancelled')),
    -- Claims so far.
    attempts              INTEGER NOT NULL DEFAULT 0,
    -- Incremented by every claim, lease expiry and cancellation; writes must present it.
    fencing_token         BIGINT  NOT NULL DEFAULT 0,
    -- Worker holding (or that last held) the lease.
    worker_id             TEXT,
    -- End of the current lease; NULL unless active.
    lease_expires_at      BIGINT,
    -- Length of the lease at claim; heartbeats extend by it.
    lease_duration_ms     BIGINT,
    -- Earliest next claim (retry backoff).
    next_attempt_at       BIGINT  NOT NULL,
    -- Last failure reason, truncated.
    last_error            TEXT,
    -- Content hash of the proof artifact, once done.
    artifact_hash         TEXT,
    -- Worker's result JSON, once done.
    result                TEXT,
    created_at            BIGINT  NOT NULL,
    updated_at            BIGINT  NOT NULL,
    -- When the job reached done, failed or cancelled.
    finished_at           BIGINT
);

-- Idempotent submission: one queued, active or done job per key; failed and cancelled jobs
-- leave the key free for a new attempt.
CREATE UNIQUE INDEX jobs_idempotency ON jobs (idempotency_key)
    WHERE state NOT IN ('failed', 'cancelled');
-- The claim's order among queued jobs (as in the SQLite schema, where a partial index on
-- state = 'queued' made the planner sort every queued job on each claim).
CREATE INDEX jobs_claim_order ON jobs (state, priority DESC, id);
-- The expiry sweep.
CREATE INDEX jobs_lease_expiry ON jobs (lease_expires_at)
    WHERE state IN ('leased', 'proving', 'verifying');
-- Listing by state, newest first.
CREATE INDEX jobs_state ON jobs (state, id);

-- Edges of the job DAG: job_id runs only after depends_on is done. A dependency exists
-- before its dependents are submitted, so the graph has no cycles.
CREATE TABLE job_deps (
    job_id     BIGINT NOT NULL REFERENCES jobs (id),
    depends_on BIGINT NOT NULL REFERENCES jobs (id),
    PRIMARY KEY (job_id, depends_on)
);
CREATE INDEX job_deps_depends_on ON job_deps (depends_on);
