-- The embedded store: the seed's tables and columns in SQLite's dialect, plus the bot's columns.

-- name: schema
CREATE TABLE IF NOT EXISTS archon_configured_repositories (
    id TEXT PRIMARY KEY,
    repository_url TEXT NOT NULL UNIQUE,
    display_name TEXT,
    owner TEXT,
    default_branch TEXT,
    is_verified INTEGER NOT NULL DEFAULT 0,
    last_verified_at TEXT,
    default_sandbox_type TEXT NOT NULL DEFAULT 'git_worktree',
    default_commands TEXT NOT NULL DEFAULT '["plan", "implement"]',
    clone_url TEXT,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS archon_agent_work_orders (
    agent_work_order_id TEXT PRIMARY KEY,
    repository_url TEXT NOT NULL,
    sandbox_identifier TEXT NOT NULL DEFAULT '',
    git_branch_name TEXT,
    agent_session_id TEXT,
    status TEXT NOT NULL CHECK (status IN ('pending', 'running', 'completed', 'failed', 'cancelled')),
    user_request TEXT NOT NULL DEFAULT '',
    repo_full_name TEXT NOT NULL DEFAULT '',
    issue_number INTEGER,
    trigger_actor TEXT,
    trigger_comment_id INTEGER,
    delivery_id TEXT,
    trigger_key TEXT,
    lease_owner TEXT,
    lease_expires_at TEXT,
    attempt INTEGER NOT NULL DEFAULT 0,
    max_attempts INTEGER NOT NULL DEFAULT 3,
    total_cost_usd REAL NOT NULL DEFAULT 0,
    num_turns INTEGER NOT NULL DEFAULT 0,
    progress_comment_id INTEGER,
    pr_url TEXT,
    pr_number INTEGER,
    error_message TEXT,
    started_at TEXT,
    completed_at TEXT,
    metadata TEXT NOT NULL DEFAULT '{}',
    report_pending INTEGER NOT NULL DEFAULT 0,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS idx_agent_work_orders_status ON archon_agent_work_orders (status, created_at);
CREATE INDEX IF NOT EXISTS idx_agent_work_orders_issue ON archon_agent_work_orders (repo_full_name, issue_number);
CREATE UNIQUE INDEX IF NOT EXISTS idx_agent_work_orders_delivery
    ON archon_agent_work_orders (delivery_id) WHERE delivery_id IS NOT NULL;
CREATE TABLE IF NOT EXISTS archon_agent_work_order_steps (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    agent_work_order_id TEXT NOT NULL
        REFERENCES archon_agent_work_orders (agent_work_order_id) ON DELETE CASCADE,
    step TEXT NOT NULL,
    agent_name TEXT NOT NULL,
    success INTEGER NOT NULL,
    output TEXT,
    error_message TEXT,
    duration_seconds REAL NOT NULL,
    session_id TEXT,
    executed_at TEXT NOT NULL,
    step_order INTEGER NOT NULL,
    cost_usd REAL,
    num_turns INTEGER,
    attempt INTEGER NOT NULL DEFAULT 1,
    created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%f+00:00', 'now'))
);
CREATE INDEX IF NOT EXISTS idx_agent_work_order_steps_order
    ON archon_agent_work_order_steps (agent_work_order_id, step_order);
CREATE TABLE IF NOT EXISTS archon_agent_work_order_deliveries (
    delivery_id TEXT PRIMARY KEY,
    event TEXT NOT NULL,
    action TEXT NOT NULL DEFAULT '',
    repo_full_name TEXT NOT NULL DEFAULT '',
    payload TEXT NOT NULL,
    outcome TEXT,
    received_at TEXT NOT NULL,
    processed_at TEXT
);
CREATE INDEX IF NOT EXISTS idx_agent_work_order_deliveries_unprocessed
    ON archon_agent_work_order_deliveries (received_at) WHERE processed_at IS NULL;
-- the deliveries list (newest first, paged) and the retention sweep; Postgres has it since migration 004
CREATE INDEX IF NOT EXISTS idx_agent_work_order_deliveries_received_at
    ON archon_agent_work_order_deliveries (received_at DESC, delivery_id);
CREATE TABLE IF NOT EXISTS archon_agent_work_order_notices (
    repo_full_name TEXT NOT NULL,
    issue_number INTEGER NOT NULL,
    said_at TEXT NOT NULL,
    PRIMARY KEY (repo_full_name, issue_number)
);

-- name: add_trigger_key
ALTER TABLE archon_agent_work_orders ADD COLUMN trigger_key TEXT

-- name: security_indexes
CREATE UNIQUE INDEX IF NOT EXISTS idx_agent_work_orders_trigger_key
    ON archon_agent_work_orders (trigger_key) WHERE trigger_key IS NOT NULL;
CREATE INDEX IF NOT EXISTS idx_agent_work_orders_actor_recent ON archon_agent_work_orders (trigger_actor, created_at);
CREATE INDEX IF NOT EXISTS idx_agent_work_orders_repo_recent ON archon_agent_work_orders (repo_full_name, created_at);

-- name: admission_load
SELECT
    (SELECT count(*) FROM archon_agent_work_orders
     WHERE repo_full_name = :repo AND issue_number = :issue AND status IN ('pending', 'running')) AS issue_active,
    (SELECT count(*) FROM archon_agent_work_orders WHERE trigger_actor = :actor AND created_at >= :since)
        AS actor_recent,
    (SELECT count(*) FROM archon_agent_work_orders WHERE repo_full_name = :repo AND created_at >= :since)
        AS repo_recent,
    (SELECT count(*) FROM archon_agent_work_orders WHERE status = 'pending') AS pending

-- name: note_refusal
INSERT INTO archon_agent_work_order_notices (repo_full_name, issue_number, said_at) VALUES (:repo, :issue, :now)
ON CONFLICT (repo_full_name, issue_number) DO UPDATE SET said_at = excluded.said_at
WHERE archon_agent_work_order_notices.said_at < :cutoff

-- name: insert_delivery
INSERT OR IGNORE INTO archon_agent_work_order_deliveries
    (delivery_id, event, action, repo_full_name, payload, outcome, received_at, processed_at)
VALUES (:delivery_id, :event, :action, :repo_full_name, :payload, :outcome, :received_at, :processed_at)

-- name: unprocessed_deliveries
SELECT * FROM archon_agent_work_order_deliveries
WHERE processed_at IS NULL ORDER BY received_at LIMIT :limit

-- name: list_deliveries
SELECT delivery_id, event, action, repo_full_name, outcome, received_at, processed_at
FROM archon_agent_work_order_deliveries
WHERE :outcome IS NULL OR substr(outcome, 1, length(:outcome)) = :outcome
ORDER BY received_at DESC, delivery_id LIMIT :limit OFFSET :offset

-- name: mark_delivery
UPDATE archon_agent_work_order_deliveries SET outcome = :outcome, processed_at = :now
WHERE delivery_id = :delivery_id

-- name: prune_deliveries
DELETE FROM archon_agent_work_order_deliveries WHERE received_at < :before

-- name: list_work_orders
-- WHERE: only the filters asked for (bot/store/sqlite.py); newest first, ties by id, so a cursor is exact.
SELECT * FROM archon_agent_work_orders {where}
ORDER BY created_at DESC, agent_work_order_id DESC
LIMIT :limit OFFSET :offset

-- name: claim_candidate
-- Walks runnable work orders oldest first on idx_agent_work_orders_runnable and stops at the first one that
-- may run; each test is one probe of a small partial index, so the cost does not grow with the queue. It
-- passes over only what cannot run: live leases, and the work orders queued behind them on their issue
-- (admission keeps that to a few per issue). `status IN (...)` is spelled as in the partial indexes, so
-- SQLite may use them.
-- reclaimed_from: the worker whose expired lease this takes over (NULL: the work order was pending).
SELECT w.agent_work_order_id, CASE WHEN w.status = 'running' THEN COALESCE(w.lease_owner, '') END AS reclaimed_from
FROM archon_agent_work_orders AS w INDEXED BY idx_agent_work_orders_runnable
WHERE w.status IN ('pending', 'running')
  AND (w.status = 'pending' OR w.lease_expires_at < :now)
  AND w.attempt < w.max_attempts
  AND NOT EXISTS (  -- first come first served on an issue: nothing older still waiting or running
      SELECT 1 FROM archon_agent_work_orders AS o INDEXED BY idx_agent_work_orders_issue_queue
      WHERE o.repo_full_name = w.repo_full_name AND o.issue_number = w.issue_number
        AND o.status IN ('pending', 'running')
        AND (o.created_at, o.agent_work_order_id) < (w.created_at, w.agent_work_order_id))
  AND NOT EXISTS (  -- never two running on one issue: no live lease there
      SELECT 1 FROM archon_agent_work_orders AS o INDEXED BY idx_agent_work_orders_issue_leases
      WHERE o.repo_full_name = w.repo_full_name AND o.issue_number = w.issue_number
        AND o.status = 'running' AND o.lease_expires_at >= :now
        AND o.agent_work_order_id <> w.agent_work_order_id)
ORDER BY w.created_at, w.agent_work_order_id
LIMIT 1

-- name: take_lease
UPDATE archon_agent_work_orders
SET status = 'running', lease_owner = :worker_id, lease_expires_at = :expires,
    attempt = attempt + 1, started_at = COALESCE(started_at, :now), updated_at = :now
WHERE agent_work_order_id = :id

-- name: heartbeat
UPDATE archon_agent_work_orders SET lease_expires_at = :expires, updated_at = :now
WHERE agent_work_order_id = :id AND lease_owner = :worker_id AND status = 'running'

-- name: exhausted
-- pending ones too: a work order with no attempt left is never claimed, so it must end here
-- (every claim loop runs this: the partial index idx_agent_work_orders_exhausted holds only such rows)
SELECT agent_work_order_id FROM archon_agent_work_orders INDEXED BY idx_agent_work_orders_exhausted
WHERE status IN ('pending', 'running') AND attempt >= max_attempts
  AND (status = 'pending' OR lease_expires_at < :now)

-- name: fail_exhausted
UPDATE archon_agent_work_orders
SET status = 'failed', lease_owner = NULL, lease_expires_at = NULL, completed_at = :now, updated_at = :now,
    report_pending = 1,
    error_message = 'the worker running it stopped answering on its last allowed attempt (' || attempt || ')'
WHERE agent_work_order_id = :id AND attempt >= max_attempts
  AND (status = 'pending' OR status = 'running' AND lease_expires_at < :now)

-- name: release
-- a graceful stop is not the work order's fault: the attempt is given back (attempt still numbers the
-- runs, whose steps are told apart by it, so the allowance grows instead)
UPDATE archon_agent_work_orders
SET status = 'pending', lease_owner = NULL, lease_expires_at = NULL, max_attempts = max_attempts + 1,
    updated_at = :now
WHERE agent_work_order_id = :id AND lease_owner = :worker_id AND status = 'running'

-- name: pending_reports
SELECT * FROM archon_agent_work_orders
WHERE report_pending = 1 AND status IN ('completed', 'failed', 'cancelled')
ORDER BY completed_at, agent_work_order_id LIMIT :limit

-- name: mark_reported
UPDATE archon_agent_work_orders SET report_pending = 0
WHERE agent_work_order_id = :id AND report_pending = 1 AND updated_at = :updated_at

-- name: list_steps
SELECT * FROM archon_agent_work_order_steps WHERE agent_work_order_id = :id ORDER BY step_order, id

-- name: add_clone_url
-- Files created before the column existed get it (the CREATE above does not change an existing table).
ALTER TABLE archon_configured_repositories ADD COLUMN clone_url TEXT

-- name: add_report_pending
ALTER TABLE archon_agent_work_orders ADD COLUMN report_pending INTEGER NOT NULL DEFAULT 0

-- name: report_pending_index
CREATE INDEX IF NOT EXISTS idx_agent_work_orders_report_pending
    ON archon_agent_work_orders (completed_at) WHERE report_pending = 1;

-- name: queue_indexes
-- The claim's walk (runnable, oldest first), its two probes per candidate and fail_exhausted's rows: partial
-- indexes of active rows, as small as the queue however long the history. The list's newest-first pages: one
-- index per filter (none, status, repository, issue), each ending in the list's order, so the created range
-- and the cursor are ranges on it.
CREATE INDEX IF NOT EXISTS idx_agent_work_orders_runnable
    ON archon_agent_work_orders (created_at, agent_work_order_id) WHERE status IN ('pending', 'running');
CREATE INDEX IF NOT EXISTS idx_agent_work_orders_issue_queue
    ON archon_agent_work_orders (repo_full_name, issue_number, created_at, agent_work_order_id)
    WHERE status IN ('pending', 'running');
CREATE INDEX IF NOT EXISTS idx_agent_work_orders_issue_leases
    ON archon_agent_work_orders (repo_full_name, issue_number, lease_expires_at) WHERE status = 'running';
CREATE INDEX IF NOT EXISTS idx_agent_work_orders_exhausted
    ON archon_agent_work_orders (created_at) WHERE status IN ('pending', 'running') AND attempt >= max_attempts;
CREATE INDEX IF NOT EXISTS idx_agent_work_orders_list
    ON archon_agent_work_orders (created_at, agent_work_order_id);
CREATE INDEX IF NOT EXISTS idx_agent_work_orders_list_status
    ON archon_agent_work_orders (status, created_at, agent_work_order_id);
CREATE INDEX IF NOT EXISTS idx_agent_work_orders_list_repo
    ON archon_agent_work_orders (repo_full_name, created_at, agent_work_order_id);
CREATE INDEX IF NOT EXISTS idx_agent_work_orders_list_issue
    ON archon_agent_work_orders (repo_full_name, issue_number, created_at, agent_work_order_id);

-- name: spend_ledger
-- What each step cost, when it was recorded (migration 010 on Postgres): written by a trigger with the step, no
-- foreign key (a deleted work order's spend still counts today); the daily caps sum a range of its indexes.
CREATE TABLE IF NOT EXISTS archon_agent_work_order_spend (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    repo_full_name TEXT NOT NULL DEFAULT '',
    agent_work_order_id TEXT NOT NULL,
    step TEXT NOT NULL,
    cost_usd REAL NOT NULL,
    at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS idx_agent_work_order_spend_repo_at
    ON archon_agent_work_order_spend (repo_full_name, at, cost_usd);
CREATE INDEX IF NOT EXISTS idx_agent_work_order_spend_at ON archon_agent_work_order_spend (at, cost_usd);
CREATE TRIGGER IF NOT EXISTS record_agent_work_order_spend
AFTER INSERT ON archon_agent_work_order_steps WHEN NEW.cost_usd > 0
BEGIN
    INSERT INTO archon_agent_work_order_spend (repo_full_name, agent_work_order_id, step, cost_usd, at)
    SELECT coalesce(w.repo_full_name, ''), NEW.agent_work_order_id, NEW.step, NEW.cost_usd,
           strftime('%Y-%m-%dT%H:%M:%f', 'now') || '000+00:00'
    FROM archon_agent_work_orders AS w WHERE w.agent_work_order_id = NEW.agent_work_order_id;
END;

-- name: spent_since_repo
SELECT coalesce(sum(cost_usd), 0) FROM archon_agent_work_order_spend WHERE repo_full_name = :repo AND at >= :since

-- name: spent_since_all
SELECT coalesce(sum(cost_usd), 0) FROM archon_agent_work_order_spend WHERE at >= :since

-- name: add_cancel_requested
-- Stop asked for while the work order ran: the worker holding its lease ends it cancelled (migration 011).
ALTER TABLE archon_agent_work_orders ADD COLUMN cancel_requested INTEGER NOT NULL DEFAULT 0

-- name: cancel_pending
-- pending, or running without a live lease: cancelled at once, its report owed to the issue (the outbox)
UPDATE archon_agent_work_orders
SET status = 'cancelled', cancel_requested = 0, report_pending = 1, completed_at = :now, lease_owner = NULL,
    lease_expires_at = NULL, error_message = :reason, updated_at = :now
WHERE agent_work_order_id = :id AND (status = 'pending' OR status = 'running' AND lease_expires_at < :now)

-- name: cancel_running
UPDATE archon_agent_work_orders SET cancel_requested = 1, updated_at = :now
WHERE agent_work_order_id = :id AND status = 'running' AND lease_expires_at >= :now

-- name: cancel_requests
SELECT agent_work_order_id FROM archon_agent_work_orders
WHERE agent_work_order_id IN (SELECT value FROM json_each(:ids)) AND cancel_requested = 1 AND status = 'running'

-- name: retry
UPDATE archon_agent_work_orders
SET status = 'pending', cancel_requested = 0, report_pending = 0, lease_owner = NULL, lease_expires_at = NULL,
    completed_at = NULL, error_message = NULL, max_attempts = attempt + max(:attempts, 1),
    metadata = json_remove(metadata, '$.outcome', '$.answer'), updated_at = :now
WHERE agent_work_order_id = :id AND status IN ('failed', 'cancelled')

-- name: work_order_logs
-- Each work order's events as they happened (migration 012 on Postgres); id is a reader's cursor.
CREATE TABLE IF NOT EXISTS archon_agent_work_order_logs (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    agent_work_order_id TEXT NOT NULL
        REFERENCES archon_agent_work_orders (agent_work_order_id) ON DELETE CASCADE,
    at TEXT NOT NULL,
    level TEXT NOT NULL DEFAULT 'info',
    step TEXT,
    kind TEXT NOT NULL DEFAULT 'note',
    message TEXT NOT NULL DEFAULT '',
    data TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX IF NOT EXISTS idx_agent_work_order_logs_order ON archon_agent_work_order_logs (agent_work_order_id, id);

-- name: append_log
INSERT INTO archon_agent_work_order_logs (agent_work_order_id, at, level, step, kind, message, data)
VALUES (:agent_work_order_id, :at, :level, :step, :kind, :message, :data)

-- name: list_logs
-- {where}: optional `AND level = :level`, `AND step = :step`
SELECT * FROM archon_agent_work_order_logs
WHERE agent_work_order_id = :id AND id > :after {where}
ORDER BY id LIMIT :limit OFFSET :offset

-- name: count_logs
-- {where}: as in list_logs
SELECT count(*) FROM archon_agent_work_order_logs WHERE agent_work_order_id = :id {where}

-- name: has_logs_after
SELECT EXISTS (SELECT 1 FROM archon_agent_work_order_logs WHERE agent_work_order_id = :id AND id > :after)

-- name: status_counts
-- /metrics at every scrape: a walk of the covering (status, created_at, id) index, no table row read
SELECT status, count(*) AS n FROM archon_agent_work_orders INDEXED BY idx_agent_work_orders_list_status
GROUP BY status

-- name: spend_by_repository
-- /metrics: per name, a range of idx_agent_work_order_spend_repo_at (repo_full_name, at, cost_usd), no table row
SELECT repo_full_name, sum(cost_usd) AS spent FROM archon_agent_work_order_spend
WHERE repo_full_name IN (SELECT value FROM json_each(:names)) AND at >= :since AND at < :until
GROUP BY repo_full_name

-- name: queue_head
-- the oldest pending (one probe of the status index) and the running rows whose lease expired (the partial
-- index of running rows: as many as run at once)
SELECT
    (SELECT min(created_at) FROM archon_agent_work_orders WHERE status = 'pending') AS oldest,
    (SELECT count(*) FROM archon_agent_work_orders INDEXED BY idx_agent_work_orders_issue_leases
     WHERE status = 'running' AND lease_expires_at < :now) AS expired

-- name: add_step_prompt
-- What the agent was asked in the step, redacted and bounded (migration 013 on Postgres).
ALTER TABLE archon_agent_work_order_steps ADD COLUMN prompt TEXT

-- name: daily_spend_all
-- The costs page: the whole UTC days of the range from the rollup (one row per day and repository), the partial
-- days at either end ([since, low_until) and [high_since, until), each within one day; empty when the range starts
-- or ends at midnight) from a range of idx_agent_work_order_spend_at. `at` is UTC ISO text, so its first 10
-- characters are the UTC day. The three parts fall on different days.
SELECT day, repo_full_name, cost_usd, steps, work_orders FROM (
    SELECT substr(at, 1, 10) AS day, repo_full_name, sum(cost_usd) AS cost_usd, count(*) AS steps,
           count(DISTINCT agent_work_order_id) AS work_orders
    FROM archon_agent_work_order_spend INDEXED BY idx_agent_work_order_spend_at
    WHERE at >= :high_since AND at < :until
    GROUP BY day, repo_full_name
    UNION ALL
    SELECT day, repo_full_name, cost_usd, steps, work_orders FROM archon_agent_work_order_spend_daily
    WHERE day >= :first_day AND day < :last_day
    UNION ALL
    SELECT substr(at, 1, 10) AS day, repo_full_name, sum(cost_usd) AS cost_usd, count(*) AS steps,
           count(DISTINCT agent_work_order_id) AS work_orders
    FROM archon_agent_work_order_spend INDEXED BY idx_agent_work_order_spend_at
    WHERE at >= :since AND at < :low_until
    GROUP BY day, repo_full_name
) ORDER BY day DESC, repo_full_name

-- name: daily_spend_repo
-- One repository's: the same parts, the partial days from a range of idx_agent_work_order_spend_repo_at.
SELECT day, repo_full_name, cost_usd, steps, work_orders FROM (
    SELECT substr(at, 1, 10) AS day, repo_full_name, sum(cost_usd) AS cost_usd, count(*) AS steps,
           count(DISTINCT agent_work_order_id) AS work_orders
    FROM archon_agent_work_order_spend INDEXED BY idx_agent_work_order_spend_repo_at
    WHERE at >= :high_since AND at < :until AND repo_full_name = :repo
    GROUP BY day, repo_full_name
    UNION ALL
    SELECT day, repo_full_name, cost_usd, steps, work_orders FROM archon_agent_work_order_spend_daily
    WHERE day >= :first_day AND day < :last_day AND repo_full_name = :repo
    UNION ALL
    SELECT substr(at, 1, 10) AS day, repo_full_name, sum(cost_usd) AS cost_usd, count(*) AS steps,
           count(DISTINCT agent_work_order_id) AS work_orders
    FROM archon_agent_work_order_spend INDEXED BY idx_agent_work_order_spend_repo_at
    WHERE at >= :since AND at < :low_until AND repo_full_name = :repo
    GROUP BY day, repo_full_name
) ORDER BY day DESC, repo_full_name

-- name: spend_rollup
-- The ledger per UTC day and repository (migration 016 on Postgres), kept by a trigger on the ledger's inserts;
-- run once per file (the store runs it when the trigger is missing), in one write transaction: the backfill
-- recomputes each day exactly from the ledger while no other writer can add to it, and the trigger follows every
-- row written after. work_orders: a ledger row adds 1 only when the ledger has no other row of its work order on
-- its day (one probe of idx_agent_work_order_spend_order_at); a work order's steps are written one at a time.
BEGIN IMMEDIATE;
CREATE TABLE IF NOT EXISTS archon_agent_work_order_spend_daily (
    day TEXT NOT NULL,
    repo_full_name TEXT NOT NULL,
    cost_usd REAL NOT NULL,
    steps INTEGER NOT NULL,
    work_orders INTEGER NOT NULL,
    PRIMARY KEY (day, repo_full_name)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS idx_agent_work_order_spend_order_at
    ON archon_agent_work_order_spend (agent_work_order_id, at, repo_full_name);
INSERT INTO archon_agent_work_order_spend_daily (day, repo_full_name, cost_usd, steps, work_orders)
SELECT substr(at, 1, 10), repo_full_name, sum(cost_usd), count(*), count(DISTINCT agent_work_order_id)
FROM archon_agent_work_order_spend WHERE true
GROUP BY 1, 2
ON CONFLICT (day, repo_full_name) DO UPDATE
    SET cost_usd = excluded.cost_usd, steps = excluded.steps, work_orders = excluded.work_orders;
CREATE TRIGGER IF NOT EXISTS roll_up_agent_work_order_spend
AFTER INSERT ON archon_agent_work_order_spend
BEGIN
    INSERT INTO archon_agent_work_order_spend_daily (day, repo_full_name, cost_usd, steps, work_orders)
    VALUES (substr(NEW.at, 1, 10), NEW.repo_full_name, NEW.cost_usd, 1, NOT EXISTS (
        SELECT 1 FROM archon_agent_work_order_spend INDEXED BY idx_agent_work_order_spend_order_at
        WHERE agent_work_order_id = NEW.agent_work_order_id AND at >= substr(NEW.at, 1, 10)
          AND at < date(substr(NEW.at, 1, 10), '+1 day') AND repo_full_name = NEW.repo_full_name AND id <> NEW.id))
    ON CONFLICT (day, repo_full_name) DO UPDATE
        SET cost_usd = cost_usd + excluded.cost_usd, steps = steps + 1,
            work_orders = work_orders + excluded.work_orders;
END;
COMMIT;

-- name: spend_rollup_ready
SELECT 1 FROM sqlite_master WHERE type = 'trigger' AND name = 'roll_up_agent_work_order_spend'
