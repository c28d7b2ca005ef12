-- =====================================================
-- Agent Work Orders - the queue (migration 005)
-- =====================================================
-- The queue as SQL functions, shared by the Postgres store (psycopg) and the Supabase store
-- (PostgREST /rest/v1/rpc/<function>), so both follow one rule:
--
--   claim: lease the oldest runnable work order (pending, or running with an expired lease) whose
--          attempt < max_attempts, never two running on one (repo_full_name, issue_number), FIFO per
--          issue; FOR UPDATE SKIP LOCKED lets many workers claim at once.
--   heartbeat: extend the lease, only for its owner.
--   finish: end a work order with a final status and changes, only for the lease owner.
--   fail_exhausted: fail running work orders whose lease expired on their last allowed attempt.
--          (A work order with attempts left needs no requeue: claim takes it again, attempt + 1.)
--
-- Inserting a pending work order, or releasing an issue's queue, sends NOTIFY agent_work_orders with
-- the work order id, so idle workers wake up at once instead of at their next poll.
-- Times come from the database clock, so workers with skewed clocks agree on lease expiry.
-- Re-applies harmlessly (CREATE OR REPLACE).
-- =====================================================

CREATE OR REPLACE FUNCTION archon_agent_work_order_claim(p_worker_id TEXT, p_lease_seconds DOUBLE PRECISION)
RETURNS SETOF archon_agent_work_orders
LANGUAGE sql
VOLATILE
SET search_path FROM CURRENT
AS $function$
    WITH candidate AS (
        SELECT w.agent_work_order_id
        FROM archon_agent_work_orders AS w
        WHERE (w.status = 'pending' OR (w.status = 'running' AND w.lease_expires_at < now()))
          AND w.attempt < w.max_attempts
          AND NOT EXISTS (
              SELECT 1
              FROM archon_agent_work_orders AS o
              WHERE o.repo_full_name = w.repo_full_name
                AND o.issue_number = w.issue_number
                AND o.agent_work_order_id <> w.agent_work_order_id
                AND ((o.status = 'running' AND o.lease_expires_at >= now())
                     OR (o.status IN ('pending', 'running')
                         AND (o.created_at, o.agent_work_order_id) < (w.created_at, w.agent_work_order_id))))
        ORDER BY w.created_at, w.agent_work_order_id
        LIMIT 1
        FOR UPDATE OF w SKIP LOCKED
    )
    UPDATE archon_agent_work_orders AS t
    SET status = 'running',
        lease_owner = p_worker_id,
        lease_expires_at = now() + make_interval(secs => p_lease_seconds),
        attempt = t.attempt + 1,
        started_at = COALESCE(t.started_at, now()),
        updated_at = now()
    FROM candidate
    WHERE t.agent_work_order_id = candidate.agent_work_order_id
    RETURNING t.*;
$function$;

CREATE OR REPLACE FUNCTION archon_agent_work_order_heartbeat(
    p_work_order_id TEXT, p_worker_id TEXT, p_lease_seconds DOUBLE PRECISION
)
RETURNS BOOLEAN
LANGUAGE sql
VOLATILE
SET search_path FROM CURRENT
AS $function$
    WITH renewed AS (
        UPDATE archon_agent_work_orders
        SET lease_expires_at = now() + make_interval(secs => p_lease_seconds), updated_at = now()
        WHERE agent_work_order_id = p_work_order_id AND lease_owner = p_worker_id AND status = 'running'
        RETURNING 1
    )
    SELECT EXISTS (SELECT 1 FROM renewed);
$function$;

-- p_changes: a JSON object of columns to set with the final status (pr_url, error_message, costs, ...).
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
         error_message, started_at, metadata)
        = (SELECT c.repository_url, c.sandbox_identifier, c.git_branch_name, c.agent_session_id,
                  c.user_request, c.repo_full_name, c.issue_number, c.trigger_actor,
                  c.trigger_comment_id, c.delivery_id, c.attempt, c.max_attempts, c.total_cost_usd,
                  c.num_turns, c.progress_comment_id, c.pr_url, c.pr_number, c.error_message,
                  c.started_at, c.metadata
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

CREATE OR REPLACE FUNCTION archon_agent_work_order_fail_exhausted()
RETURNS SETOF archon_agent_work_orders
LANGUAGE sql
VOLATILE
SET search_path FROM CURRENT
AS $function$
    WITH exhausted AS (
        SELECT agent_work_order_id
        FROM archon_agent_work_orders
        WHERE status = 'running' AND lease_expires_at < now() AND attempt >= max_attempts
        FOR UPDATE SKIP LOCKED
    )
    UPDATE archon_agent_work_orders AS t
    SET status = 'failed',
        lease_owner = NULL,
        lease_expires_at = NULL,
        completed_at = now(),
        updated_at = now(),
        error_message = 'the worker running it stopped answering on its last allowed attempt ('
            || t.attempt || ')'
    FROM exhausted
    WHERE t.agent_work_order_id = exhausted.agent_work_order_id
    RETURNING t.*;
$function$;

CREATE OR REPLACE FUNCTION archon_agent_work_order_notify()
RETURNS TRIGGER
LANGUAGE plpgsql
AS $function$
BEGIN
    PERFORM pg_notify('agent_work_orders', NEW.agent_work_order_id);
    RETURN NULL;
END;
$function$;

-- A new pending work order is work; so is an issue's queue moving on when its work order ends.
CREATE OR REPLACE TRIGGER notify_agent_work_order_pending
    AFTER INSERT ON archon_agent_work_orders
    FOR EACH ROW
    WHEN (NEW.status = 'pending')
    EXECUTE FUNCTION archon_agent_work_order_notify();

CREATE OR REPLACE TRIGGER notify_agent_work_order_released
    AFTER UPDATE OF status ON archon_agent_work_orders
    FOR EACH ROW
    WHEN (OLD.status IS DISTINCT FROM NEW.status
          AND NEW.status IN ('pending', 'completed', 'failed', 'cancelled'))
    EXECUTE FUNCTION archon_agent_work_order_notify();

-- Only the owner (the role that ran this file) and Supabase's service role run the queue; anon and
-- signed-in users of the Supabase API may not claim or finish work.
DO $grants$
DECLARE
    fn TEXT;
BEGIN
    FOREACH fn IN ARRAY ARRAY[
        'archon_agent_work_order_claim(text, double precision)',
        'archon_agent_work_order_heartbeat(text, text, double precision)',
        'archon_agent_work_order_finish(text, text, text, jsonb)',
        'archon_agent_work_order_fail_exhausted()'
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

COMMENT ON FUNCTION archon_agent_work_order_claim(TEXT, DOUBLE PRECISION) IS
    'Lease the oldest runnable work order to p_worker_id for p_lease_seconds; returns it (or no row)';
COMMENT ON FUNCTION archon_agent_work_order_heartbeat(TEXT, TEXT, DOUBLE PRECISION) IS
    'Extend the lease of a running work order; true only for the lease owner';
COMMENT ON FUNCTION archon_agent_work_order_finish(TEXT, TEXT, TEXT, JSONB) IS
    'End a running work order with p_status and p_changes, releasing the lease; no row unless p_worker_id owns it';
COMMENT ON FUNCTION archon_agent_work_order_fail_exhausted() IS
    'Fail running work orders whose lease expired on their last allowed attempt; returns them';
