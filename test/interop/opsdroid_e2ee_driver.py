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
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "bench"))

import opsdroid_driver as base  # noqa: E402


class EncryptedDriver(base.Driver):
    async def init(self, req):
        if self.db is not None:
            raise base.DriverError("already initialised")
        self._configure_logging(req)
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

        connection = await self._start(connector_config, db_config)
        return {
            "user_id": self.connector.mxid,
            "device_id": connection.device_id,
            "room_ids": dict(self.connector.room_ids),
            "encrypted_rooms": sorted(connection.store.load_encrypted_rooms()),
            "versions": base.versions(),
        }

    def _check_connector(self):
        if not self.connector._allow_encryption:
            raise base.DriverError("nio reports no encryption support (vodozemac missing?)")

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
