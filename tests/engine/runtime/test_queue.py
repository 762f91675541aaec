from __future__ import annotations

import threading
import time

import pytest

from engine.runtime import queue


@pytest.fixture
def broker(monkeypatch, settings):
    """Stand in for the broker at the one place engine.runtime.queue publishes."""
    settings.STUDIO_DISPATCH_BATCH_MS = 20
    sent: list[tuple[str, list]] = []
    arrived = threading.Event()

    def send(name, args):
        sent.append((name, args))
        arrived.set()

    monkeypatch.setattr(queue, "_send", send)
    monkeypatch.setattr(queue, "_dispatcher", send)
    return sent, arrived


def test_items_added_together_go_out_as_one_task(broker):
    sent, arrived = broker
    publisher = queue.BatchingPublisher("engine.tasks.dispatch_event")
    for n in range(5):
        publisher.add({"n": n})
    assert arrived.wait(2)
    assert sent == [("engine.tasks.dispatch_event", [[{"n": n} for n in range(5)]])]


def test_a_full_batch_is_split_at_the_size_limit(broker):
    sent, _ = broker
    publisher = queue.BatchingPublisher("x", max_items=3)
    publisher._pid = -1  # no flusher thread: flush by hand
    publisher._items = [1, 2, 3, 4, 5, 6, 7]
    assert publisher.flush() == 7
    assert [args[0] for _, args in sent] == [[1, 2, 3], [4, 5, 6], [7]]


def test_items_that_failed_to_publish_wait_for_the_next_flush(monkeypatch, settings):
    calls = []

    def flaky(name, args):
        calls.append(args)
        if len(calls) == 2:
            raise ConnectionError("broker down")

    monkeypatch.setattr(queue, "_send", flaky)
    publisher = queue.BatchingPublisher("x", max_items=2)
    publisher._items = [1, 2, 3, 4, 5]
    with pytest.raises(ConnectionError):
        publisher.flush()
    assert publisher._items == [3, 4, 5]
    assert publisher.flush() == 3


def test_with_batching_off_or_a_test_dispatcher_items_go_straight_through(settings):
    seen = []
    publisher = queue.BatchingPublisher("x")
    with queue.use_dispatcher(lambda name, args: seen.append(args)):
        publisher.add("a")
    settings.STUDIO_DISPATCH_BATCH_MS = 0
    with queue.use_dispatcher(lambda name, args: seen.append(args)):
        publisher.add("b")
    assert seen == [[["a"]], [["b"]]]
    assert publisher._items == []


def _published(monkeypatch, send):
    """The one message ``send()`` puts on a real Celery app's memory transport."""
    from celery import Celery

    memory = Celery("argsrepr-test", broker="memory://")
    monkeypatch.setattr(queue, "app", memory)
    with memory.connection_for_read() as connection:
        connection.SimpleQueue("celery").clear()  # the memory transport's queues are per process
    send()
    with memory.connection_for_read() as connection:
        message = connection.SimpleQueue("celery").get(timeout=2)
        message.ack()
    return message


def test_a_published_task_shows_its_ids_but_not_the_trigger_body(monkeypatch):
    """Celery's argsrepr header (worker logs, monitors) comes from args_brief: the webhook's
    body — personal data, and a saferepr walk costing the request CPU — is not in it."""
    trigger = {"type": "webhook", "body": {"email": "private.person@example.com"}, "n": 1}
    args = [4, 52, trigger, 9443, {"tenant_id": 1}, "s1", None, True, ["a", "b"], "x" * 100]
    message = _published(monkeypatch, lambda: queue._send(queue.ENROLL, args))
    assert message.headers["task"] == queue.ENROLL
    assert message.headers["argsrepr"] == (
        f"[4, 52, {{…3 keys}}, 9443, {{…1 key}}, 's1', None, True, […2 items], '{'x' * 61}…']"
    )
    assert message.headers["kwargsrepr"] == "{}"
    assert "private.person" not in str(message.headers)
    assert message.payload[0] == args  # the task itself gets every argument unchanged


def test_a_task_sent_for_later_carries_the_brief_header_and_its_eta(monkeypatch):
    from datetime import UTC, datetime

    eta = datetime(2030, 1, 2, 3, 4, 5, tzinfo=UTC)
    message = _published(monkeypatch, lambda: queue.dispatch_at(queue.RUN_ACTION, [17], eta=eta))
    assert message.headers["argsrepr"] == "[17]"
    assert message.headers["eta"] == eta.isoformat()


def _until(predicate, timeout: float = 2.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.005)
    return False


def test_a_quiet_process_sends_at_once_and_a_burst_goes_as_one_batch(broker, settings):
    """The lean webhook path (issue 16): no batching delay when idle, one task per window
    under load, and at once again after a quiet window."""
    sent, _ = broker
    settings.STUDIO_WEBHOOK_BATCH_MS = 200
    publisher = queue.LeadingEdgePublisher("one", "many")
    publisher.add([1])
    assert sent == [("one", [1])]  # synchronously, in the caller's thread
    publisher.add([2])
    publisher.add([3])
    assert sent == [("one", [1])]  # waiting for the window to end
    assert _until(lambda: len(sent) == 2)
    assert sent[1] == ("many", [[[2], [3]]])
    time.sleep(0.25)  # a quiet window
    publisher.add([4])
    assert sent[-1] == ("one", [4])


def test_a_batch_is_split_at_its_size_and_a_failed_send_is_logged_not_raised(monkeypatch, caplog):
    calls = []

    def flaky(name, args):
        calls.append(args[0])
        if len(calls) == 2:
            raise ConnectionError("broker down")

    monkeypatch.setattr(queue, "_send", flaky)
    publisher = queue.LeadingEdgePublisher("one", "many", max_items=2)
    publisher._items = [[1], [2], [3], [4], [5]]
    assert publisher.flush() == 5
    assert calls == [[[1], [2]], [[3], [4]], [[5]]]  # the chunk after the failure still goes
    assert publisher._items == []  # the failed chunk's deliveries stay owed: the sweep has them
    assert "the sweep re-sends it" in caplog.text


def test_with_the_window_off_or_a_test_dispatcher_each_goes_alone(settings):
    seen = []
    publisher = queue.LeadingEdgePublisher("one", "many")
    with queue.use_dispatcher(lambda name, args: seen.append((name, args))):
        publisher.add([1])
        publisher.add([2])
    settings.STUDIO_WEBHOOK_BATCH_MS = 0
    with queue.use_dispatcher(lambda name, args: seen.append((name, args))):
        publisher.add([3])
    assert seen == [("one", [1]), ("one", [2]), ("one", [3])]
    assert publisher._items == []
