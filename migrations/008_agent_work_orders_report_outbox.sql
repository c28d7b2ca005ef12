-- =====================================================
-- Agent Work Orders - the report outbox and fair attempts (migration 008)
-- =====================================================
-- report_pending: the work order ended but GitHub does not have its final comment yet. The worker writes
--   the final comment before it finishes the row; if that edit fails it finishes with report_pending = true
--   and any worker retries the report (archon_agent_work_order_pending_reports) until GitHub has it, so no
--   process death or GitHub outage leaves a "Working..." comment behind a finished row.
-- release: a worker that stops gracefully hands its work order back and gives its attempt back (stopping
--   is not the work order's fault): max_attempts grows by one, while attempt keeps numbering the runs (steps
--   are told apart by it). A lost lease still counts.
-- fail_exhausted: now fails pending work orders that have no attempt left too (before, such an order was
--   neither claimed nor failed and wedged its issue), and marks every order it fails report_pending so its
--   failure is said on the issue.
-- Re-applies harmlessly.
-- =====================================================

ALTER TABLE archon_agent_work_orders ADD COLUMN IF NOT EXISTS report_pending BOOLEAN NOT NULL DEFAULT false;

CREATE INDEX IF NOT EXISTS idx_agent_work_orders_report_pending
    ON archon_agent_work_orders (completed_at) WHERE report_pending;

CREATE OR REPLACE FUNCTION archon_agent_work_order_finish(
    p_work_order_id TEXT, p_worker_id TEXT, p_status TEXT, p_changes JSONB DEFAULT '{}'::jsonb
)
RETURNS SETOF archon_agent_work_orders
LANGUAGE sql
VOLATILE
SET search_path FROM CURRENT
AS $function$
    UPDATE archon_agent_work_orders AS t
    SET (repository_url, sandbox_identifier, git_branch_name, agent_session_id, user_request,
         repo_full_name, issue_number, trigger_actor, trigger_comment_id, delivery_id, attempt,
         max_attempts, total_cost_usd, num_turns, progress_comment_id, pr_url, pr_number,
         error_message, started_at, metadata, report_pending)
        = (SELECT c.repository_url, c.sandbox_identifier, c.git_branch_name, c.agent_session_id,
                  c.user_request, c.repo_full_name, c.issue_number, c.trigger_actor,
                  c.trigger_comment_id, c.delivery_id, c.attempt, c.max_attempts, c.total_cost_usd,
                  c.num_turns, c.progress_comment_id, c.pr_url, c.pr_number, c.error_message,
                  c.started_at, c.metadata, c.report_pending
           FROM jsonb_populate_record(t, COALESCE(p_changes, '{}'::jsonb)) AS c),
        status = p_status,
        lease_owner = NULL,
        lease_expires_at = NULL,
        completed_at = now(),
        updated_at = now()
    WHERE t.agent_work_order_id = p_work_order_id
      AND t.lease_owner = p_worker_id
      AND t.status = 'running'
    RETURNING t.*;
$function$;

CREATE OR REPLACE FUNCTION archon_agent_work_order_release(p_work_order_id TEXT, p_worker_id TEXT)
RETURNS BOOLEAN
LANGUAGE sql
VOLATILE
SET search_path FROM CURRENT
AS $function$
    WITH released AS (
        UPDATE archon_agent_work_orders
        SET status = 'pending', lease_owner = NULL, lease_expires_at = NULL,
            max_attempts = max_attempts + 1, updated_at = now()
        WHERE agent_work_order_id = p_work_order_id AND lease_owner = p_worker_id AND status = 'running'
        RETURNING 1
    )
    SELECT EXISTS (SELECT 1 FROM released);
$function$;

CREATE OR REPLACE FUNCTION archon_agent_work_order_fail_exhausted()
RETURNS SETOF archon_agent_work_orders
LANGUAGE sql
VOLATILE
SET search_path FROM CURRENT
AS $function$
    WITH exhausted AS (
        SELECT agent_work_order_id
        FROM archon_agent_work_orders
        WHERE (status = 'pending' OR (status = 'running' AND lease_expires_at < now()))
          AND attempt >= max_attempts
        FOR UPDATE SKIP LOCKED
    )
    UPDATE archon_agent_work_orders AS t
    SET status = 'failed',
        lease_owner = NULL,
        lease_expires_at = NULL,
        completed_at = now(),
        updated_at = now(),
        report_pending = true,
        error_message = 'the worker running it stopped answering on its last allowed attempt ('
            || t.attempt || ')'
    FROM exhausted
    WHERE t.agent_work_order_id = exhausted.agent_work_order_id
    RETURNING t.*;
$function$;

CREATE OR REPLACE FUNCTION archon_agent_work_order_pending_reports(p_limit INTEGER DEFAULT 20)
RETURNS SETOF archon_agent_work_orders
LANGUAGE sql
STABLE
SET search_path FROM CURRENT
AS $function$
    SELECT * FROM archon_agent_work_orders
    WHERE report_pending AND status IN ('completed', 'failed', 'cancelled')
    ORDER BY completed_at NULLS FIRST, agent_work_order_id
    LIMIT p_limit;
$function$;

-- Clears the flag only if the row is still the one reported (same updated_at): a later change reports again.
CREATE OR REPLACE FUNCTION archon_agent_work_order_mark_reported(p_work_order_id TEXT, p_updated_at TIMESTAMPTZ)
RETURNS BOOLEAN
LANGUAGE sql
VOLATILE
SET search_path FROM CURRENT
AS $function$
    WITH reported AS (
        UPDATE archon_agent_work_orders SET report_pending = false
        WHERE agent_work_order_id = p_work_order_id AND report_pending AND updated_at = p_updated_at
        RETURNING 1
    )
    SELECT EXISTS (SELECT 1 FROM reported);
$function$;

DO $grants$
DECLARE
    fn TEXT;
BEGIN
    FOREACH fn IN ARRAY ARRAY[
        'archon_agent_work_order_finish(text, text, text, jsonb)',
        'archon_agent_work_order_release(text, text)',
        'archon_agent_work_order_fail_exhausted()',
        'archon_agent_work_order_pending_reports(integer)',
        'archon_agent_work_order_mark_reported(text, timestamptz)'
    ] LOOP
        EXECUTE format('REVOKE ALL ON FUNCTION %s FROM PUBLIC', fn);
        IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'anon') THEN
            EXECUTE format('REVOKE ALL ON FUNCTION %s FROM anon', fn);
        END IF;
        IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'authenticated') THEN
            EXECUTE format('REVOKE ALL ON FUNCTION %s FROM authenticated', fn);
        END IF;
        IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'service_role') THEN
            EXECUTE format('GRANT EXECUTE ON FUNCTION %s TO service_role', fn);
        END IF;
    END LOOP;
END
$grants$;

COMMENT ON COLUMN archon_agent_work_orders.report_pending IS
    'The work order ended but its final comment is not on GitHub yet; workers retry until it is';
COMMENT ON FUNCTION archon_agent_work_order_release(TEXT, TEXT) IS
    'Hand a running work order back to the queue (pending) and give its attempt back; true only for the lease owner';
COMMENT ON FUNCTION archon_agent_work_order_pending_reports(INTEGER) IS
    'Ended work orders whose final comment GitHub does not have yet, oldest first';
COMMENT ON FUNCTION archon_agent_work_order_mark_reported(TEXT, TIMESTAMPTZ) IS
    'Clear report_pending once the final comment of this version of the row is on GitHub';
