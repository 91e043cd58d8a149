-- Webhooks (postgres; mirrors ../sqlite/0004_webhooks.sql): a job may name a callback URL that the
-- scheduler POSTs the job to once it is done, failed or cancelled. Delivery is driven from
-- these columns, so it survives restarts, and schedulers sharing the store claim each delivery
-- attempt like a job (the attempt count is the fencing token).
-- Applied migrations never change: add a new numbered file instead.

-- Where to POST the finished job (http or https); NULL for no callback.
ALTER TABLE jobs ADD COLUMN callback_url TEXT;
-- pending until a 2xx answer (delivered) or the last attempt (failed); NULL without callback.
ALTER TABLE jobs ADD COLUMN webhook_state TEXT
    CHECK (webhook_state IN ('pending', 'delivered', 'failed'));
-- Delivery attempts claimed so far; a result is recorded only by the claimer of the last one.
ALTER TABLE jobs ADD COLUMN webhook_attempts INTEGER NOT NULL DEFAULT 0;
-- Earliest time (ms) of the next attempt: backoff after a failure, or the end of a claimed
-- attempt's hold (a scheduler that died mid-POST is taken over after it).
ALTER TABLE jobs ADD COLUMN webhook_next_attempt_at BIGINT NOT NULL DEFAULT 0;
-- When a receiver answered 2xx.
ALTER TABLE jobs ADD COLUMN webhook_delivered_at BIGINT;
-- The last failed attempt's error (HTTP status or connection error), truncated.
ALTER TABLE jobs ADD COLUMN webhook_last_error TEXT;

-- The deliverer's scan: pending callbacks by due time.
CREATE INDEX jobs_webhook_due ON jobs (webhook_next_attempt_at) WHERE webhook_state = 'pending';
