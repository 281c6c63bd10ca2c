"""The relay's failure path as pure logic: which records it isolates, retries or dead-letters.

A fake consumer and handler stand in for Kafka and the database here; the same path with a
real broker, database and channel layer is tested in test_poison_records.
"""

from __future__ import annotations

import pytest
from django.db import DataError, OperationalError

from zzalu import relay as relay_module
from zzalu.kafka import KafkaUnavailable, Record
from zzalu.relay import PoisonRecord, Relay


class FakeConsumer:
    def __init__(self, records: list[Record]):
        self.batches = [{("t", 0): records}] if records else []
        self.commits = 0

    def poll(self, timeout_ms: int = 250, max_records: int = 500):
        return self.batches.pop(0) if self.batches else {}

    def commit(self):
        self.commits += 1

    def lag(self):
        return {("t", 0): 0}


def records(*values: bytes) -> list[Record]:
    return [Record("t", 0, offset, b"k", value) for offset, value in enumerate(values)]


class Handler:
    """Handles records whose value is not in ``bad``; ``bad`` values raise ``error``."""

    def __init__(self, bad: dict[bytes, Exception]):
        self.bad, self.handled, self.calls = bad, [], 0

    def __call__(self, batch, *, announce):
        self.calls += 1
        for record in batch:
            if record.value in self.bad:
                raise self.bad[record.value]
        self.handled.extend(r.value for r in batch)
        return len(batch)


def make_relay(batch, handler, dead):
    return Relay(
        consumer=FakeConsumer(batch),
        handlers={"t": handler},
        announce=lambda messages: None,
        dead_letter=lambda record, exc, attempts: dead.append((record.value, exc, attempts)),
    )


@pytest.fixture
def dependencies_up(monkeypatch):
    monkeypatch.setattr(relay_module, "dependencies_answer", lambda: True)


def test_a_poison_record_is_dead_lettered_and_its_batch_mates_are_handled_in_order(
    dependencies_up,
):
    values = [b"%d" % i for i in range(9)]
    handler = Handler({b"5": DataError("NUL in text")})
    dead = []
    relay = make_relay(records(*values), handler, dead)
    assert relay.step() == 9
    assert handler.handled == [v for v in values if v != b"5"]
    [(value, exc, attempts)] = dead
    assert value == b"5" and isinstance(exc, DataError)
    assert attempts == 2  # alone, twice (RELAY_POISON_ATTEMPTS), before it was given up
    assert relay.consumer.commits == 1 and not relay.pending


def test_a_record_known_to_be_poison_is_dead_lettered_at_its_first_lone_failure(dependencies_up):
    handler = Handler({b"x": PoisonRecord("not JSON")})
    dead = []
    make_relay(records(b"x"), handler, dead).step()
    assert [(v, a) for v, _, a in dead] == [(b"x", 1)]
    assert handler.calls == 1


def test_an_unreachable_dependency_dead_letters_nothing_and_keeps_the_batch(dependencies_up):
    handler = Handler({b"2": OperationalError("connection refused")})
    dead = []
    relay = make_relay(records(b"1", b"2", b"3"), handler, dead)
    with pytest.raises(OperationalError):
        relay.step()
    assert dead == [] and relay.consumer.commits == 0
    # Once the database is back, the same records are handled, not polled again.
    handler.bad = {}
    assert relay.step() == 3
    assert handler.handled == [b"1", b"2", b"3"]


def test_a_broker_that_cannot_take_the_dead_letter_leaves_the_record_to_retry(dependencies_up):
    handler = Handler({b"2": PoisonRecord("bad")})

    def dead_letter(record, exc, attempts):
        raise KafkaUnavailable("broker away")

    relay = make_relay(records(b"1", b"2", b"3"), handler, [])
    relay.dead_letter = dead_letter
    with pytest.raises(KafkaUnavailable):
        relay.step()
    assert handler.handled == [b"1"]  # what was handled stays handled...
    assert [r.value for _, rs in relay.pending for r in rs] == [b"2", b"3"]  # ...the rest waits
    assert relay.consumer.commits == 0


def test_an_unexplained_failure_while_the_database_is_down_is_not_called_poison(monkeypatch):
    monkeypatch.setattr(relay_module, "dependencies_answer", lambda: False)
    handler = Handler({b"1": RuntimeError("?")})
    dead = []
    relay = make_relay(records(b"1"), handler, dead)
    with pytest.raises(RuntimeError):
        relay.step()
    assert dead == []
