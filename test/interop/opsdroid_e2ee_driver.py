"""bench/opsdroid_driver.py with encryption on: opsdroid's ConnectorMatrix with enable_encryption and
a nio crypto store (store_path), and DatabaseMatrix with should_encrypt true. Same JSON-lines protocol
and ops (see that file), plus:

  sync   one /sync through the connector's nio client and the connector's own exchange_keys()
         (opsdroid's listen() loop does exactly this; the driver is loopless, so tests call it)

The init line needs "password" (ConnectorMatrix loads nio's crypto store only on a password login:
with an access token it never calls restore_login, so encryption cannot work that way) and
"store_path" (a directory for nio's crypto store). Nothing of opsdroid's logic is changed.
"""

import asyncio
import logging
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "bench"))

import opsdroid_driver as base  # noqa: E402
from opsdroid.connector.matrix import ConnectorMatrix  # noqa: E402
from opsdroid.core import OpsDroid  # noqa: E402
from opsdroid.database.matrix import DatabaseMatrix  # noqa: E402


class EncryptedDriver(base.Driver):
    async def init(self, req):
        if self.db is not None:
            raise base.DriverError("already initialised")
        logging.basicConfig(
            stream=sys.stderr,
            level=getattr(logging, str(req.get("log_level", "WARNING")).upper()),
            format="%(levelname)s %(name)s: %(message)s",
        )
        rooms = req.get("rooms")
        if not isinstance(rooms, dict) or "main" not in rooms:
            raise base.DriverError('init needs "rooms" with a "main" entry')
        if not req.get("password") or not req.get("store_path"):
            raise base.DriverError("the encrypted driver needs password (and user_id) and store_path")
        connector_config = {
            "name": "matrix",
            "homeserver": req["homeserver"],
            "rooms": rooms,
            "mxid": req["user_id"],
            "password": req["password"],
            "device_id": req.get("device_id", "OPSDROIDE2E"),
            "enable_encryption": True,
            "store_path": req["store_path"],
        }
        db_config = {"default_room": req.get("default_room", "main"), "should_encrypt": bool(req.get("should_encrypt", True))}
        if "single_state_key" in req:
            db_config["single_state_key"] = req["single_state_key"]

        self.core = OpsDroid(config={}, loopless=True)
        self.core.__enter__()
        self.connector = ConnectorMatrix(connector_config, opsdroid=self.core)
        if not self.connector._allow_encryption:
            raise base.DriverError("nio reports no encryption support (vodozemac missing?)")
        self.core.connectors = [self.connector]
        await self.connector.connect()
        connection = self.connector.connection
        if connection is None or not connection.access_token or connection.sync_token is None:
            raise base.DriverError("ConnectorMatrix.connect() failed (see the driver's stderr)")
        missing = sorted(set(rooms) - set(self.connector.room_ids))
        if missing:
            raise base.DriverError(f"ConnectorMatrix could not join rooms: {missing} (see stderr)")
        self._count_requests(connection)
        self.db = DatabaseMatrix(db_config, opsdroid=self.core)
        self.core.memory.databases = [self.db]
        await self.db.connect()
        return {
            "user_id": self.connector.mxid,
            "device_id": connection.device_id,
            "room_ids": dict(self.connector.room_ids),
            "encrypted_rooms": sorted(connection.store.load_encrypted_rooms()),
            "versions": base.versions(),
        }

    async def sync(self, req):
        """What ConnectorMatrix.listen() does per iteration, minus the event parsing."""
        self._ready()
        connection = self.connector.connection
        response = await connection.sync(
            timeout=int(req.get("timeout", 0)), sync_filter=self.connector.filter_id, since=connection.sync_token
        )
        if hasattr(response, "next_batch"):
            connection.sync_token = response.next_batch
        await self.connector.exchange_keys()
        return None


base.OPS.add("sync")

if __name__ == "__main__":
    base.Driver = EncryptedDriver
    asyncio.run(base.main())
