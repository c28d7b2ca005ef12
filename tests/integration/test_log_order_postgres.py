"""Two writers on one work order's log (Postgres): the later id always commits later, so a reader following by id
never skips an entry (migration 015); writers on different work orders never wait for each other."""

from __future__ import annotations

import threading
import time

import psycopg
import pytest

from tests.integration.conftest import empty_tables

pytestmark = pytest.mark.postgres
INSERT = ("INSERT INTO archon_agent_work_order_logs (agent_work_order_id, kind, message) "
          "VALUES (%s, 'note', %s) RETURNING id")


def work_orders(url: str, *ids: str) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        for one in ids:
            conn.execute("INSERT INTO archon_agent_work_orders (agent_work_order_id, repository_url, "
                         "sandbox_identifier, status) VALUES (%s, 'https://github.com/o/r', '', 'running')", (one,))


def insert_in_thread(url: str, work_order_id: str, into: list[tuple[int, float]]) -> threading.Thread:
    def insert() -> None:
        with psycopg.connect(url, autocommit=True) as conn:
            row = conn.execute(INSERT, (work_order_id, "second writer")).fetchone()
            assert row is not None
            into.append((int(row[0]), time.monotonic()))
    thread = threading.Thread(target=insert)
    thread.start()
    return thread


def test_a_second_writer_on_one_work_order_commits_after_the_first_and_gets_a_larger_id(postgres_url: str) -> None:
    empty_tables(postgres_url)
    work_orders(postgres_url, "wo-aaaa0001", "wo-bbbb0002")
    with psycopg.connect(postgres_url) as first:  # a transaction left open: the worker mid-insert
        first_row = first.execute(INSERT, ("wo-aaaa0001", "first writer")).fetchone()
        assert first_row is not None
        same: list[tuple[int, float]] = []
        other: list[tuple[int, float]] = []
        waiting = insert_in_thread(postgres_url, "wo-aaaa0001", same)
        elsewhere = insert_in_thread(postgres_url, "wo-bbbb0002", other)
        elsewhere.join(5)
        assert other, "a writer on another work order waited"
        time.sleep(0.3)
        assert not same, "the second writer on the same work order did not wait for the first one's commit"
        with psycopg.connect(postgres_url, autocommit=True) as reader:
            seen = [r[0] for r in reader.execute(
                "SELECT id FROM archon_agent_work_order_logs WHERE agent_work_order_id = 'wo-aaaa0001'")]
        assert seen == []  # nothing visible yet: no reader can move its cursor past the first entry
        committed = time.monotonic()
        first.commit()
    waiting.join(5)
    assert same and same[0][0] > int(first_row[0]) and same[0][1] >= committed
