-- =====================================================
-- Agent Work Orders - replay, floods and who may touch the queue (migration 007)
-- =====================================================
-- 1. `trigger_key` on work orders, unique: what a trigger is (a comment by its id; an issue event by
--    issue, action, label and event time), so a signed body replayed under a new X-GitHub-Delivery
--    never becomes a second work order.
-- 2. The counts admission checks on every trigger (one issue's queue, one actor's and one repository's
--    work orders in the last hour, all pending work), with the indexes they need, as one function.
-- 3. archon_agent_work_order_notices: when a refusal was last said on an issue, so several receivers
--    say it at most once per window.
-- 4. Only the owner (the role that runs the migrations) and Supabase's service_role may read or write
--    the bot's tables or run its functions. The seed let every signed-in user of a Supabase project
--    (`authenticated`) read and change work orders, steps and repositories and read raw deliveries;
--    rows written that way steer a worker (clone URL, branch, folder names). Those policies are dropped
--    and every privilege is revoked from `anon`, `authenticated` and PUBLIC. migrations/README.md says
--    how to roll this back.
-- Applies on plain PostgreSQL (Supabase's roles are only touched where they exist) and re-applies
-- harmlessly.
-- =====================================================

ALTER TABLE archon_agent_work_orders ADD COLUMN IF NOT EXISTS trigger_key TEXT;

CREATE UNIQUE INDEX IF NOT EXISTS idx_agent_work_orders_trigger_key
    ON archon_agent_work_orders (trigger_key) WHERE trigger_key IS NOT NULL;
CREATE INDEX IF NOT EXISTS idx_agent_work_orders_actor_recent
    ON archon_agent_work_orders (trigger_actor, created_at);
CREATE INDEX IF NOT EXISTS idx_agent_work_orders_repo_recent
    ON archon_agent_work_orders (repo_full_name, created_at);

CREATE TABLE IF NOT EXISTS archon_agent_work_order_notices (
    repo_full_name TEXT NOT NULL,
    issue_number INTEGER NOT NULL,
    said_at TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT NOW(),
    PRIMARY KEY (repo_full_name, issue_number)
);
ALTER TABLE archon_agent_work_order_notices ENABLE ROW LEVEL SECURITY;

CREATE OR REPLACE FUNCTION archon_agent_work_order_admission_load(
    p_repo_full_name TEXT, p_issue_number INTEGER, p_actor TEXT, p_since TIMESTAMP WITH TIME ZONE
)
RETURNS TABLE (issue_active BIGINT, actor_recent BIGINT, repo_recent BIGINT, pending BIGINT)
LANGUAGE sql
STABLE
SET search_path FROM CURRENT
AS $function$
    SELECT
        (SELECT count(*) FROM archon_agent_work_orders
         WHERE repo_full_name = p_repo_full_name AND issue_number = p_issue_number
           AND status IN ('pending', 'running')),
        (SELECT count(*) FROM archon_agent_work_orders WHERE trigger_actor = p_actor AND created_at >= p_since),
        (SELECT count(*) FROM archon_agent_work_orders
         WHERE repo_full_name = p_repo_full_name AND created_at >= p_since),
        (SELECT count(*) FROM archon_agent_work_orders WHERE status = 'pending');
$function$;

-- True for the one caller that may say a refusal on this issue now (nobody did within the window).
CREATE OR REPLACE FUNCTION archon_agent_work_order_note_refusal(
    p_repo_full_name TEXT, p_issue_number INTEGER, p_window_seconds DOUBLE PRECISION
)
RETURNS BOOLEAN
LANGUAGE sql
VOLATILE
SET search_path FROM CURRENT
AS $function$
    WITH said AS (
        INSERT INTO archon_agent_work_order_notices AS n (repo_full_name, issue_number, said_at)
        VALUES (p_repo_full_name, p_issue_number, now())
        ON CONFLICT (repo_full_name, issue_number) DO UPDATE SET said_at = now()
        WHERE n.said_at < now() - make_interval(secs => p_window_seconds)
        RETURNING 1
    )
    SELECT EXISTS (SELECT 1 FROM said);
$function$;

-- The seed's policies for signed-in users go; the service role's stay (and the new table gets one).
DO $policies$
DECLARE
    policy RECORD;
BEGIN
    FOR policy IN
        SELECT policyname, tablename FROM pg_policies
        WHERE schemaname = current_schema()
          AND (tablename LIKE 'archon\_agent\_work\_order%' OR tablename = 'archon_configured_repositories')
          AND roles && ARRAY['authenticated', 'anon']::name[]
    LOOP
        EXECUTE format('DROP POLICY %I ON %I', policy.policyname, policy.tablename);
    END LOOP;
    IF to_regprocedure('auth.role()') IS NOT NULL THEN
        DROP POLICY IF EXISTS "Allow service role full access to agent work order notices"
            ON archon_agent_work_order_notices;
        CREATE POLICY "Allow service role full access to agent work order notices"
            ON archon_agent_work_order_notices
            FOR ALL
            USING (auth.role() = 'service_role');
    END IF;
END
$policies$;

-- Every privilege on the bot's tables, sequences and functions: none for anon, authenticated or PUBLIC
-- (Supabase's default privileges grant them all on creation); all for service_role. Only the bot's
-- objects are named: other Archon tables (archon_settings, ...) are left as they are.
DO $privileges$
DECLARE
    object RECORD;
    grantee TEXT;
BEGIN
    FOR object IN
        SELECT c.relname AS name, CASE c.relkind WHEN 'S' THEN 'SEQUENCE' ELSE 'TABLE' END AS kind
        FROM pg_class AS c
        WHERE c.relnamespace = current_schema()::regnamespace AND c.relkind IN ('r', 'p', 'v', 'S')
          AND (c.relname LIKE 'archon\_agent\_work\_order%' OR c.relname = 'archon_configured_repositories')
    LOOP
        EXECUTE format('REVOKE ALL ON %s %I FROM PUBLIC', object.kind, object.name);
        FOREACH grantee IN ARRAY ARRAY['anon', 'authenticated'] LOOP
            IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = grantee) THEN
                EXECUTE format('REVOKE ALL ON %s %I FROM %I', object.kind, object.name, grantee);
            END IF;
        END LOOP;
        IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'service_role') THEN
            EXECUTE format('GRANT ALL ON %s %I TO service_role', object.kind, object.name);
        END IF;
    END LOOP;
    FOR object IN
        SELECT p.oid::regprocedure::text AS name
        FROM pg_proc AS p
        WHERE p.pronamespace = current_schema()::regnamespace AND p.proname LIKE 'archon\_agent\_work\_order%'
    LOOP
        EXECUTE format('REVOKE ALL ON FUNCTION %s FROM PUBLIC', object.name);
        FOREACH grantee IN ARRAY ARRAY['anon', 'authenticated'] LOOP
            IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = grantee) THEN
                EXECUTE format('REVOKE ALL ON FUNCTION %s FROM %I', object.name, grantee);
            END IF;
        END LOOP;
        IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'service_role') THEN
            EXECUTE format('GRANT EXECUTE ON FUNCTION %s TO service_role', object.name);
        END IF;
    END LOOP;
END
$privileges$;

COMMENT ON COLUMN archon_agent_work_orders.trigger_key IS
    'What triggered the work order (comment id, or issue + action + label + event time); unique, so a replay is refused';
COMMENT ON FUNCTION archon_agent_work_order_admission_load(TEXT, INTEGER, TEXT, TIMESTAMP WITH TIME ZONE) IS
    'Active work orders on one issue, work orders by one actor and one repository since p_since, all pending';
COMMENT ON FUNCTION archon_agent_work_order_note_refusal(TEXT, INTEGER, DOUBLE PRECISION) IS
    'True (and remembered) if no refusal was said on this issue within p_window_seconds';
