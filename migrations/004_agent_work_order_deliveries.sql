-- =====================================================
-- Agent Work Orders - webhook deliveries (migration 004)
-- =====================================================
-- Every GitHub webhook delivery is recorded before it is answered; its id (X-GitHub-Delivery) is the
-- primary key, so a redelivery is recognised and not processed twice. `outcome` and `processed_at`
-- are set once the delivery was routed (a work order, or the reason it was ignored).
-- Re-applies harmlessly.
-- =====================================================

CREATE TABLE IF NOT EXISTS archon_agent_work_order_deliveries (
    delivery_id TEXT PRIMARY KEY,
    event TEXT NOT NULL,
    action TEXT NOT NULL DEFAULT '',
    repo_full_name TEXT NOT NULL DEFAULT '',
    payload JSONB NOT NULL DEFAULT '{}'::jsonb,
    outcome TEXT,
    received_at TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT NOW(),
    processed_at TIMESTAMP WITH TIME ZONE
);

CREATE INDEX IF NOT EXISTS idx_agent_work_order_deliveries_unprocessed
    ON archon_agent_work_order_deliveries (received_at) WHERE processed_at IS NULL;
CREATE INDEX IF NOT EXISTS idx_agent_work_order_deliveries_received_at
    ON archon_agent_work_order_deliveries (received_at DESC);
CREATE INDEX IF NOT EXISTS idx_agent_work_order_deliveries_repository
    ON archon_agent_work_order_deliveries (repo_full_name);

ALTER TABLE archon_agent_work_order_deliveries ENABLE ROW LEVEL SECURITY;

-- Supabase: the service role has full access; signed-in users may read deliveries, not forge them.
DO $policies$
BEGIN
    IF to_regprocedure('auth.role()') IS NOT NULL THEN
        DROP POLICY IF EXISTS "Allow service role full access to agent work order deliveries"
            ON archon_agent_work_order_deliveries;
        CREATE POLICY "Allow service role full access to agent work order deliveries"
            ON archon_agent_work_order_deliveries
            FOR ALL
            USING (auth.role() = 'service_role');
    END IF;
    IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'authenticated') THEN
        DROP POLICY IF EXISTS "Allow authenticated users to read agent work order deliveries"
            ON archon_agent_work_order_deliveries;
        CREATE POLICY "Allow authenticated users to read agent work order deliveries"
            ON archon_agent_work_order_deliveries
            FOR SELECT
            TO authenticated
            USING (true);
    END IF;
END
$policies$;

COMMENT ON TABLE archon_agent_work_order_deliveries IS
    'GitHub webhook deliveries, recorded before they are acknowledged; the id makes redeliveries harmless';
COMMENT ON COLUMN archon_agent_work_order_deliveries.outcome IS
    'What routing made of the delivery: a work order id, or why it was ignored';
