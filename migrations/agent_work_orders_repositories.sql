-- =====================================================
-- Agent Work Orders - Repository Configuration (migration 001, the seed's file)
-- =====================================================
-- The archon_configured_repositories table: configured GitHub repositories with their metadata,
-- verification status and per-repository defaults (sandbox type, workflow commands).
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

CREATE TABLE IF NOT EXISTS archon_configured_repositories (
    id UUID PRIMARY KEY DEFAULT gen_random_uuid(),

    repository_url TEXT NOT NULL UNIQUE,
    display_name TEXT,                  -- e.g. "owner/repo"
    owner TEXT,
    default_branch TEXT,                -- e.g. "main"

    is_verified BOOLEAN DEFAULT false,
    last_verified_at TIMESTAMP WITH TIME ZONE,

    -- Only production-ready sandbox types, as in the seed.
    default_sandbox_type TEXT DEFAULT 'git_worktree'
        CHECK (default_sandbox_type IN ('git_worktree', 'full_clone', 'tmp_dir')),
    default_commands JSONB DEFAULT '["create-branch", "planning", "execute", "commit", "create-pr"]'::jsonb,

    created_at TIMESTAMP WITH TIME ZONE DEFAULT NOW(),
    updated_at TIMESTAMP WITH TIME ZONE DEFAULT NOW(),

    CONSTRAINT valid_repository_url CHECK (
        repository_url ~ '^https://github\.com/[a-zA-Z0-9_-]+/[a-zA-Z0-9_.-]+/?$'
    )
);

CREATE UNIQUE INDEX IF NOT EXISTS idx_configured_repositories_url
    ON archon_configured_repositories (repository_url);
CREATE INDEX IF NOT EXISTS idx_configured_repositories_verified
    ON archon_configured_repositories (is_verified);
CREATE INDEX IF NOT EXISTS idx_configured_repositories_created_at
    ON archon_configured_repositories (created_at DESC);
CREATE INDEX IF NOT EXISTS idx_configured_repositories_commands
    ON archon_configured_repositories USING GIN (default_commands);

CREATE OR REPLACE TRIGGER update_configured_repositories_updated_at
    BEFORE UPDATE ON archon_configured_repositories
    FOR EACH ROW
    EXECUTE FUNCTION update_updated_at_column();

ALTER TABLE archon_configured_repositories ENABLE ROW LEVEL SECURITY;

-- Supabase: the service role has full access, signed-in users read and update (the seed's policies).
DO $policies$
BEGIN
    IF to_regprocedure('auth.role()') IS NOT NULL THEN
        DROP POLICY IF EXISTS "Allow service role full access to archon_configured_repositories"
            ON archon_configured_repositories;
        CREATE POLICY "Allow service role full access to archon_configured_repositories"
            ON archon_configured_repositories
            FOR ALL
            USING (auth.role() = 'service_role');
    END IF;
    IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'authenticated') THEN
        DROP POLICY IF EXISTS "Allow authenticated users to read and update archon_configured_repositories"
            ON archon_configured_repositories;
        CREATE POLICY "Allow authenticated users to read and update archon_configured_repositories"
            ON archon_configured_repositories
            FOR ALL
            TO authenticated
            USING (true);
    END IF;
END
$policies$;

COMMENT ON TABLE archon_configured_repositories IS
    'Configured GitHub repositories for Agent Work Orders: metadata, verification status, per-repository defaults';
COMMENT ON COLUMN archon_configured_repositories.repository_url IS
    'Repository URL, https://github.com/owner/repo (003 also allows GitHub Enterprise Server hosts)';
COMMENT ON COLUMN archon_configured_repositories.display_name IS
    'Human-readable name, e.g. "owner/repo"';
COMMENT ON COLUMN archon_configured_repositories.is_verified IS
    'Whether access to the repository was verified through the GitHub API';
COMMENT ON COLUMN archon_configured_repositories.default_sandbox_type IS
    'Default sandbox for work orders: git_worktree (default), full_clone or tmp_dir';
COMMENT ON COLUMN archon_configured_repositories.default_commands IS
    'JSONB array of the workflow commands a work order runs by default';
COMMENT ON COLUMN archon_configured_repositories.updated_at IS
    'Last update (maintained by the update_updated_at_column trigger)';
