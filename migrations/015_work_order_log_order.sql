-- =====================================================
-- Agent Work Orders - one work order's log entries commit in id order (migration 015)
-- =====================================================
-- A reader follows a work order's log by id ("after N"). Ids come from one sequence, taken when a row is
-- inserted, but rows become visible when their transaction commits: with two writers on one work order (the
-- worker's tool use and an API call's "stop requested" in the same instant), id 11 could commit before id 10,
-- and a reader that saw 11 would never ask for 10 again. The trigger order_agent_work_order_log takes a
-- transaction-scoped advisory lock on the work order's id, then the row's id: a second writer on the same work
-- order waits for the first one's commit, so its id is larger and visible after the first's. Writers on other
-- work orders never wait for each other. (The default's id, taken before the trigger runs, is left unused.)
-- For the owner and service_role only, like every table and function of the bot (007).
-- Re-applies harmlessly (CREATE OR REPLACE, DROP ... IF EXISTS).
-- =====================================================

CREATE OR REPLACE FUNCTION archon_agent_work_order_order_log()
RETURNS trigger
LANGUAGE plpgsql
SET search_path FROM CURRENT
AS $function$
BEGIN
    PERFORM pg_advisory_xact_lock(hashtextextended('agent_work_order_log:' || NEW.agent_work_order_id, 0));
    NEW.id := nextval(pg_get_serial_sequence('archon_agent_work_order_logs', 'id'));
    RETURN NEW;
END;
$function$;

DROP TRIGGER IF EXISTS order_agent_work_order_log ON archon_agent_work_order_logs;
CREATE TRIGGER order_agent_work_order_log
    BEFORE INSERT ON archon_agent_work_order_logs
    FOR EACH ROW EXECUTE FUNCTION archon_agent_work_order_order_log();

DO $grants$
DECLARE
    grantee TEXT;
BEGIN
    REVOKE ALL ON FUNCTION archon_agent_work_order_order_log() FROM PUBLIC;
    FOREACH grantee IN ARRAY ARRAY['anon', 'authenticated'] LOOP
        IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = grantee) THEN
            EXECUTE format('REVOKE ALL ON FUNCTION archon_agent_work_order_order_log() FROM %I', grantee);
        END IF;
    END LOOP;
    IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'service_role') THEN
        GRANT ALL ON FUNCTION archon_agent_work_order_order_log() TO service_role;
    END IF;
END
$grants$;
