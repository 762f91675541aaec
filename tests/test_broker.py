"""The embedded broker (automation_studio.broker) shared by several processes."""

from __future__ import annotations

import logging
import multiprocessing
import os
from pathlib import Path
from types import SimpleNamespace

from celery.worker.consumer.control import Control
from kombu import Connection, Consumer, Exchange, Producer, Queue

from automation_studio.broker import BAD_SUFFIX, Transport
from automation_studio.celery import app

QUEUE = Queue("work", Exchange("work", "direct"), routing_key="work")
PRODUCERS = 4
PER_PRODUCER = 150


def folders(root: Path) -> dict[str, str]:
    for name in ("queue", "processed", "control"):
        (root / name).mkdir(exist_ok=True)
    return {
        "data_folder_in": str(root / "queue"),
        "data_folder_out": str(root / "queue"),
        "processed_folder": str(root / "processed"),
        "control_folder": str(root / "control"),
        "polling_interval": 0.01,
    }


def connect(root: Path) -> Connection:
    return Connection("filesystem://", transport=Transport, transport_options=folders(root))


def produce(root: str, producer_id: int) -> None:
    with connect(Path(root)) as connection:
        producer = Producer(connection.default_channel)
        for n in range(PER_PRODUCER):
            # Declaring each time rewrites the binding table while others read it.
            producer.publish(
                {"id": f"{producer_id}-{n}"},
                exchange=QUEUE.exchange,
                routing_key="work",
                declare=[QUEUE],
            )


def consume(root: str, received, expected: int) -> None:
    def on_message(body, message):
        received.put(body["id"])
        message.ack()

    with (
        connect(Path(root)) as connection,
        Consumer(connection, [QUEUE], callbacks=[on_message]),
    ):
        idle = 0
        while idle < 100 and received.qsize() < expected:
            try:
                connection.drain_events(timeout=0.05)
                idle = 0
            except TimeoutError:
                idle += 1


def test_many_processes_send_and_take_every_message_exactly_once(tmp_path):
    context = multiprocessing.get_context("fork")
    received = context.Queue()
    expected = PRODUCERS * PER_PRODUCER
    consumers = [
        context.Process(target=consume, args=(str(tmp_path), received, expected)) for _ in range(2)
    ]
    producers = [context.Process(target=produce, args=(str(tmp_path), n)) for n in range(PRODUCERS)]
    for process in consumers + producers:
        process.start()
    ids = [received.get(timeout=60) for _ in range(expected)]
    for process in consumers + producers:
        process.join(timeout=30)
    assert [p.exitcode for p in consumers + producers] == [0] * (len(consumers) + PRODUCERS)
    assert sorted(ids) == sorted(f"{p}-{n}" for p in range(PRODUCERS) for n in range(PER_PRODUCER))
    assert os.listdir(tmp_path / "queue") == []


def test_an_unreadable_message_file_is_moved_aside_and_the_next_one_delivered(tmp_path, caplog):
    with connect(tmp_path) as connection:
        Producer(connection.default_channel).publish(
            {"id": "good"}, exchange=QUEUE.exchange, routing_key="work", declare=[QUEUE]
        )
        # What kombu's own transport can leave behind: a message file created but not written.
        (tmp_path / "queue" / "0_half-written.work.msg").write_bytes(b"")
        got = []
        with (
            caplog.at_level(logging.ERROR, logger="automation_studio.broker"),
            Consumer(connection, [QUEUE], callbacks=[lambda b, m: (got.append(b), m.ack())]),
        ):
            connection.drain_events(timeout=5)
    assert got == [{"id": "good"}]
    assert (tmp_path / "processed" / f"0_half-written.work.msg{BAD_SUFFIX}").exists()
    assert "0_half-written.work.msg is not valid JSON (0 bytes)" in caplog.text


def test_an_unbound_queue_is_forgotten_in_the_shared_table(tmp_path):
    # A name of its own: kombu keeps bindings in a per-process state shared by connections.
    name = f"unbind-{tmp_path.name}"
    queue = Queue(name, Exchange(name, "direct"), routing_key=name)
    with connect(tmp_path) as first, connect(tmp_path) as second:
        queue(first.default_channel).declare()
        assert [row.queue for row in second.default_channel.get_table(name)] == [name]
        first.default_channel.queue_delete(name)
        assert second.default_channel.get_table(name) == []


def test_without_fanout_celery_leaves_the_workers_remote_control_off(tmp_path):
    with connect(tmp_path) as connection:
        assert not connection.supports_exchange_type("fanout")
        assert connection.supports_exchange_type("direct")
        worker = SimpleNamespace(app=app, conninfo=connection)
        assert not Control.include_if(None, worker)


def test_connecting_to_a_folder_does_not_warn_about_a_missing_hostname(tmp_path, caplog):
    with caplog.at_level(logging.WARNING, logger="kombu.connection"), connect(tmp_path) as conn:
        conn.connect()
        assert conn.info()["transport"] is Transport
    assert "No hostname" not in caplog.text
