"""migrations/ on real PostgreSQL: applied once by `awo migrate`, harmless when pasted again, RLS on Supabase."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest

from bot.migrate import MIGRATIONS_DIR, apply_migrations, checksum, migration_files

from .conftest import fresh_database

EXPECTED_INDEXES = {
    "archon_configured_repositories": {
        "archon_configured_repositories_pkey", "archon_configured_repositories_repository_url_key",
        "idx_configured_repositories_url", "idx_configured_repositories_verified",
        "idx_configured_repositories_created_at", "idx_configured_repositories_commands",
    },
    "archon_agent_work_orders": {
        "archon_agent_work_orders_pkey", "idx_agent_work_orders_status", "idx_agent_work_orders_created_at",
        "idx_agent_work_orders_repository", "idx_agent_work_orders_metadata", "idx_agent_work_orders_issue",
        "idx_agent_work_orders_runnable", "idx_agent_work_orders_delivery", "idx_agent_work_orders_trigger_key",
        "idx_agent_work_orders_actor_recent", "idx_agent_work_orders_repo_recent",
        "idx_agent_work_orders_report_pending", "idx_agent_work_orders_issue_queue",
        "idx_agent_work_orders_issue_leases", "idx_agent_work_orders_exhausted", "idx_agent_work_orders_list",
        "idx_agent_work_orders_list_status", "idx_agent_work_orders_list_repo", "idx_agent_work_orders_list_issue",
    },
    "archon_agent_work_order_steps": {
        "archon_agent_work_order_steps_pkey", "idx_agent_work_order_steps_work_order_id",
        "idx_agent_work_order_steps_executed_at", "idx_agent_work_order_steps_order",
    },
    "archon_agent_work_order_deliveries": {
        "archon_agent_work_order_deliveries_pkey", "idx_agent_work_order_deliveries_unprocessed",
        "idx_agent_work_order_deliveries_received_at", "idx_agent_work_order_deliveries_repository",
    },
    "archon_agent_work_order_migrations": {"archon_agent_work_order_migrations_pkey"},
    "archon_agent_work_order_notices": {"archon_agent_work_order_notices_pkey"},
    "archon_agent_work_order_logs": {"archon_agent_work_order_logs_pkey", "idx_agent_work_order_logs_order"},
    "archon_agent_work_order_spend": {
        "archon_agent_work_order_spend_pkey", "idx_agent_work_order_spend_repo_at", "idx_agent_work_order_spend_at",
        "idx_agent_work_order_spend_order_at",
    },
    "archon_agent_work_order_spend_daily": {"archon_agent_work_order_spend_daily_pkey"},
}
SEED_TABLES = ("archon_configured_repositories", "archon_agent_work_orders", "archon_agent_work_order_steps")
SUPABASE_ROLES = ("anon", "authenticated", "service_role")
# What a Supabase project has before any migration: the auth schema, its roles and default grants.
SUPABASE_LIKE = """
DO $$ BEGIN CREATE ROLE anon NOLOGIN; EXCEPTION WHEN duplicate_object THEN NULL; END $$;
DO $$ BEGIN CREATE ROLE authenticated NOLOGIN; EXCEPTION WHEN duplicate_object THEN NULL; END $$;
DO $$ BEGIN CREATE ROLE service_role NOLOGIN; EXCEPTION WHEN duplicate_object THEN NULL; END $$;
CREATE SCHEMA auth;
CREATE FUNCTION auth.role() RETURNS text LANGUAGE sql STABLE
    AS $$ SELECT nullif(current_setting('request.jwt.claim.role', true), '')::text $$;
GRANT USAGE ON SCHEMA auth, public TO anon, authenticated, service_role;
GRANT EXECUTE ON FUNCTION auth.role() TO anon, authenticated, service_role;
ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT ALL ON TABLES TO anon, authenticated, service_role;
ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT ALL ON FUNCTIONS TO anon, authenticated, service_role;
"""
ROWS = """
INSERT INTO archon_configured_repositories (repository_url) VALUES ('https://github.com/octo/repo');
INSERT INTO archon_agent_work_orders (agent_work_order_id, repository_url, sandbox_identifier, status)
    VALUES ('wo-1', 'https://github.com/octo/repo', 'sandbox-wo-1', 'pending');
INSERT INTO archon_agent_work_order_steps (agent_work_order_id, step, agent_name, success, duration_seconds,
    executed_at, step_order) VALUES ('wo-1', 'plan', 'claude', true, 1.5, now(), 0);
INSERT INTO archon_agent_work_order_deliveries (delivery_id, event) VALUES ('d-1', 'issues');
"""


def migrate(url: str) -> list[str]:
    return asyncio.run(apply_migrations(url))


def run_raw(url: str, *paths: Path) -> None:
    """Each file as one script, the way the SQL Editor or `psql -f` runs a pasted file."""
    with psycopg.connect(url, autocommit=True) as conn:
        for path in paths:
            conn.execute(path.read_bytes())


def query(url: str, sql: str, params: dict[str, Any] | None = None) -> list[tuple[Any, ...]]:
    with psycopg.connect(url, autocommit=True) as conn:
        return conn.execute(sql.encode(), params).fetchall()


def execute(url: str, sql: str) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(sql.encode())


@pytest.fixture
def database() -> Iterator[str]:
    with fresh_database() as url:
        yield url


def test_every_sql_file_is_a_migration_in_a_known_order() -> None:
    names = [p.name for p in migration_files()]
    assert names[:2] == ["agent_work_orders_repositories.sql", "agent_work_orders_state.sql"]
    assert names[2:] == sorted(names[2:]) and all(n[:3].isdigit() for n in names[2:])
    assert sorted(names) == sorted(p.name for p in MIGRATIONS_DIR.glob("*.sql"))


def test_all_files_apply_on_a_fresh_database_and_are_recorded(database: str) -> None:
    assert migrate(database) == [p.name for p in migration_files()]
    history = dict(query(database, "SELECT filename, checksum FROM archon_agent_work_order_migrations"))
    assert history == {p.name: checksum(p) for p in migration_files()}


def test_applying_again_applies_nothing(database: str) -> None:
    migrate(database)
    assert migrate(database) == []


def test_two_processes_migrating_at_once_apply_each_file_once(database: str) -> None:
    async def both() -> list[list[str]]:
        return list(await asyncio.gather(apply_migrations(database), apply_migrations(database)))

    first, second = asyncio.run(both())
    assert sorted(first + second) == sorted(p.name for p in migration_files())


def test_a_changed_file_is_applied_again(database: str) -> None:
    migrate(database)
    execute(database, "UPDATE archon_agent_work_order_migrations SET checksum = 'old' "
                    "WHERE filename = '005_agent_work_order_queue.sql'")
    assert migrate(database) == ["005_agent_work_order_queue.sql"]


def test_pasting_every_file_again_is_harmless(database: str) -> None:
    migrate(database)
    execute(database, ROWS)
    run_raw(database, *migration_files())
    run_raw(database, *migration_files())
    assert query(database, "SELECT agent_work_order_id, status, attempt FROM archon_agent_work_orders") == [
        ("wo-1", "pending", 0)]
    assert migrate(database) == []


def test_the_seed_verification_queries_list_every_table_and_index(database: str) -> None:
    migrate(database)
    tables = query(database, "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' "
                             "AND table_name LIKE 'archon_agent_work_order%' ORDER BY table_name")
    assert [t for (t,) in tables] == ["archon_agent_work_order_deliveries", "archon_agent_work_order_logs",
                                      "archon_agent_work_order_migrations",
                                      "archon_agent_work_order_notices", "archon_agent_work_order_spend",
                                      "archon_agent_work_order_spend_daily", "archon_agent_work_order_steps",
                                      "archon_agent_work_orders"]
    for table, expected in EXPECTED_INDEXES.items():
        indexes = query(database, "SELECT indexname FROM pg_indexes WHERE tablename = %(t)s", {"t": table})
        assert {i for (i,) in indexes} == expected, table
    triggers = query(database, "SELECT tgname FROM pg_trigger WHERE NOT tgisinternal ORDER BY tgname")
    assert [t for (t,) in triggers] == [
        "notify_agent_work_order_log", "notify_agent_work_order_pending", "notify_agent_work_order_released",
        "order_agent_work_order_log", "record_agent_work_order_spend", "roll_up_agent_work_order_spend",
        "update_agent_work_orders_updated_at", "update_configured_repositories_updated_at"]
    secured = query(database, "SELECT relname FROM pg_class WHERE relname LIKE 'archon_%' AND relkind = 'r' "
                              "AND NOT relrowsecurity")
    assert secured == []


def test_steps_go_with_their_work_order_and_updated_at_follows_changes(database: str) -> None:
    migrate(database)
    execute(database, ROWS)
    execute(database, "UPDATE archon_agent_work_orders SET updated_at = '2000-01-01', git_branch_name = 'b'")
    [(updated,)] = query(database, "SELECT updated_at > now() - interval '1 minute' FROM archon_agent_work_orders")
    assert updated is True
    execute(database, "DELETE FROM archon_agent_work_orders")
    assert query(database, "SELECT count(*) FROM archon_agent_work_order_steps") == [(0,)]


def test_the_database_keeps_the_seed_rules(database: str) -> None:
    migrate(database)
    bad = [
        "INSERT INTO archon_agent_work_orders (agent_work_order_id, repository_url, status) "
        "VALUES ('wo-x', 'u', 'blocked')",
        "INSERT INTO archon_configured_repositories (repository_url) VALUES ('not a url')",
        "INSERT INTO archon_configured_repositories (repository_url, default_sandbox_type) "
        "VALUES ('https://github.com/o/r', 'e2b')",
    ]
    for statement in bad:
        with pytest.raises(psycopg.errors.CheckViolation):
            execute(database, statement)
    execute(database, "INSERT INTO archon_configured_repositories (repository_url) "
                    "VALUES ('https://github.example.com/octo/repo')")


def test_a_seed_installation_is_upgraded_in_place(database: str) -> None:
    run_raw(database, *migration_files()[:2])
    execute(database, "INSERT INTO archon_agent_work_orders (agent_work_order_id, repository_url, "
                    "sandbox_identifier, status, metadata) VALUES ('wo-old', 'https://github.com/o/r', 's', "
                    "'completed', '{\"github_issue_number\": \"4\"}')")
    assert migrate(database) == [p.name for p in migration_files()]
    assert query(database, "SELECT status, attempt, max_attempts, repo_full_name, metadata "
                           "FROM archon_agent_work_orders") == [
        ("completed", 0, 3, "", {"github_issue_number": "4"})]


def test_on_supabase_only_the_service_role_sees_rows(database: str) -> None:
    execute(database, SUPABASE_LIKE)
    migrate(database)
    run_raw(database, *migration_files())
    execute(database, ROWS)
    tables = (*SEED_TABLES, "archon_agent_work_order_deliveries")
    assert all(as_role(database, "service_role", f"SELECT count(*) FROM {t}", jwt_role="service_role") == [(1,)]
               for t in tables)
    for table in SEED_TABLES:
        policies = query(database, "SELECT policyname FROM pg_policies WHERE tablename = %(t)s", {"t": table})
        assert [p for (p,) in policies] == [f"Allow service role full access to {table}"[:63]]


# What a signed-in user of the Supabase project tried: read private issue text and raw deliveries, queue
# work with an attacker's clone URL or a `../` id, push to main, change configured repositories, claim work.
ATTACKS = [
    "SELECT * FROM archon_agent_work_orders",
    "SELECT * FROM archon_agent_work_order_steps",
    "SELECT * FROM archon_agent_work_order_deliveries",
    "SELECT * FROM archon_configured_repositories",
    "SELECT * FROM archon_agent_work_order_notices",
    "SELECT * FROM archon_agent_work_order_migrations",
    "SELECT * FROM archon_agent_work_order_spend",
    "SELECT * FROM archon_agent_work_order_spend_daily",
    "DELETE FROM archon_agent_work_order_spend_daily",
    "SELECT * FROM archon_agent_work_order_daily_spend(now() - interval '1 day', now())",
    "SELECT archon_agent_work_order_spent_since(NULL, now())",
    "INSERT INTO archon_agent_work_orders (agent_work_order_id, repository_url, sandbox_identifier, status, "
    "metadata) VALUES ('../../etc', 'https://github.com/octo/repo', 's', 'pending', "
    "'{\"clone_url\": \"http://attacker.test/x.git\"}')",
    "UPDATE archon_agent_work_orders SET git_branch_name = 'main', "
    "metadata = '{\"clone_url\": \"http://attacker.test/x.git\"}'",
    "DELETE FROM archon_agent_work_order_steps",
    "INSERT INTO archon_configured_repositories (repository_url) VALUES ('https://github.com/attacker/x')",
    "UPDATE archon_configured_repositories SET default_branch = 'attacker'",
    "DELETE FROM archon_configured_repositories",
    "INSERT INTO archon_agent_work_order_deliveries (delivery_id, event) VALUES ('forged', 'issues')",
    "SELECT agent_work_order_id FROM archon_agent_work_order_claim('w1', 60)",
    "SELECT reclaimed_from FROM archon_agent_work_order_claim_lease('w1', 60)",
    "SELECT archon_agent_work_order_heartbeat('wo-1', 'w1', 60)",
    "SELECT * FROM archon_agent_work_order_finish('wo-1', 'w1', 'completed', '{}')",
    "SELECT * FROM archon_agent_work_order_fail_exhausted()",
    "SELECT archon_agent_work_order_release('wo-1', 'w1')",
    "SELECT * FROM archon_agent_work_order_pending_reports(10)",
    "SELECT archon_agent_work_order_mark_reported('wo-1', now())",
    "SELECT * FROM archon_agent_work_order_admission_load('octo/repo', 1, 'a', now())",
    "SELECT archon_agent_work_order_note_refusal('octo/repo', 1, 60)",
]


@pytest.mark.parametrize("role", ["authenticated", "anon"])
def test_on_supabase_signed_in_and_anonymous_users_touch_nothing(database: str, role: str) -> None:
    execute(database, SUPABASE_LIKE)
    migrate(database)
    execute(database, ROWS)
    for attack in ATTACKS:
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            as_role(database, role, attack, jwt_role=role)
    assert query(database, "SELECT agent_work_order_id, status, git_branch_name, metadata "
                           "FROM archon_agent_work_orders") == [("wo-1", "pending", None, {})]
    assert query(database, "SELECT repository_url, default_branch FROM archon_configured_repositories") == [
        ("https://github.com/octo/repo", None)]
    assert query(database, "SELECT delivery_id FROM archon_agent_work_order_deliveries") == [("d-1",)]


def test_on_supabase_no_privilege_is_left_to_signed_in_users_even_after_pasting_the_seed_again(
    database: str,
) -> None:
    execute(database, SUPABASE_LIKE)
    migrate(database)
    run_raw(database, *migration_files()[:5])  # the seed's files re-create their policies for `authenticated`
    granted = query(database, """
        SELECT table_name, privilege_type FROM information_schema.role_table_grants
        WHERE grantee IN ('anon', 'authenticated', 'PUBLIC')
          AND (table_name LIKE 'archon_agent_work_order%%' OR table_name = 'archon_configured_repositories')""")
    assert granted == []
    functions = query(database, """
        SELECT p.oid::regprocedure::text FROM pg_proc p WHERE p.proname LIKE 'archon_agent_work_order%%'
          AND (has_function_privilege('authenticated', p.oid, 'EXECUTE')
               OR has_function_privilege('anon', p.oid, 'EXECUTE'))""")
    assert functions == []
    assert as_role(database, "service_role", "SELECT count(*) FROM archon_agent_work_orders",
                   jwt_role="service_role") == [(0,)]


def test_without_supabase_the_security_migration_applies_and_reapplies(database: str) -> None:
    migrate(database)
    security = MIGRATIONS_DIR / "007_agent_work_orders_security.sql"
    run_raw(database, security, security)
    execute(database, ROWS)
    assert query(database, "SELECT * FROM archon_agent_work_order_admission_load('x', 1, 'a', now())") == [
        (0, 0, 0, 1)]


def test_the_readme_regrant_restores_the_seed_access(database: str) -> None:
    readme = (MIGRATIONS_DIR / "README.md").read_text()
    regrant = readme.split("### Undo migration 007", 1)[1].split("```sql", 1)[1].split("```", 1)[0]
    execute(database, SUPABASE_LIKE)
    migrate(database)
    execute(database, ROWS)
    execute(database, regrant)
    assert as_role(database, "authenticated", "SELECT count(*) FROM archon_agent_work_orders") == [(1,)]
    assert as_role(database, "authenticated", "SELECT count(*) FROM archon_agent_work_order_deliveries") == [(1,)]
    with pytest.raises(psycopg.errors.InsufficientPrivilege):
        as_role(database, "anon", "SELECT count(*) FROM archon_agent_work_orders")


def test_on_supabase_only_the_service_role_runs_the_queue(database: str) -> None:
    execute(database, SUPABASE_LIKE)
    migrate(database)
    execute(database, ROWS)
    claim = "SELECT agent_work_order_id FROM archon_agent_work_order_claim('w1', 60)"
    for role in ("anon", "authenticated"):
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            as_role(database, role, claim)
    assert as_role(database, "service_role", claim, jwt_role="service_role") == [("wo-1",)]
    with pytest.raises(psycopg.errors.InsufficientPrivilege):
        as_role(database, "authenticated", "INSERT INTO archon_agent_work_order_deliveries (delivery_id, event) "
                                           "VALUES ('forged', 'issues')")


def as_role(url: str, role: str, sql: str, jwt_role: str = "") -> list[tuple[Any, ...]]:
    """Run one statement as a Supabase API role would (SET ROLE + the JWT's role claim)."""
    with psycopg.connect(url) as conn:
        conn.execute("SELECT set_config('request.jwt.claim.role', %(r)s, true)", {"r": jwt_role})
        conn.execute(f"SET LOCAL ROLE {role}".encode())
        return conn.execute(sql.encode()).fetchall()


def test_the_readme_rollback_drops_everything_but_the_shared_trigger_function(database: str) -> None:
    readme = (MIGRATIONS_DIR / "README.md").read_text()
    rollback = readme.split("## Roll back", 1)[1].split("```sql", 1)[1].split("```", 1)[0]
    migrate(database)
    execute(database, rollback)
    assert query(database, "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' "
                           "AND table_name LIKE 'archon_%'") == []
    assert query(database, "SELECT proname FROM pg_proc WHERE proname LIKE 'archon_%' "
                           "OR proname = 'update_updated_at_column'") == [("update_updated_at_column",)]
    assert migrate(database) == [p.name for p in migration_files()]
