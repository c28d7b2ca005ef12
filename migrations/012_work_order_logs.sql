-- =====================================================
-- Agent Work Orders - the work order log (migration 012)
-- =====================================================
-- archon_agent_work_order_logs: one row per event of a work order, written as it happens (a status change, a
--   step started or finished with its duration, cost and turns, each tool use, an error, a note). `id` grows
--   across all work orders and is a reader's cursor: "the entries of work order X after id N" is one range of
--   idx_agent_work_order_logs_order. Rows go with their work order (ON DELETE CASCADE), as its steps do.
-- The trigger notify_agent_work_order_log sends NOTIFY agent_work_order_logs with the work order's id as the
--   payload on every insert, so a server's one LISTEN connection wakes the streams watching that work order even
--   when the worker that wrote the row is another machine.
-- For the owner and service_role only, like every table and function of the bot (007).
-- Re-applies harmlessly (IF NOT EXISTS, CREATE OR REPLACE, DROP ... IF EXISTS).
-- =====================================================

CREATE TABLE IF NOT EXISTS archon_agent_work_order_logs (
    id BIGSERIAL PRIMARY KEY,
    agent_work_order_id TEXT NOT NULL
        REFERENCES archon_agent_work_orders (agent_work_order_id) ON DELETE CASCADE,
    at TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT NOW(),
    level TEXT NOT NULL DEFAULT 'info',
    step TEXT,
    kind TEXT NOT NULL DEFAULT 'note',
    message TEXT NOT NULL DEFAULT '',
    data JSONB NOT NULL DEFAULT '{}'::jsonb
);
ALTER TABLE archon_agent_work_order_logs ENABLE ROW LEVEL SECURITY;
CREATE INDEX IF NOT EXISTS idx_agent_work_order_logs_order
    ON archon_agent_work_order_logs (agent_work_order_id, id);

CREATE OR REPLACE FUNCTION archon_agent_work_order_notify_log()
RETURNS trigger
LANGUAGE plpgsql
SET search_path FROM CURRENT
AS $function$
BEGIN
    PERFORM pg_notify('agent_work_order_logs', NEW.agent_work_order_id);
    RETURN NEW;
END;
$function$;

DROP TRIGGER IF EXISTS notify_agent_work_order_log ON archon_agent_work_order_logs;
CREATE TRIGGER notify_agent_work_order_log
    AFTER INSERT ON archon_agent_work_order_logs
    FOR EACH ROW EXECUTE FUNCTION archon_agent_work_order_notify_log();

DO $policies$
BEGIN
    IF to_regprocedure('auth.role()') IS NOT NULL THEN
        DROP POLICY IF EXISTS "Allow service role full access to agent work order logs"
            ON archon_agent_work_order_logs;
        CREATE POLICY "Allow service role full access to agent work order logs"
            ON archon_agent_work_order_logs
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
        'TABLE archon_agent_work_order_logs',
        'SEQUENCE archon_agent_work_order_logs_id_seq',
        'FUNCTION archon_agent_work_order_notify_log()'
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

COMMENT ON TABLE archon_agent_work_order_logs IS
    'Each work order''s events as they happened (status, steps, tool uses, errors); id is a reader''s cursor';
