-- =====================================================
-- Agent Work Orders - a queue that does not slow as it grows, and a list that pages (migration 009)
-- =====================================================
-- claim: the same rule as 005 (oldest runnable first: pending, or running with an expired lease, with an
--   attempt left; first come first served on an issue; never two running on one issue), split so that each
--   test is one probe of a small partial index: the walk over runnable work orders stops at the first that
--   may run, and with 50k pending it no longer checks each candidate against every row of its issue. In
--   PL/pgSQL, so each connection plans it once (a LANGUAGE sql function is planned on every call, ~1.5 ms).
-- fail_exhausted (run before every claim): reads only the rows with no attempt left, from a partial index,
--   instead of every pending row; in PL/pgSQL too.
-- The work-order list (newest first by created_at, then id; a cursor continues after a (created_at, id)):
--   an index for each filter (none, status, repository, repository + issue), each ending in the list's
--   order so a created range and the cursor are ranges on it.
-- Re-applies harmlessly (IF NOT EXISTS, CREATE OR REPLACE).
-- =====================================================

CREATE INDEX IF NOT EXISTS idx_agent_work_orders_issue_queue
    ON archon_agent_work_orders (repo_full_name, issue_number, created_at, agent_work_order_id)
    WHERE status IN ('pending', 'running');
CREATE INDEX IF NOT EXISTS idx_agent_work_orders_issue_leases
    ON archon_agent_work_orders (repo_full_name, issue_number, lease_expires_at) WHERE status = 'running';
CREATE INDEX IF NOT EXISTS idx_agent_work_orders_exhausted
    ON archon_agent_work_orders (created_at) WHERE status IN ('pending', 'running') AND attempt >= max_attempts;
CREATE INDEX IF NOT EXISTS idx_agent_work_orders_list
    ON archon_agent_work_orders (created_at, agent_work_order_id);
CREATE INDEX IF NOT EXISTS idx_agent_work_orders_list_status
    ON archon_agent_work_orders (status, created_at, agent_work_order_id);
CREATE INDEX IF NOT EXISTS idx_agent_work_orders_list_repo
    ON archon_agent_work_orders (repo_full_name, created_at, agent_work_order_id);
CREATE INDEX IF NOT EXISTS idx_agent_work_orders_list_issue
    ON archon_agent_work_orders (repo_full_name, issue_number, created_at, agent_work_order_id);

CREATE OR REPLACE FUNCTION archon_agent_work_order_claim(p_worker_id TEXT, p_lease_seconds DOUBLE PRECISION)
RETURNS SETOF archon_agent_work_orders
LANGUAGE plpgsql
VOLATILE
SET search_path FROM CURRENT
AS $function$
BEGIN
    RETURN QUERY
    WITH candidate AS (
        SELECT w.agent_work_order_id
        FROM archon_agent_work_orders AS w
        WHERE w.status IN ('pending', 'running')
          AND (w.status = 'pending' OR w.lease_expires_at < now())
          AND w.attempt < w.max_attempts
          AND NOT EXISTS (  -- first come first served on an issue: nothing older still waiting or running
              SELECT 1
              FROM archon_agent_work_orders AS o
              WHERE o.repo_full_name = w.repo_full_name
                AND o.issue_number = w.issue_number
                AND o.status IN ('pending', 'running')
                AND (o.created_at, o.agent_work_order_id) < (w.created_at, w.agent_work_order_id))
          AND NOT EXISTS (  -- never two running on one issue: no live lease there
              SELECT 1
              FROM archon_agent_work_orders AS o
              WHERE o.repo_full_name = w.repo_full_name
                AND o.issue_number = w.issue_number
                AND o.status = 'running'
                AND o.lease_expires_at >= now()
                AND o.agent_work_order_id <> w.agent_work_order_id)
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
END;
$function$;

CREATE OR REPLACE FUNCTION archon_agent_work_order_fail_exhausted()
RETURNS SETOF archon_agent_work_orders
LANGUAGE plpgsql
VOLATILE
SET search_path FROM CURRENT
AS $function$
BEGIN
    RETURN QUERY
    WITH exhausted AS (
        SELECT agent_work_order_id
        FROM archon_agent_work_orders
        WHERE status IN ('pending', 'running') AND attempt >= max_attempts
          AND (status = 'pending' OR lease_expires_at < now())
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
END;
$function$;
