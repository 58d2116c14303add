"""Drive opsdroid's real Matrix database (opsdroid.database.matrix.DatabaseMatrix) over JSON lines.

A long-lived process, so tests and benchmarks pay Python's start-up once. One request per stdin line,
one answer per stdout line:

    {"id": 1, "op": "put", "key": "k", "value": {...}}
    -> {"id": 1, "ok": true, "result": ...}
    -> {"id": 1, "ok": false, "error": "...", "type": "ExceptionClass", "matrix": {...}?}

Requests after "init" run concurrently (each as its own asyncio task), exactly as concurrent skills
would use one opsdroid instance; send the next request only after the answer if you want them in order.
Add "trace": true to a request to get "requests": [[method, path], ...] (the HTTP requests nio sent for
it; query strings dropped) in the answer. Logging goes to stderr (level from init "log_level").

Ops: init, put, get, delete, bench_get, bench_put, version, close. put/get/delete/bench_* take an
optional "room" (name from "rooms", alias or room ID), run inside opsdroid's memory_in_room(room).

Nothing of opsdroid's logic is changed: the driver builds a real OpsDroid core (loopless), a real
ConnectorMatrix (connect(): whoami or login, join, filters, initial sync) and a DatabaseMatrix,
as `opsdroid start` would from this configuration.
"""

import asyncio
import contextvars
import gettext
import json
import logging
import sys
import time
import traceback
import warnings

# opsdroid 0.31.0's loader imports pkg_resources (hence setuptools<81 in the pins); keep stderr readable.
warnings.filterwarnings("ignore", message="pkg_resources is deprecated")
# opsdroid's CLI installs gettext's `_` before anything runs; the connector's retry path uses it.
gettext.install("opsdroid")

import opsdroid  # noqa: E402
from opsdroid.connector.matrix import ConnectorMatrix  # noqa: E402
from opsdroid.connector.matrix.exceptions import MatrixException  # noqa: E402
from opsdroid.core import OpsDroid  # noqa: E402
from opsdroid.database.matrix import DatabaseMatrix  # noqa: E402

_LOG = logging.getLogger("opsdroid_driver")
# The HTTP requests of the current driver request (one list per asyncio task, so concurrent ops don't mix).
_requests = contextvars.ContextVar("requests", default=None)


class DriverError(Exception):
    """A bad request to the driver itself (not an opsdroid error)."""


class Driver:
    def __init__(self):
        self.core = None
        self.connector = None
        self.db = None

    # -- set-up ------------------------------------------------------------------------------------

    async def init(self, req):
        if self.db is not None:
            raise DriverError("already initialised")
        self._configure_logging(req)
        if req.get("should_encrypt", False) or req.get("enable_encryption", False):
            # Encrypted values need matrix-nio[e2e] (vodozemac), a crypto store and key sharing.
            raise NotImplementedError(
                "opsdroid_driver: encryption (should_encrypt/enable_encryption true) is not supported yet; "
                "it needs matrix-nio[e2e] and a persistent nio store"
            )
        rooms = req.get("rooms")
        if not isinstance(rooms, dict) or "main" not in rooms:
            # ConnectorMatrix requires a room named "main" (its default target).
            raise DriverError('init needs "rooms" with a "main" entry, e.g. {"main": "!room:server"}')
        connector_config = {
            "name": "matrix",
            "homeserver": req["homeserver"],
            "rooms": rooms,
            "device_id": req.get("device_id", "opsdroid"),
            "enable_encryption": False,
        }
        if req.get("access_token"):
            connector_config["access_token"] = req["access_token"]
        elif req.get("password"):
            connector_config["mxid"] = req["user_id"]
            connector_config["password"] = req["password"]
        else:
            raise DriverError("init needs access_token, or user_id and password")
        if "user_id" in req:
            connector_config.setdefault("mxid", req["user_id"])

        db_config = {"default_room": req.get("default_room", "main"), "should_encrypt": False}
        if "single_state_key" in req:
            db_config["single_state_key"] = req["single_state_key"]

        connection = await self._start(connector_config, db_config)
        return {
            "user_id": self.connector.mxid,
            "device_id": connection.device_id,
            "room_ids": dict(self.connector.room_ids),
            "versions": versions(),
        }

    async def _start(self, connector_config, db_config):
        """The core, the connector (connected) and the database, as `opsdroid start` would build them
        from this configuration; returns the connector's nio client."""
        self.core = OpsDroid(config={}, loopless=True)
        self.core.__enter__()  # registers the instance for get_opsdroid() (memory_in_event_room)
        self.connector = ConnectorMatrix(connector_config, opsdroid=self.core)
        self._check_connector()
        self.core.connectors = [self.connector]
        await self.connector.connect()
        connection = self._connected(connector_config["rooms"])
        await self._open_database(db_config)
        return connection

    def _check_connector(self):
        """A subclass's check of the new connector before it connects."""

    @staticmethod
    def _configure_logging(req):
        logging.basicConfig(
            stream=sys.stderr,
            level=getattr(logging, str(req.get("log_level", "WARNING")).upper()),
            format="%(levelname)s %(name)s: %(message)s",
        )

    def _connected(self, rooms):
        """The connector's nio client after connect(), which logs and returns on failure instead of
        raising: check what it left behind, then start recording nio's requests."""
        connection = self.connector.connection
        if connection is None or not connection.access_token or connection.sync_token is None:
            raise DriverError("ConnectorMatrix.connect() failed (see the driver's stderr)")
        missing = sorted(set(rooms) - set(self.connector.room_ids))
        if missing:
            raise DriverError(f"ConnectorMatrix could not join rooms: {missing} (see stderr)")
        self._count_requests(connection)
        return connection

    async def _open_database(self, db_config):
        """DatabaseMatrix registered with the core, as opsdroid's loader does."""
        self.db = DatabaseMatrix(db_config, opsdroid=self.core)
        self.core.memory.databases = [self.db]
        await self.db.connect()

    @staticmethod
    def _count_requests(connection):
        """Record (method, path) of every request nio sends, for the request-pattern figures."""
        original = connection.send

        async def send(method, path, *args, **kwargs):
            seen = _requests.get()
            if seen is not None:
                seen.append([method.upper(), path.split("?", 1)[0]])
            return await original(method, path, *args, **kwargs)

        connection.send = send

    # -- operations --------------------------------------------------------------------------------

    def _room(self, req):
        """opsdroid's own memory_in_room (a field swap on the shared instance), or a no-op."""
        room = req.get("room")
        if room is None:
            return _NullContext()
        return self.db.memory_in_room(room)

    def _ready(self):
        if self.db is None:
            raise DriverError("send init first")

    async def put(self, req):
        self._ready()
        with self._room(req):
            return await self.db.put(req["key"], req["value"])

    async def get(self, req):
        self._ready()
        with self._room(req):
            return await self.db.get(req["key"])

    async def delete(self, req):
        self._ready()
        with self._room(req):
            return await self.db.delete(req["key"])

    async def bench_get(self, req):
        """n sequential gets of one key; latencies in microseconds measured here, not in Node."""
        self._ready()
        n = int(req.get("n", 100))
        latencies = []
        value = None
        with self._room(req):
            for _ in range(n):
                started = time.perf_counter_ns()
                value = await self.db.get(req["key"])
                latencies.append((time.perf_counter_ns() - started) // 1000)
        return {"latencies_us": latencies, "value": value}

    async def bench_put(self, req):
        """Put items with at most `concurrency` in flight (opsdroid offers no batching).

        Optional "deadline_s": stop after that many seconds, cancelling the puts still running or
        waiting (nio retries a 429 forever); those answer {"ok": false, "type": "Cancelled"}.
        Each result's "done_us" is when it finished, counted from the start of the op.
        """
        self._ready()
        limit = asyncio.Semaphore(max(1, int(req.get("concurrency", 1))))
        deadline = req.get("deadline_s")
        started = time.perf_counter_ns()

        async def one(key, value):
            async with limit:
                began = time.perf_counter_ns()
                try:
                    result = await self.db.put(key, value)
                    outcome = {"key": key, "ok": True, "result": result}
                except Exception as error:  # noqa: BLE001 - reported per item
                    outcome = {"key": key, "ok": False, **describe(error)}
                now = time.perf_counter_ns()
                return {**outcome, "us": (now - began) // 1000, "done_us": (now - started) // 1000}

        with self._room(req):
            tasks = [asyncio.ensure_future(one(k, v)) for k, v in req["items"]]
            if deadline is None:
                results = await asyncio.gather(*tasks)
            else:
                await asyncio.wait(tasks, timeout=float(deadline))
                for task in tasks:
                    task.cancel()
                await asyncio.gather(*tasks, return_exceptions=True)
                results = [
                    task.result() if not task.cancelled() else {"key": k, "ok": False, "type": "Cancelled", "error": "deadline"}
                    for task, (k, _) in zip(tasks, req["items"])
                ]
            wall = (time.perf_counter_ns() - started) // 1000
        return {"wall_us": wall, "results": results}

    async def version(self, req):
        return versions()

    async def close(self, req):
        connector, self.connector = self.connector, None
        if connector is not None and connector.connection is not None:
            await connector.disconnect()
        return None


class _NullContext:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


def versions():
    from importlib.metadata import version

    return {"opsdroid": opsdroid.__version__, "matrix-nio": version("matrix-nio"), "python": sys.version.split()[0]}


def describe(error):
    """The error fields of an answer: exception type and message, plus nio's error for MatrixException."""
    if isinstance(error, MatrixException):
        # MatrixException.__str__ is broken in opsdroid 0.31.0 (it adds a method to a str), so read the
        # wrapped nio ErrorResponse directly.
        nio_error = error.nio_error
        return {
            "type": "MatrixException",
            "error": f"{type(nio_error).__name__}: {getattr(nio_error, 'message', '')} ({getattr(nio_error, 'status_code', None)})",
            "matrix": {
                "response": type(nio_error).__name__,
                "errcode": getattr(nio_error, "status_code", None),
                "message": getattr(nio_error, "message", None),
                "status": getattr(getattr(nio_error, "transport_response", None), "status", None),
            },
        }
    try:
        message = str(error)
    except Exception:  # noqa: BLE001 - a broken __str__ must not kill the driver
        message = repr(error)
    return {"type": type(error).__name__, "error": message}


async def handle(driver, line, write):
    try:
        req = json.loads(line)
    except ValueError as error:
        write({"id": None, "ok": False, "type": "JSONDecodeError", "error": str(error)})
        return
    rid = req.get("id")
    trace = [] if req.get("trace") else None
    token = _requests.set(trace)
    try:
        op = req.get("op")
        method = getattr(driver, op, None) if op in OPS else None
        if method is None:
            raise DriverError(f"unknown op {op!r}")
        result = await method(req)
        answer = {"id": rid, "ok": True, "result": result}
    except Exception as error:  # noqa: BLE001 - every failure becomes an answer
        _LOG.debug("request %s failed:\n%s", rid, traceback.format_exc())
        answer = {"id": rid, "ok": False, **describe(error)}
    finally:
        _requests.reset(token)
    if trace is not None:
        answer["requests"] = trace
    write(answer)


OPS = {"init", "put", "get", "delete", "bench_get", "bench_put", "version", "close"}


async def main():
    loop = asyncio.get_running_loop()
    stdin = sys.stdin.buffer
    out = sys.stdout

    def write(answer):
        out.write(json.dumps(answer, ensure_ascii=False, separators=(",", ":")) + "\n")
        out.flush()

    driver = Driver()
    tasks = set()
    while True:
        # A thread read works for pipes and files alike (connect_read_pipe refuses files).
        line = await loop.run_in_executor(None, stdin.readline)
        if not line:
            break
        line = line.strip()
        if not line:
            continue
        try:
            op = json.loads(line).get("op")
        except (ValueError, AttributeError):
            op = None
        if op in ("init", "close"):
            # init before anything else, close after everything in flight.
            if op == "close" and tasks:
                await asyncio.gather(*tasks, return_exceptions=True)
            await handle(driver, line, write)
            if op == "close":
                break
            continue
        task = asyncio.create_task(handle(driver, line, write))
        tasks.add(task)
        task.add_done_callback(tasks.discard)
    if tasks:
        await asyncio.gather(*tasks, return_exceptions=True)
    await driver.close({})


if __name__ == "__main__":
    asyncio.run(main())
