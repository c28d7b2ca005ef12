-- =====================================================
-- Agent Work Orders - State Management (migration 002, the seed's file)
-- =====================================================
-- The archon_agent_work_orders and archon_agent_work_order_steps tables: work order state with a
-- JSONB metadata column, and the ordered history of executed steps.
--
-- Applies cleanly and re-applies harmlessly on plain PostgreSQL 15+ and on Supabase:
-- policies that need Supabase's auth.role() or its roles are only created where those exist.
-- Run it with `awo migrate`, or paste it in the Supabase SQL Editor (see migrations/README.md).
-- =====================================================

-- The shared trigger function: created if absent, never replaced or dropped (other Archon tables use it).
DO $create_function$
BEGIN
    IF to_regprocedure('update_updated_at_column()') IS NULL THEN
        CREATE FUNCTION update_updated_at_column() RETURNS TRIGGER
        LANGUAGE plpgsql AS $body$
        BEGIN
            NEW.updated_at = NOW();
            RETURN NEW;
        END;
        $body$;
    END IF;
END
$create_function$;

CREATE TABLE IF NOT EXISTS archon_agent_work_orders (
    -- TEXT, not UUID: ids look like "wo-1a2b3c4d"
    agent_work_order_id TEXT PRIMARY KEY,

    -- Frequently queried fields are columns
    repository_url TEXT NOT NULL,
    sandbox_identifier TEXT NOT NULL,
    git_branch_name TEXT,
    agent_session_id TEXT,
    status TEXT NOT NULL CHECK (status IN ('pending', 'running', 'completed', 'failed')),

    -- The rest is JSONB
    metadata JSONB DEFAULT '{}'::jsonb,

    created_at TIMESTAMP WITH TIME ZONE DEFAULT NOW(),
    updated_at TIMESTAMP WITH TIME ZONE DEFAULT NOW()
);

CREATE TABLE IF NOT EXISTS archon_agent_work_order_steps (
    id UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    agent_work_order_id TEXT NOT NULL
        REFERENCES archon_agent_work_orders (agent_work_order_id) ON DELETE CASCADE,
    step TEXT NOT NULL,
    agent_name TEXT NOT NULL,
    success BOOLEAN NOT NULL,
    output TEXT,
    error_message TEXT,
    duration_seconds FLOAT NOT NULL,
    session_id TEXT,
    executed_at TIMESTAMP WITH TIME ZONE NOT NULL,
    step_order INT NOT NULL            -- order within the work order, from 0
);

CREATE INDEX IF NOT EXISTS idx_agent_work_orders_status
    ON archon_agent_work_orders (status);
CREATE INDEX IF NOT EXISTS idx_agent_work_orders_created_at
    ON archon_agent_work_orders (created_at DESC);
CREATE INDEX IF NOT EXISTS idx_agent_work_orders_repository
    ON archon_agent_work_orders (repository_url);
CREATE INDEX IF NOT EXISTS idx_agent_work_orders_metadata
    ON archon_agent_work_orders USING GIN (metadata);

CREATE INDEX IF NOT EXISTS idx_agent_work_order_steps_work_order_id
    ON archon_agent_work_order_steps (agent_work_order_id);
CREATE INDEX IF NOT EXISTS idx_agent_work_order_steps_executed_at
    ON archon_agent_work_order_steps (executed_at);

CREATE OR REPLACE TRIGGER update_agent_work_orders_updated_at
    BEFORE UPDATE ON archon_agent_work_orders
    FOR EACH ROW
    EXECUTE FUNCTION update_updated_at_column();

ALTER TABLE archon_agent_work_orders ENABLE ROW LEVEL SECURITY;
ALTER TABLE archon_agent_work_order_steps ENABLE ROW LEVEL SECURITY;

-- Supabase: the service role has full access, signed-in users read and update (the seed's policies).
DO $policies$
BEGIN
    IF to_regprocedure('auth.role()') IS NOT NULL THEN
        DROP POLICY IF EXISTS "Allow service role full access to archon_agent_work_orders"
            ON archon_agent_work_orders;
        CREATE POLICY "Allow service role full access to archon_agent_work_orders"
            ON archon_agent_work_orders
            FOR ALL
            USING (auth.role() = 'service_role');
        DROP POLICY IF EXISTS "Allow service role full access to archon_agent_work_order_steps"
            ON archon_agent_work_order_steps;
        CREATE POLICY "Allow service role full access to archon_agent_work_order_steps"
            ON archon_agent_work_order_steps
            FOR ALL
            USING (auth.role() = 'service_role');
    END IF;
    IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'authenticated') THEN
        DROP POLICY IF EXISTS "Allow authenticated users to read and update archon_agent_work_orders"
            ON archon_agent_work_orders;
        CREATE POLICY "Allow authenticated users to read and update archon_agent_work_orders"
            ON archon_agent_work_orders
            FOR ALL
            TO authenticated
            USING (true);
        DROP POLICY IF EXISTS "Allow authenticated users to read and update archon_agent_work_order_steps"
            ON archon_agent_work_order_steps;
        CREATE POLICY "Allow authenticated users to read and update archon_agent_work_order_steps"
            ON archon_agent_work_order_steps
            FOR ALL
            TO authenticated
            USING (true);
    END IF;
END
$policies$;

COMMENT ON TABLE archon_agent_work_orders IS
    'Agent work order state and metadata with ACID guarantees for concurrent access';
COMMENT ON COLUMN archon_agent_work_orders.agent_work_order_id IS
    'Work order identifier (TEXT, e.g. "wo-1a2b3c4d")';
COMMENT ON COLUMN archon_agent_work_orders.sandbox_identifier IS
    'Identifier of the sandbox (worktree directory name)';
COMMENT ON COLUMN archon_agent_work_orders.metadata IS
    'JSONB for infrequently queried fields';
COMMENT ON COLUMN archon_agent_work_orders.updated_at IS
    'Last update (maintained by the update_updated_at_column trigger)';
COMMENT ON TABLE archon_agent_work_order_steps IS
    'Step execution history of agent work orders (deleted with their work order)';
COMMENT ON COLUMN archon_agent_work_order_steps.step_order IS
    'Order of the step within its work order (0-indexed)';
