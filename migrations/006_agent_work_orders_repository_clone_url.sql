-- =====================================================
-- Agent Work Orders - where a configured repository is cloned from (migration 006)
-- =====================================================
-- The bot clones only from the configured repository's own clone URL: GitHub's answer to
-- GET /repos/{owner}/{repo} when the repository was verified (same host as GitHub, an allowed protocol,
-- no credentials), else `<repository_url>.git`. Never from a request, a webhook payload or a work
-- order's metadata. NULL (rows from before this file) means `<repository_url>.git`.
-- Re-applies harmlessly (ADD COLUMN IF NOT EXISTS).
-- =====================================================

ALTER TABLE archon_configured_repositories ADD COLUMN IF NOT EXISTS clone_url TEXT;

COMMENT ON COLUMN archon_configured_repositories.clone_url IS
    'Where the bot clones from: verified from GitHub, or <repository_url>.git; never taken from a request';
