-- =====================================================
-- Agent Work Orders - the spend ledger (migration 010)
-- =====================================================
-- archon_agent_work_order_spend: one row per step that recorded a cost (repository, work order, step, cost,
--   when it was recorded), written by a trigger on the steps table, so every way a step is inserted (the
--   Postgres store, the Supabase store through PostgREST) fills it in the same transaction. It has no foreign
--   key: deleting a work order (retention, by hand) does not erase what it spent today.
-- archon_agent_work_order_spent_since(repo, since): the dollars recorded since a time, for one repository or
--   (repo NULL) for all; the daily caps ask it on every trigger, so each case is one range of a covering index.
-- For the owner and service_role only, like every table and function of the bot (007).
-- Re-applies harmlessly (IF NOT EXISTS, CREATE OR REPLACE, DROP ... IF EXISTS).
-- =====================================================

CREATE TABLE IF NOT EXISTS archon_agent_work_order_spend (
    id BIGSERIAL PRIMARY KEY,
    repo_full_name TEXT NOT NULL DEFAULT '',
    agent_work_order_id TEXT NOT NULL,
    step TEXT NOT NULL,
    cost_usd DOUBLE PRECISION NOT NULL,
    at TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT NOW()
);
ALTER TABLE archon_agent_work_order_spend ENABLE ROW LEVEL SECURITY;
CREATE INDEX IF NOT EXISTS idx_agent_work_order_spend_repo_at
    ON archon_agent_work_order_spend (repo_full_name, at) INCLUDE (cost_usd);
CREATE INDEX IF NOT EXISTS idx_agent_work_order_spend_at
    ON archon_agent_work_order_spend (at) INCLUDE (cost_usd);

CREATE OR REPLACE FUNCTION archon_agent_work_order_record_spend()
RETURNS trigger
LANGUAGE plpgsql
SET search_path FROM CURRENT
AS $function$
BEGIN
    IF NEW.cost_usd IS NOT NULL AND NEW.cost_usd > 0 THEN
        INSERT INTO archon_agent_work_order_spend (repo_full_name, agent_work_order_id, step, cost_usd)
        SELECT coalesce(w.repo_full_name, ''), NEW.agent_work_order_id, NEW.step, NEW.cost_usd
        FROM archon_agent_work_orders AS w
        WHERE w.agent_work_order_id = NEW.agent_work_order_id;
    END IF;
    RETURN NEW;
END;
$function$;

DROP TRIGGER IF EXISTS record_agent_work_order_spend ON archon_agent_work_order_steps;
CREATE TRIGGER record_agent_work_order_spend
    AFTER INSERT ON archon_agent_work_order_steps
    FOR EACH ROW EXECUTE FUNCTION archon_agent_work_order_record_spend();

CREATE OR REPLACE FUNCTION archon_agent_work_order_spent_since(
    p_repo_full_name TEXT, p_since TIMESTAMP WITH TIME ZONE
)
RETURNS DOUBLE PRECISION
LANGUAGE plpgsql
STABLE
SET search_path FROM CURRENT
AS $function$
BEGIN
    IF p_repo_full_name IS NULL THEN
        RETURN (SELECT coalesce(sum(cost_usd), 0) FROM archon_agent_work_order_spend WHERE at >= p_since);
    END IF;
    RETURN (SELECT coalesce(sum(cost_usd), 0) FROM archon_agent_work_order_spend
            WHERE repo_full_name = p_repo_full_name AND at >= p_since);
END;
$function$;

DO $policies$
BEGIN
    IF to_regprocedure('auth.role()') IS NOT NULL THEN
        DROP POLICY IF EXISTS "Allow service role full access to agent work order spend"
            ON archon_agent_work_order_spend;
        CREATE POLICY "Allow service role full access to agent work order spend"
            ON archon_agent_work_order_spend
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
        'TABLE archon_agent_work_order_spend',
        'SEQUENCE archon_agent_work_order_spend_id_seq',
        'FUNCTION archon_agent_work_order_record_spend()',
        'FUNCTION archon_agent_work_order_spent_since(text, timestamptz)'
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

COMMENT ON TABLE archon_agent_work_order_spend IS
    'What each step cost, when it was recorded: the daily spend caps sum it (written by a trigger on steps)';
