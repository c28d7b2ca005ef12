-- =====================================================
-- Agent Work Orders - stop and retry (migration 010)
-- =====================================================
-- cancel_requested: someone asked to stop a running work order (`@claude stop`, the API, `awo cancel`); the
--   worker holding its lease checks its running work orders' flags every second or so, kills the agent and
--   finishes the row `cancelled`. A pending one (or a running one with no live lease) is cancelled at once.
-- archon_agent_work_order_cancel: the row after the cancel, or no row when it was not pending or running.
-- archon_agent_work_order_cancel_requests: of the given ids, those whose stop was asked for.
-- archon_agent_work_order_retry: a failed or cancelled work order goes back to the queue (same row: same
--   branch, same progress comment) with p_attempts more attempts; no row unless it was failed or cancelled.
-- Re-applies harmlessly.
-- =====================================================

ALTER TABLE archon_agent_work_orders ADD COLUMN IF NOT EXISTS cancel_requested BOOLEAN NOT NULL DEFAULT false;

CREATE OR REPLACE FUNCTION archon_agent_work_order_cancel(p_work_order_id TEXT)
RETURNS SETOF archon_agent_work_orders
LANGUAGE sql
VOLATILE
SET search_path FROM CURRENT
AS $function$
    WITH target AS (
        SELECT agent_work_order_id, (status = 'running' AND lease_expires_at >= now()) AS live
        FROM archon_agent_work_orders
        WHERE agent_work_order_id = p_work_order_id AND status IN ('pending', 'running')
        FOR UPDATE
    )
    UPDATE archon_agent_work_orders AS t
    SET status = CASE WHEN s.live THEN 'running' ELSE 'cancelled' END,
        cancel_requested = s.live,
        report_pending = NOT s.live,
        completed_at = CASE WHEN s.live THEN NULL ELSE now() END,
        lease_owner = CASE WHEN s.live THEN t.lease_owner END,
        lease_expires_at = CASE WHEN s.live THEN t.lease_expires_at END,
        error_message = CASE WHEN s.live THEN t.error_message ELSE 'stopped on request' END,
        updated_at = now()
    FROM target AS s
    WHERE t.agent_work_order_id = s.agent_work_order_id
    RETURNING t.*;
$function$;

CREATE OR REPLACE FUNCTION archon_agent_work_order_cancel_requests(p_work_order_ids TEXT[])
RETURNS TEXT[]
LANGUAGE sql
STABLE
SET search_path FROM CURRENT
AS $function$
    SELECT COALESCE(array_agg(agent_work_order_id ORDER BY agent_work_order_id), '{}'::text[])
    FROM archon_agent_work_orders
    WHERE agent_work_order_id = ANY (p_work_order_ids) AND cancel_requested AND status = 'running';
$function$;

CREATE OR REPLACE FUNCTION archon_agent_work_order_retry(p_work_order_id TEXT, p_attempts INTEGER)
RETURNS SETOF archon_agent_work_orders
LANGUAGE sql
VOLATILE
SET search_path FROM CURRENT
AS $function$
    UPDATE archon_agent_work_orders AS t
    SET status = 'pending', cancel_requested = false, report_pending = false, lease_owner = NULL,
        lease_expires_at = NULL, completed_at = NULL, error_message = NULL,
        max_attempts = t.attempt + GREATEST(p_attempts, 1),
        metadata = t.metadata - 'outcome' - 'answer',
        updated_at = now()
    WHERE t.agent_work_order_id = p_work_order_id AND t.status IN ('failed', 'cancelled')
    RETURNING t.*;
$function$;

DO $grants$
DECLARE
    fn TEXT;
BEGIN
    FOREACH fn IN ARRAY ARRAY[
        'archon_agent_work_order_cancel(text)',
        'archon_agent_work_order_cancel_requests(text[])',
        'archon_agent_work_order_retry(text, integer)'
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

COMMENT ON COLUMN archon_agent_work_orders.cancel_requested IS
    'Stop was asked for while the work order ran; the worker holding its lease ends it cancelled';
COMMENT ON FUNCTION archon_agent_work_order_cancel(TEXT) IS
    'Cancel a pending work order now, or ask the worker running one to stop; no row unless it was active';
COMMENT ON FUNCTION archon_agent_work_order_retry(TEXT, INTEGER) IS
    'Queue a failed or cancelled work order again, same row, with more attempts; no row unless it had ended so';
