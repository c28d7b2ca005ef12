-- =====================================================
-- Agent Work Orders - the spend ledger rolled up per day (migration 016)
-- =====================================================
-- archon_agent_work_order_spend_daily: the spend ledger (010) summed per UTC day and repository (dollars, steps,
--   distinct work orders), kept by the trigger roll_up_agent_work_order_spend on every insert into the ledger (the
--   steps' trigger writes the ledger, so the same transaction), and filled from the existing ledger here. The costs
--   page read every ledger row of its range (~194k in 30 days at 100k work orders: over 100 ms); it now reads one
--   row per day and repository shown.
--   work_orders counts a work order once per day and repository: a ledger row adds 1 only when the ledger has no
--   other row of its work order on its UTC day, one probe of idx_agent_work_order_spend_order_at. A work order's
--   steps are written one at a time by the one worker holding its lease, so two first rows never race; different
--   work orders on one day add up through the UPSERT (ON CONFLICT DO UPDATE takes the row's lock).
--   The ledger is append-only: the rollup follows inserts, not updates or deletes of ledger rows.
-- archon_agent_work_order_daily_spend(since, until, repo): same signature and result as 013 (the Supabase store
--   calls it unchanged); the whole UTC days of [since, until) come from the rollup, the partial days at either end
--   (a range that does not start or end at midnight UTC) from the ledger as before, so the result is the same.
-- For the owner and service_role only, like every table and function of the bot (007).
-- Re-applies harmlessly (IF NOT EXISTS, CREATE OR REPLACE, DROP ... IF EXISTS; the backfill recomputes each day
--   exactly while the new trigger's lock keeps writers of the ledger out).
-- =====================================================

CREATE TABLE IF NOT EXISTS archon_agent_work_order_spend_daily (
    day DATE NOT NULL,
    repo_full_name TEXT NOT NULL,
    cost_usd DOUBLE PRECISION NOT NULL,
    steps INTEGER NOT NULL,
    work_orders INTEGER NOT NULL,
    PRIMARY KEY (day, repo_full_name)
);
ALTER TABLE archon_agent_work_order_spend_daily ENABLE ROW LEVEL SECURITY;
CREATE INDEX IF NOT EXISTS idx_agent_work_order_spend_order_at
    ON archon_agent_work_order_spend (agent_work_order_id, at) INCLUDE (repo_full_name);

CREATE OR REPLACE FUNCTION archon_agent_work_order_roll_up_spend()
RETURNS trigger
LANGUAGE plpgsql
SET search_path FROM CURRENT
AS $function$
DECLARE
    v_day DATE := (NEW.at AT TIME ZONE 'UTC')::date;
    v_first INTEGER;
BEGIN
    -- the day's bounds from dates, not timestamptz + interval (that follows the session's zone across DST)
    SELECT CASE WHEN EXISTS (
        SELECT 1 FROM archon_agent_work_order_spend AS s
        WHERE s.agent_work_order_id = NEW.agent_work_order_id
          AND s.at >= (v_day::timestamp AT TIME ZONE 'UTC') AND s.at < ((v_day + 1)::timestamp AT TIME ZONE 'UTC')
          AND s.repo_full_name = NEW.repo_full_name AND s.id <> NEW.id
    ) THEN 0 ELSE 1 END INTO v_first;
    INSERT INTO archon_agent_work_order_spend_daily AS d (day, repo_full_name, cost_usd, steps, work_orders)
    VALUES (v_day, NEW.repo_full_name, NEW.cost_usd, 1, v_first)
    ON CONFLICT (day, repo_full_name) DO UPDATE
        SET cost_usd = d.cost_usd + EXCLUDED.cost_usd, steps = d.steps + 1,
            work_orders = d.work_orders + EXCLUDED.work_orders;
    RETURN NULL;
END;
$function$;

-- Before the backfill: CREATE TRIGGER locks the ledger against inserts until this file commits, so the backfill
-- sees every row written before and the trigger every row written after.
DROP TRIGGER IF EXISTS roll_up_agent_work_order_spend ON archon_agent_work_order_spend;
CREATE TRIGGER roll_up_agent_work_order_spend
    AFTER INSERT ON archon_agent_work_order_spend
    FOR EACH ROW EXECUTE FUNCTION archon_agent_work_order_roll_up_spend();

INSERT INTO archon_agent_work_order_spend_daily AS d (day, repo_full_name, cost_usd, steps, work_orders)
SELECT (s.at AT TIME ZONE 'UTC')::date, s.repo_full_name, sum(s.cost_usd), count(*),
       count(DISTINCT s.agent_work_order_id)
FROM archon_agent_work_order_spend AS s
GROUP BY 1, 2
ON CONFLICT (day, repo_full_name) DO UPDATE
    SET cost_usd = EXCLUDED.cost_usd, steps = EXCLUDED.steps, work_orders = EXCLUDED.work_orders;

CREATE OR REPLACE FUNCTION archon_agent_work_order_daily_spend(
    p_since TIMESTAMP WITH TIME ZONE, p_until TIMESTAMP WITH TIME ZONE, p_repo TEXT DEFAULT NULL
)
RETURNS TABLE (day DATE, repo_full_name TEXT, cost_usd DOUBLE PRECISION, steps BIGINT, work_orders BIGINT)
LANGUAGE plpgsql
STABLE
SET search_path FROM CURRENT
AS $function$
DECLARE
    v_since TIMESTAMP;  -- the range in UTC
    v_first DATE;  -- the first whole day of the range
    v_last DATE;  -- the day after its last whole day (v_first >= v_last: no whole day)
    v_low_until TIMESTAMP WITH TIME ZONE;  -- [since, here): the partial day at the start, from the ledger
    v_high_since TIMESTAMP WITH TIME ZONE;  -- [here, until): the partial day at the end, from the ledger
BEGIN
    IF p_since IS NULL OR p_until IS NULL OR p_until <= p_since OR p_until - p_since > INTERVAL '366 days' THEN
        RAISE EXCEPTION 'the range must end after it starts and span at most 366 days'
            USING ERRCODE = 'check_violation';
    END IF;
    v_since := p_since AT TIME ZONE 'UTC';
    v_first := CASE WHEN v_since = v_since::date THEN v_since::date ELSE v_since::date + 1 END;
    v_last := (p_until AT TIME ZONE 'UTC')::date;
    v_low_until := least(p_until, v_first::timestamp AT TIME ZONE 'UTC');
    v_high_since := greatest(v_first, v_last)::timestamp AT TIME ZONE 'UTC';
    -- Three parts on disjoint days, newest first (the end's partial day, the whole days, the start's partial
    -- day): each part ordered gives the whole result in order, as 013's did.
    IF p_repo IS NULL THEN
        RETURN QUERY
            SELECT (s.at AT TIME ZONE 'UTC')::date, s.repo_full_name, sum(s.cost_usd), count(*),
                   count(DISTINCT s.agent_work_order_id)
            FROM archon_agent_work_order_spend AS s
            WHERE s.at >= v_high_since AND s.at < p_until
            GROUP BY 1, 2 ORDER BY 1 DESC, 2;
        RETURN QUERY
            SELECT d.day, d.repo_full_name, d.cost_usd, d.steps::bigint, d.work_orders::bigint
            FROM archon_agent_work_order_spend_daily AS d
            WHERE d.day >= v_first AND d.day < v_last
            ORDER BY 1 DESC, 2;
        RETURN QUERY
            SELECT (s.at AT TIME ZONE 'UTC')::date, s.repo_full_name, sum(s.cost_usd), count(*),
                   count(DISTINCT s.agent_work_order_id)
            FROM archon_agent_work_order_spend AS s
            WHERE s.at >= p_since AND s.at < v_low_until
            GROUP BY 1, 2 ORDER BY 1 DESC, 2;
    ELSE
        RETURN QUERY
            SELECT (s.at AT TIME ZONE 'UTC')::date, s.repo_full_name, sum(s.cost_usd), count(*),
                   count(DISTINCT s.agent_work_order_id)
            FROM archon_agent_work_order_spend AS s
            WHERE s.repo_full_name = p_repo AND s.at >= v_high_since AND s.at < p_until
            GROUP BY 1, 2 ORDER BY 1 DESC, 2;
        RETURN QUERY
            SELECT d.day, d.repo_full_name, d.cost_usd, d.steps::bigint, d.work_orders::bigint
            FROM archon_agent_work_order_spend_daily AS d
            WHERE d.repo_full_name = p_repo AND d.day >= v_first AND d.day < v_last
            ORDER BY 1 DESC, 2;
        RETURN QUERY
            SELECT (s.at AT TIME ZONE 'UTC')::date, s.repo_full_name, sum(s.cost_usd), count(*),
                   count(DISTINCT s.agent_work_order_id)
            FROM archon_agent_work_order_spend AS s
            WHERE s.repo_full_name = p_repo AND s.at >= p_since AND s.at < v_low_until
            GROUP BY 1, 2 ORDER BY 1 DESC, 2;
    END IF;
END;
$function$;

DO $policies$
BEGIN
    IF to_regprocedure('auth.role()') IS NOT NULL THEN
        DROP POLICY IF EXISTS "Allow service role full access to agent work order spend per day"
            ON archon_agent_work_order_spend_daily;
        CREATE POLICY "Allow service role full access to agent work order spend per day"
            ON archon_agent_work_order_spend_daily
            FOR ALL
            USING (auth.role() = 'service_role');
    END IF;
END
$policies$;

DO $grants$
DECLARE
    object TEXT;
    grantee TEXT;
BEGIN
    FOREACH object IN ARRAY ARRAY[
        'TABLE archon_agent_work_order_spend_daily',
        'FUNCTION archon_agent_work_order_roll_up_spend()',
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

COMMENT ON TABLE archon_agent_work_order_spend_daily IS
    'The spend ledger per UTC day and repository (dollars, steps, distinct work orders), kept by a trigger on it';
COMMENT ON FUNCTION archon_agent_work_order_daily_spend(timestamptz, timestamptz, text) IS
    'Spend per UTC day and repository over [since, until), newest day first (at most 366 days): whole days from '
    'the rollup, partial ones from the ledger';
