"""The embedded broker: kombu's filesystem transport, made safe for several processes.

The studio's web server, worker and beat share one folder of message files. kombu's own
filesystem transport (kombu 5.7) crashes the worker with ``JSONDecodeError`` when they do:

- a message file is created empty and written afterwards, and a consumer that lists the
  folder in between moves it away and reads nothing;
- an exchange table is truncated when opened for writing, before its lock is taken, so a
  reader in another process can read an empty or half-written table;
- the worker's remote control (its pidbox) binds queues to fanout exchanges from every
  process, which rewrites those tables all the time.

Here every file is written under a temporary name and renamed into place (a rename is
atomic on POSIX), a consumer claims a message by renaming it into its processed folder on
the same filesystem (only one consumer can win), table updates are serialised by a lock
file, and fanout is not offered, so Celery leaves remote control (pidbox), gossip and mingle
off on this broker. A file that still cannot be read (left by an older version) is moved
aside with an error in the log instead of stopping the worker. Redis is the broker for
anything real; this one is for a single machine with no servers.

Selected in settings with ``CELERY_BROKER_TRANSPORT`` when ``CELERY_BROKER_URL`` is
``filesystem://``.
"""

from __future__ import annotations

import fcntl
import logging
import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from queue import Empty
from time import monotonic

from kombu.transport import filesystem
from kombu.utils.encoding import bytes_to_str, str_to_bytes
from kombu.utils.json import dumps, loads

logger = logging.getLogger(__name__)

BAD_SUFFIX = ".unreadable"


def write_atomically(path: str | Path, data: bytes) -> None:
    """Write ``data`` to ``path`` so that readers see the old file or the whole new one.

    The bytes go to a hidden sibling first (same folder, so the same filesystem), then
    ``os.replace`` renames it over ``path``. Raises OSError when the folder is not writable.
    """
    path = Path(path)
    partial = path.parent / f".{uuid.uuid4().hex}.part"
    try:
        with open(partial, "wb") as handle:
            handle.write(data)
        os.replace(partial, path)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise


class Channel(filesystem.Channel):
    """A filesystem channel whose files are never seen half-written by another process."""

    # kombu shares queue bindings between processes through the table files only when this
    # flag is on; fanout itself is withheld at the transport level (Transport.implements).
    supports_fanout = True

    def _put(self, queue: str, payload: dict, **kwargs) -> None:
        # Same name shape as kombu's (time-ordered, then the queue name), written atomically.
        name = f"{round(monotonic() * 1000)}_{uuid.uuid4()}.{queue}.msg"
        write_atomically(Path(self.data_folder_out) / name, str_to_bytes(dumps(payload)))

    def _get(self, queue: str) -> dict:
        wanted = f"{queue}.msg"
        for name in sorted(os.listdir(self.data_folder_in)):
            if name.partition(".")[2] != wanted:
                continue
            payload = self._claim(name)
            if payload is not None:
                return payload
        raise Empty()

    def _claim(self, name: str) -> dict | None:
        """Take one message file; None if another consumer got it first or it is unreadable."""
        claimed = Path(self.processed_folder) / name
        try:
            # Atomic on one filesystem: exactly one consumer wins the rename.
            os.rename(Path(self.data_folder_in) / name, claimed)
        except FileNotFoundError:
            return None
        raw = claimed.read_bytes()
        try:
            payload = loads(bytes_to_str(raw))
        except ValueError:
            claimed.rename(claimed.with_name(name + BAD_SUFFIX))
            logger.error(
                "embedded broker: message file %s is not valid JSON (%d bytes); moved aside to "
                "%s%s and skipped",
                name,
                len(raw),
                claimed,
                BAD_SUFFIX,
            )
            return None
        if not self.store_processed:
            claimed.unlink(missing_ok=True)
        return payload

    # --- exchange tables (queue bindings), shared by every process ------------------------

    @contextmanager
    def _table_lock(self, exchange: str) -> Iterator[None]:
        self.control_folder.mkdir(parents=True, exist_ok=True)
        lock_path = self._exchange_file(exchange).with_suffix(".lock")
        with open(lock_path, "a") as handle:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle.fileno(), fcntl.LOCK_UN)

    def get_table(self, exchange: str) -> list:
        try:
            raw = self._exchange_file(exchange).read_bytes()
        except FileNotFoundError:
            return []
        return [filesystem.exchange_queue_t(*row) for row in loads(bytes_to_str(raw))]

    def _write_table(self, exchange: str, rows: list) -> None:
        write_atomically(self._exchange_file(exchange), str_to_bytes(dumps(rows)))

    def _queue_bind(self, exchange: str, routing_key: str, pattern: str, queue: str) -> None:
        row = filesystem.exchange_queue_t(routing_key or "", pattern or "", queue or "")
        with self._table_lock(exchange):
            rows = self.get_table(exchange)
            if row not in rows:
                self._write_table(exchange, [row, *rows])

    def _delete(self, queue, exchange, routing_key, pattern, *args, **kwargs) -> None:
        # Skip kombu's filesystem _delete (it rewrites the table in place); keep the base's.
        super(filesystem.Channel, self)._delete(
            queue, exchange, routing_key, pattern, *args, **kwargs
        )
        row = filesystem.exchange_queue_t(routing_key or "", pattern or "", queue or "")
        with self._table_lock(exchange):
            rows = self.get_table(exchange)
            if row in rows:
                self._write_table(exchange, [r for r in rows if r != row])


class Transport(filesystem.Transport):
    """kombu's filesystem transport with the safe channel and no fanout exchanges.

    Without fanout Celery skips the worker's remote-control bootstep (it requires fanout);
    gossip and mingle are already limited to AMQP and Redis.
    """

    Channel = Channel
    implements = filesystem.Transport.implements.extend(
        exchange_type=frozenset(["direct", "topic"])
    )

    @property
    def default_connection_params(self) -> dict:
        # No default host: a folder needs none, and kombu warns on every connection
        # ("No hostname was supplied") when the URL has none but a default exists.
        return {"port": self.default_port}
