-- The Postgres store and the migration runner. Tables and queue functions come from migrations/;
-- %(name)s placeholders are psycopg's.

-- name: migrations_lock
SELECT pg_advisory_lock(hashtext('archon_agent_work_order_migrations'))

-- name: migrations_unlock
SELECT pg_advisory_unlock(hashtext('archon_agent_work_order_migrations'))

-- name: migrations_table
CREATE TABLE IF NOT EXISTS archon_agent_work_order_migrations (
    filename TEXT PRIMARY KEY,
    checksum TEXT NOT NULL,
    applied_at TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT NOW()
);
ALTER TABLE archon_agent_work_order_migrations ENABLE ROW LEVEL SECURITY;

-- name: migrations_applied
SELECT filename, checksum FROM archon_agent_work_order_migrations

-- name: migrations_record
INSERT INTO archon_agent_work_order_migrations (filename, checksum) VALUES (%(filename)s, %(checksum)s)
ON CONFLICT (filename) DO UPDATE SET checksum = EXCLUDED.checksum, applied_at = NOW()

-- name: health
SELECT to_regclass('archon_configured_repositories') IS NOT NULL
   AND to_regclass('archon_agent_work_orders') IS NOT NULL
   AND to_regclass('archon_agent_work_order_steps') IS NOT NULL
   AND to_regclass('archon_agent_work_order_deliveries') IS NOT NULL
   AND to_regclass('archon_agent_work_order_logs') IS NOT NULL
   AND to_regprocedure('archon_agent_work_order_claim(text, double precision)') IS NOT NULL
   AND to_regprocedure('archon_agent_work_order_claim_lease(text, double precision)') IS NOT NULL
   AND to_regprocedure('archon_agent_work_order_admission_load(text, integer, text, timestamptz)') IS NOT NULL
   AND to_regprocedure('archon_agent_work_order_release(text, text)') IS NOT NULL
   AND to_regprocedure('archon_agent_work_order_daily_spend(timestamptz, timestamptz, text)') IS NOT NULL
   AS ready

-- name: listen
LISTEN agent_work_orders

-- name: insert_row
INSERT INTO {table} ({columns}) VALUES ({values}) RETURNING *

-- name: update_row
UPDATE {table} SET {assignments} WHERE {key} = %(_key)s {guard} RETURNING *

-- name: lease_guard
AND lease_owner = %(_owner)s AND status = 'running'

-- name: insert_deliveries
-- The deliveries received in one turn of the loop (bot/store/batch.py): one round trip, one commit.
INSERT INTO archon_agent_work_order_deliveries
    (delivery_id, event, action, repo_full_name, payload, outcome, received_at, processed_at)
SELECT d.delivery_id, d.event, d.action, d.repo_full_name, d.payload::jsonb, d.outcome, d.received_at,
       d.processed_at
FROM unnest(%(delivery_id)s::text[], %(event)s::text[], %(action)s::text[], %(repo_full_name)s::text[],
            %(payload)s::text[], %(outcome)s::text[], %(received_at)s::timestamptz[],
            %(processed_at)s::timestamptz[])
     AS d(delivery_id, event, action, repo_full_name, payload, outcome, received_at, processed_at)
ON CONFLICT (delivery_id) DO NOTHING
RETURNING delivery_id

-- name: unprocessed_deliveries
SELECT * FROM archon_agent_work_order_deliveries
WHERE processed_at IS NULL ORDER BY received_at LIMIT %(limit)s

-- name: list_deliveries
SELECT delivery_id, event, action, repo_full_name, outcome, received_at, processed_at
FROM archon_agent_work_order_deliveries
WHERE %(outcome)s::text IS NULL OR starts_with(outcome, %(outcome)s::text)
ORDER BY received_at DESC, delivery_id LIMIT %(limit)s OFFSET %(offset)s

-- name: get_delivery
SELECT * FROM archon_agent_work_order_deliveries WHERE delivery_id = %(id)s

-- name: mark_delivery
UPDATE archon_agent_work_order_deliveries SET outcome = %(outcome)s, processed_at = NOW()
WHERE delivery_id = %(delivery_id)s

-- name: prune_deliveries
DELETE FROM archon_agent_work_order_deliveries WHERE received_at < %(before)s

-- name: list_repositories
SELECT * FROM archon_configured_repositories ORDER BY created_at, id

-- name: get_repository
SELECT * FROM archon_configured_repositories WHERE id = %(id)s

-- name: delete_repository
DELETE FROM archon_configured_repositories WHERE id = %(id)s

-- name: get_work_order
SELECT * FROM archon_agent_work_orders WHERE agent_work_order_id = %(id)s

-- name: list_work_orders
-- Newest first, ties by id, so a cursor is exact. A filter left NULL folds away when the statement is planned
-- with its values (psycopg sends unnamed statements), leaving plain terms on migration 009's indexes.
SELECT * FROM archon_agent_work_orders
WHERE (%(status)s::text IS NULL OR status = %(status)s::text)
  AND (%(repo)s::text IS NULL OR repo_full_name = %(repo)s::text)
  AND (%(issue)s::integer IS NULL OR issue_number = %(issue)s::integer)
  AND (%(since)s::timestamptz IS NULL OR created_at >= %(since)s::timestamptz)
  AND (%(until)s::timestamptz IS NULL OR created_at < %(until)s::timestamptz)
  AND (%(cursor_at)s::timestamptz IS NULL
       OR (created_at, agent_work_order_id) < (%(cursor_at)s::timestamptz, %(cursor_id)s::text))
ORDER BY created_at DESC, agent_work_order_id DESC
LIMIT %(limit)s OFFSET %(offset)s

-- name: claim
-- the claimed row's columns and reclaimed_from (migration 014): whose expired lease it took over, if any
SELECT (c.work_order).*, c.reclaimed_from
FROM archon_agent_work_order_claim_lease(%(worker_id)s, %(lease_seconds)s) AS c

-- name: heartbeat
SELECT archon_agent_work_order_heartbeat(%(id)s, %(worker_id)s, %(lease_seconds)s) AS renewed

-- name: finish
SELECT * FROM archon_agent_work_order_finish(%(id)s, %(worker_id)s, %(status)s, %(changes)s)

-- name: fail_exhausted
SELECT * FROM archon_agent_work_order_fail_exhausted()

-- name: release
SELECT archon_agent_work_order_release(%(id)s, %(worker_id)s) AS released

-- name: pending_reports
SELECT * FROM archon_agent_work_order_pending_reports(%(limit)s)

-- name: mark_reported
SELECT archon_agent_work_order_mark_reported(%(id)s, %(updated_at)s) AS marked

-- name: list_steps
SELECT * FROM archon_agent_work_order_steps WHERE agent_work_order_id = %(id)s ORDER BY step_order, executed_at

-- name: admission_load
SELECT * FROM archon_agent_work_order_admission_load(%(repo)s, %(issue)s, %(actor)s, %(since)s)

-- name: note_refusal
SELECT archon_agent_work_order_note_refusal(%(repo)s, %(issue)s, %(window)s) AS say

-- name: spent_since
SELECT archon_agent_work_order_spent_since(%(repo)s, %(since)s) AS spent

-- name: cancel
SELECT * FROM archon_agent_work_order_cancel(%(id)s)

-- name: cancel_requests
SELECT archon_agent_work_order_cancel_requests(%(ids)s) AS ids

-- name: retry
SELECT * FROM archon_agent_work_order_retry(%(id)s, %(attempts)s)

-- name: listen_logs
LISTEN agent_work_order_logs

-- name: append_log
INSERT INTO archon_agent_work_order_logs (agent_work_order_id, at, level, step, kind, message, data)
VALUES (%(agent_work_order_id)s, %(at)s, %(level)s, %(step)s, %(kind)s, %(message)s, %(data)s)
RETURNING id

-- name: list_logs
SELECT * FROM archon_agent_work_order_logs
WHERE agent_work_order_id = %(id)s AND id > %(after)s
  AND (%(level)s::text IS NULL OR level = %(level)s) AND (%(step)s::text IS NULL OR step = %(step)s)
ORDER BY id LIMIT %(limit)s OFFSET %(offset)s

-- name: count_logs
SELECT count(*) AS total FROM archon_agent_work_order_logs
WHERE agent_work_order_id = %(id)s
  AND (%(level)s::text IS NULL OR level = %(level)s) AND (%(step)s::text IS NULL OR step = %(step)s)

-- name: has_logs_after
SELECT EXISTS (SELECT 1 FROM archon_agent_work_order_logs WHERE agent_work_order_id = %(id)s AND id > %(after)s)
    AS found

-- name: status_counts
-- /metrics at every scrape: an index-only scan of idx_agent_work_orders_list_status (migration 009)
SELECT status, count(*) AS n FROM archon_agent_work_orders GROUP BY status

-- name: spend_by_repository
-- /metrics: per name, a range of idx_agent_work_order_spend_repo_at, index-only (its INCLUDE holds cost_usd)
SELECT repo_full_name, sum(cost_usd) AS spent FROM archon_agent_work_order_spend
WHERE repo_full_name = ANY(%(names)s) AND at >= %(since)s AND at < %(until)s GROUP BY repo_full_name

-- name: queue_head
SELECT
    (SELECT min(created_at) FROM archon_agent_work_orders WHERE status = 'pending') AS oldest,
    (SELECT count(*) FROM archon_agent_work_orders WHERE status = 'running' AND lease_expires_at < now())
        AS expired,
    now() AS clock

-- name: daily_spend
-- migration 016's function (013's signature): the whole UTC days from the rollup (a row per day and repository),
-- the partial days at either end from a range of the ledger's `at` (or (repository, at)) index
SELECT * FROM archon_agent_work_order_daily_spend(%(since)s, %(until)s, %(repo)s)
