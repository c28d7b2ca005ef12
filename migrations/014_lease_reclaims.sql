-- =====================================================
-- Agent Work Orders - the claim says when it took over an expired lease (migration 014)
-- =====================================================
-- archon_agent_work_order_claim_lease: the claim of 009 (same rule, same walk, same indexes), which also
--   returns `reclaimed_from`: the worker whose expired lease it took over when the row was `running` (a
--   crashed or stalled worker's work picked up again), NULL when it was `pending` (new, released by a
--   graceful stop, requeued, retried). The worker counts these in awo_lease_reclaims_total.
-- archon_agent_work_order_claim: unchanged in what it returns (the claimed row), now the same claim without
--   the flag, so a worker of an older release sharing this database claims by the one rule.
-- Re-applies harmlessly (CREATE OR REPLACE).
-- =====================================================

CREATE OR REPLACE FUNCTION archon_agent_work_order_claim_lease(p_worker_id TEXT, p_lease_seconds DOUBLE PRECISION)
RETURNS TABLE (work_order archon_agent_work_orders, reclaimed_from TEXT)
LANGUAGE plpgsql
VOLATILE
SET search_path FROM CURRENT
AS $function$
BEGIN
    RETURN QUERY
    WITH candidate AS (
        SELECT w.agent_work_order_id,
               CASE WHEN w.status = 'running' THEN COALESCE(w.lease_owner, '') END AS previous_owner
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
    RETURNING t, candidate.previous_owner;
END;
$function$;

CREATE OR REPLACE FUNCTION archon_agent_work_order_claim(p_worker_id TEXT, p_lease_seconds DOUBLE PRECISION)
RETURNS SETOF archon_agent_work_orders
LANGUAGE sql
VOLATILE
SET search_path FROM CURRENT
AS $function$
    SELECT (c.work_order).* FROM archon_agent_work_order_claim_lease(p_worker_id, p_lease_seconds) AS c;
$function$;

DO $grants$
BEGIN
    REVOKE ALL ON FUNCTION archon_agent_work_order_claim_lease(text, double precision) FROM PUBLIC;
    IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'anon') THEN
        REVOKE ALL ON FUNCTION archon_agent_work_order_claim_lease(text, double precision) FROM anon;
    END IF;
    IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'authenticated') THEN
        REVOKE ALL ON FUNCTION archon_agent_work_order_claim_lease(text, double precision) FROM authenticated;
    END IF;
    IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'service_role') THEN
        GRANT EXECUTE ON FUNCTION archon_agent_work_order_claim_lease(text, double precision) TO service_role;
    END IF;
END
$grants$;

COMMENT ON FUNCTION archon_agent_work_order_claim_lease(TEXT, DOUBLE PRECISION) IS
    'Lease the oldest runnable work order; reclaimed_from names the worker whose expired lease it took over '
    '(NULL: it was pending)';
