-- =====================================================
-- Agent Work Orders - the bot's columns (migration 003)
-- =====================================================
-- Adds to the seed's tables what the GitHub bot needs as columns: the trigger (repository, issue or
-- pull request, actor, comment), the queue (lease owner and expiry, attempts), cost and turns, the
-- progress comment, the pull request and the outcome; the `cancelled` status; and the indexes the
-- queue uses. Re-applies harmlessly (ADD COLUMN IF NOT EXISTS, constraints dropped and re-added).
-- Needs agent_work_orders_repositories.sql and agent_work_orders_state.sql first.
-- =====================================================

ALTER TABLE archon_agent_work_orders
    ADD COLUMN IF NOT EXISTS user_request TEXT NOT NULL DEFAULT '',
    ADD COLUMN IF NOT EXISTS repo_full_name TEXT NOT NULL DEFAULT '',
    ADD COLUMN IF NOT EXISTS issue_number INTEGER,
    ADD COLUMN IF NOT EXISTS trigger_actor TEXT,
    ADD COLUMN IF NOT EXISTS trigger_comment_id BIGINT,
    ADD COLUMN IF NOT EXISTS delivery_id TEXT,
    ADD COLUMN IF NOT EXISTS lease_owner TEXT,
    ADD COLUMN IF NOT EXISTS lease_expires_at TIMESTAMP WITH TIME ZONE,
    ADD COLUMN IF NOT EXISTS attempt INTEGER NOT NULL DEFAULT 0,
    ADD COLUMN IF NOT EXISTS max_attempts INTEGER NOT NULL DEFAULT 3,
    ADD COLUMN IF NOT EXISTS total_cost_usd DOUBLE PRECISION NOT NULL DEFAULT 0,
    ADD COLUMN IF NOT EXISTS num_turns INTEGER NOT NULL DEFAULT 0,
    ADD COLUMN IF NOT EXISTS progress_comment_id BIGINT,
    ADD COLUMN IF NOT EXISTS pr_url TEXT,
    ADD COLUMN IF NOT EXISTS pr_number INTEGER,
    ADD COLUMN IF NOT EXISTS error_message TEXT,
    ADD COLUMN IF NOT EXISTS started_at TIMESTAMP WITH TIME ZONE,
    ADD COLUMN IF NOT EXISTS completed_at TIMESTAMP WITH TIME ZONE;

ALTER TABLE archon_agent_work_orders ALTER COLUMN sandbox_identifier SET DEFAULT '';

-- The seed's statuses plus `cancelled` (the seed's inline CHECK has this generated name).
ALTER TABLE archon_agent_work_orders DROP CONSTRAINT IF EXISTS archon_agent_work_orders_status_check;
ALTER TABLE archon_agent_work_orders ADD CONSTRAINT archon_agent_work_orders_status_check
    CHECK (status IN ('pending', 'running', 'completed', 'failed', 'cancelled'));

ALTER TABLE archon_agent_work_orders DROP CONSTRAINT IF EXISTS archon_agent_work_orders_attempts_check;
ALTER TABLE archon_agent_work_orders ADD CONSTRAINT archon_agent_work_orders_attempts_check
    CHECK (attempt >= 0 AND max_attempts >= 1);

ALTER TABLE archon_agent_work_order_steps
    ADD COLUMN IF NOT EXISTS cost_usd DOUBLE PRECISION,
    ADD COLUMN IF NOT EXISTS num_turns INTEGER,
    ADD COLUMN IF NOT EXISTS attempt INTEGER NOT NULL DEFAULT 1;

-- The bot's default workflow.
ALTER TABLE archon_configured_repositories
    ALTER COLUMN default_commands SET DEFAULT '["plan", "implement"]'::jsonb;

-- GitHub Enterprise Server: the seed only accepted https://github.com/owner/repo; any GitHub host is
-- accepted now (GITHUB_API_URL can point at one), still as a web URL of exactly owner/repo.
ALTER TABLE archon_configured_repositories DROP CONSTRAINT IF EXISTS valid_repository_url;
ALTER TABLE archon_configured_repositories ADD CONSTRAINT valid_repository_url CHECK (
    repository_url ~ '^https?://[a-zA-Z0-9.-]+(:[0-9]+)?/[a-zA-Z0-9_.-]+/[a-zA-Z0-9_.-]+/?$'
);

-- One issue's queue, and the claim's scan of runnable work orders in FIFO order.
CREATE INDEX IF NOT EXISTS idx_agent_work_orders_issue
    ON archon_agent_work_orders (repo_full_name, issue_number);
CREATE INDEX IF NOT EXISTS idx_agent_work_orders_runnable
    ON archon_agent_work_orders (created_at, agent_work_order_id)
    WHERE status IN ('pending', 'running');
-- One work order per delivery: two receivers re-processing the same delivery cannot both queue it.
CREATE UNIQUE INDEX IF NOT EXISTS idx_agent_work_orders_delivery
    ON archon_agent_work_orders (delivery_id) WHERE delivery_id IS NOT NULL;
CREATE INDEX IF NOT EXISTS idx_agent_work_order_steps_order
    ON archon_agent_work_order_steps (agent_work_order_id, step_order);

COMMENT ON COLUMN archon_agent_work_orders.status IS
    'pending, running, completed, failed or cancelled';
COMMENT ON COLUMN archon_agent_work_orders.repo_full_name IS
    'owner/repo of the triggering GitHub event';
COMMENT ON COLUMN archon_agent_work_orders.issue_number IS
    'Issue or pull request number; one work order runs per (repo_full_name, issue_number) at a time';
COMMENT ON COLUMN archon_agent_work_orders.lease_owner IS
    'Worker holding the lease while running; only it may heartbeat, update or finish';
COMMENT ON COLUMN archon_agent_work_orders.lease_expires_at IS
    'A running work order whose lease expired is claimed again (attempt + 1) or failed when exhausted';
COMMENT ON COLUMN archon_agent_work_orders.attempt IS
    'How many times the work order was claimed';
COMMENT ON COLUMN archon_agent_work_orders.progress_comment_id IS
    'The GitHub comment the bot keeps up to date';
