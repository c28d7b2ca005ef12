-- =====================================================
-- Agent Work Orders - costs per day, and each step's prompt (migration 013)
-- =====================================================
-- archon_agent_work_order_daily_spend(since, until, repo): the spend ledger (010) summed per UTC day and
--   repository over [since, until), newest day first, then by repository: the dashboard's costs page and
--   GET /api/agent-work-orders/costs. PostgREST has no aggregates, so the Supabase store calls this function; the
--   Postgres store calls it too. Without a repository it reads one range of idx_agent_work_order_spend_at, with one
--   a range of idx_agent_work_order_spend_repo_at. A range longer than 366 days is refused (check_violation), as
--   the API refuses it: a year of days is the most a page shows.
-- archon_agent_work_order_steps.prompt: what the agent was asked in the step, redacted like the report (the
--   bot's secrets and credential-shaped text replaced) and cut to 32,000 characters; NULL for steps without an
--   agent (checkout, commit, push, pull request) and for steps recorded before this migration.
-- For the owner and service_role only, like every table and function of the bot (007).
-- Re-applies harmlessly (IF NOT EXISTS, CREATE OR REPLACE).
-- =====================================================

ALTER TABLE archon_agent_work_order_steps ADD COLUMN IF NOT EXISTS prompt TEXT;

CREATE OR REPLACE FUNCTION archon_agent_work_order_daily_spend(
    p_since TIMESTAMP WITH TIME ZONE, p_until TIMESTAMP WITH TIME ZONE, p_repo TEXT DEFAULT NULL
)
RETURNS TABLE (day DATE, repo_full_name TEXT, cost_usd DOUBLE PRECISION, steps BIGINT, work_orders BIGINT)
LANGUAGE plpgsql
STABLE
SET search_path FROM CURRENT
AS $function$
BEGIN
    IF p_since IS NULL OR p_until IS NULL OR p_until <= p_since OR p_until - p_since > INTERVAL '366 days' THEN
        RAISE EXCEPTION 'the range must end after it starts and span at most 366 days'
            USING ERRCODE = 'check_violation';
    END IF;
    IF p_repo IS NULL THEN
        RETURN QUERY
            SELECT (s.at AT TIME ZONE 'UTC')::date, s.repo_full_name, sum(s.cost_usd), count(*),
                   count(DISTINCT s.agent_work_order_id)
            FROM archon_agent_work_order_spend AS s
            WHERE s.at >= p_since AND s.at < p_until
            GROUP BY 1, 2 ORDER BY 1 DESC, 2;
    ELSE
        RETURN QUERY
            SELECT (s.at AT TIME ZONE 'UTC')::date, s.repo_full_name, sum(s.cost_usd), count(*),
                   count(DISTINCT s.agent_work_order_id)
            FROM archon_agent_work_order_spend AS s
            WHERE s.repo_full_name = p_repo AND s.at >= p_since AND s.at < p_until
            GROUP BY 1, 2 ORDER BY 1 DESC, 2;
    END IF;
END;
$function$;

DO $grants$
DECLARE
    object TEXT;
    grantee TEXT;
BEGIN
    FOREACH object IN ARRAY ARRAY[
        'FUNCTION archon_agent_work_order_daily_spend(timestamptz, timestamptz, text)'
    ] LOOP
        EXECUTE format('REVOKE ALL ON %s FROM PUBLIC', object);
        FOREACH grantee IN ARRAY ARRAY['anon', 'authenticated'] LOOP
            IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = grantee) THEN
                EXECUTE format('REVOKE ALL ON %s FROM %I', object, grantee);
            END IF;
        END LOOP;
        IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'service_role') THEN
            EXECUTE format('GRANT ALL ON %s TO service_role', object);
        END IF;
    END LOOP;
END
$grants$;

COMMENT ON COLUMN archon_agent_work_order_steps.prompt IS
    'What the agent was asked in this step, redacted and cut to 32,000 characters (NULL: no agent in the step)';
COMMENT ON FUNCTION archon_agent_work_order_daily_spend(timestamptz, timestamptz, text) IS
    'The spend ledger per UTC day and repository over [since, until), newest day first (at most 366 days)';
