"""An independent Matrix client for the interop tests: matrix-nio 0.26.0 with its encryption extras
(vodozemac), driven over JSON lines like bench/opsdroid_driver.py. test/helpers/nio.ts starts it.

One request per stdin line, one answer per stdout line, in order (requests run one at a time):

    {"id": 1, "op": "init", "homeserver": ..., "user_id": ..., "password": ..., "room_id": ..., "store_path": ...}
    -> {"id": 1, "ok": true, "result": {...}}
    -> {"id": 1, "ok": false, "type": "ExceptionClass", "error": "..."}

Ops:
  init      log in (a new device of its own), join the room, sync, upload keys, query the members' keys
  sync      one /sync (timeout ms) and the key exchange after it (to-device out, keys upload/query/claim)
  get       read a key the way opsdroid's DatabaseMatrix does: the state content, then for an
            {"encrypted_val": event_id} reference GET the event and let nio decrypt it
  put       write a key in opsdroid's encrypted format: the value as an encrypted dev.opsdroid.database
            room event (nio shares its room key first), then the state {key: {"encrypted_val": id}}
  forge     send an m.room.encrypted event with nio's current outbound session whose plaintext names
            another room (a negative case), and reference it from state under `key`
  keys      this device's identity keys
  room_keys the m.room_key contents this device received over Olm (for the secrecy test: a
            session_key that must never appear in mxdb's files)
  close
Nothing here logs a token: logging stays at WARNING on stderr.
"""

import asyncio
import json
import logging
import sys
import traceback

import nio
from nio.api import Api

EVENT_TYPE = "dev.opsdroid.database"


class Peer:
    def __init__(self):
        self.client = None
        self.room_id = None
        self.state_key = ""
        self.received_keys = []

    async def init(self, req):
        logging.basicConfig(stream=sys.stderr, level=logging.WARNING)
        config = nio.AsyncClientConfig(encryption_enabled=True, store_sync_tokens=True)
        self.client = nio.AsyncClient(req["homeserver"], req["user_id"], store_path=req["store_path"], config=config)
        self.room_id = req["room_id"]
        self.state_key = req.get("state_key", "")
        resp = await self.client.login(password=req["password"], device_name="nio-interop")
        if isinstance(resp, nio.LoginError):
            raise RuntimeError(f"login failed: {resp.message}")
        self._capture_room_keys()
        joined = await self.client.join(self.room_id)
        if isinstance(joined, nio.JoinError):
            raise RuntimeError(f"join failed: {joined.message}")
        await self._sync(0, full_state=True)
        # Query every member's devices now (nio queries only users it was told changed).
        await self._exchange()
        return {"user_id": self.client.user_id, "device_id": self.client.device_id, **self._keys(), "versions": versions()}

    async def sync(self, req):
        await self._sync(int(req.get("timeout", 0)))
        return None

    async def _sync(self, timeout, full_state=False):
        resp = await self.client.sync(timeout=timeout, full_state=full_state)
        if isinstance(resp, nio.SyncError):
            raise RuntimeError(f"sync failed: {resp.message}")
        await self._exchange()

    async def _exchange(self):
        c = self.client
        await c.send_to_device_messages()
        if c.should_upload_keys:
            await c.keys_upload()
        if c.should_query_keys:
            await c.keys_query()
        if c.should_claim_keys:
            await c.keys_claim(c.get_users_for_key_claiming())

    async def get(self, req):
        key = req["key"]
        state = await self.client.room_get_state_event(self.room_id, EVENT_TYPE, self.state_key)
        if isinstance(state, nio.RoomGetStateEventError):
            raise RuntimeError(f"state: {state.message}")
        if key not in state.content:
            return {"found": False}
        value = state.content[key]
        if not (isinstance(value, dict) and len(value) == 1 and "encrypted_val" in value):
            return {"found": True, "encrypted": False, "value": value}
        event_id = value["encrypted_val"]
        resp = await self.client.room_get_event(self.room_id, event_id)
        if isinstance(resp, nio.RoomGetEventError):
            raise RuntimeError(f"event {event_id}: {resp.message}")
        if isinstance(resp.event, nio.MegolmEvent):
            # nio could not decrypt it (receive_response swallows the EncryptionError).
            return {"found": True, "encrypted": True, "decrypted": False, "event_id": event_id, "session_id": resp.event.session_id}
        content = resp.event.source.get("content", {})
        return {
            "found": True,
            "encrypted": True,
            "decrypted": True,
            "event_id": event_id,
            "type": resp.event.source.get("type"),
            "value": content.get(key),
            "has_key": key in content,
        }

    async def put(self, req):
        key, value = req["key"], req["value"]
        resp = await self.client.room_send(self.room_id, EVENT_TYPE, {key: value}, ignore_unverified_devices=True)
        if isinstance(resp, nio.RoomSendError):
            raise RuntimeError(f"send: {resp.message}")
        await self._reference(key, resp.event_id)
        session = self.client.olm.outbound_group_sessions.get(self.room_id)
        shared = sorted([list(x) for x in session.users_shared_with]) if session else []
        return {"event_id": resp.event_id, "shared_with": shared}

    async def forge(self, req):
        """Encrypt with the room's current outbound session, but name another room in the plaintext."""
        session = self.client.olm.outbound_group_sessions.get(self.room_id)
        if session is None:
            raise RuntimeError("no outbound session yet: put something first")
        plaintext = json.dumps({"type": EVENT_TYPE, "content": {req["key"]: req["value"]}, "room_id": req["claimed_room_id"]})
        content = {
            "algorithm": "m.megolm.v1.aes-sha2",
            "sender_key": self.client.olm.account.identity_keys["curve25519"],
            "ciphertext": session.encrypt(plaintext),
            "session_id": session.id,
            "device_id": self.client.device_id,
        }
        method, path, data = Api.room_send(self.client.access_token, self.room_id, "m.room.encrypted", content, req.get("txn_id", "forge-" + req["key"]))
        resp = await self.client._send(nio.RoomSendResponse, method, path, data, response_data=(self.room_id,))
        if isinstance(resp, nio.RoomSendError):
            raise RuntimeError(f"send: {resp.message}")
        await self._reference(req["key"], resp.event_id)
        return {"event_id": resp.event_id}

    async def _reference(self, key, event_id):
        state = await self.client.room_get_state_event(self.room_id, EVENT_TYPE, self.state_key)
        data = {} if isinstance(state, nio.RoomGetStateEventError) else dict(state.content)
        data[key] = {"encrypted_val": event_id}
        put = await self.client.room_put_state(self.room_id, EVENT_TYPE, data, state_key=self.state_key)
        if isinstance(put, nio.RoomPutStateError):
            raise RuntimeError(f"state put: {put.message}")

    def _capture_room_keys(self):
        """Observe (not change) nio's handling of decrypted m.room_key payloads."""
        olm = self.client.olm
        original = olm._handle_room_key_event

        def capture(sender, sender_key, payload):
            content = payload.get("content", {})
            self.received_keys.append({k: content.get(k) for k in ("room_id", "session_id", "session_key")} | {"sender": sender})
            return original(sender, sender_key, payload)

        olm._handle_room_key_event = capture

    async def room_keys(self, req):
        return self.received_keys

    async def keys(self, req):
        return self._keys()

    def _keys(self):
        return {"identity_keys": dict(self.client.olm.account.identity_keys)}

    async def close(self, req):
        if self.client is not None:
            await self.client.close()
            self.client = None
        return None


def versions():
    from importlib.metadata import version

    return {"matrix-nio": version("matrix-nio"), "vodozemac": version("vodozemac"), "python": sys.version.split()[0]}


OPS = {"init", "sync", "get", "put", "forge", "keys", "room_keys", "close"}


async def main():
    loop = asyncio.get_running_loop()
    peer = Peer()
    while True:
        line = await loop.run_in_executor(None, sys.stdin.buffer.readline)
        if not line:
            break
        line = line.strip()
        if not line:
            continue
        rid = None
        try:
            req = json.loads(line)
            rid = req.get("id")
            op = req.get("op")
            if op not in OPS:
                raise ValueError(f"unknown op {op!r}")
            answer = {"id": rid, "ok": True, "result": await getattr(peer, op)(req)}
        except Exception as error:  # noqa: BLE001 - every failure becomes an answer
            traceback.print_exc(file=sys.stderr)
            answer = {"id": rid, "ok": False, "type": type(error).__name__, "error": str(error)}
        sys.stdout.write(json.dumps(answer, separators=(",", ":")) + "\n")
        sys.stdout.flush()
        if req.get("op") == "close":
            break
    await peer.close({})


if __name__ == "__main__":
    asyncio.run(main())
