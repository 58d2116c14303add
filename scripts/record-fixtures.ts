/**
 * Record fixtures/http/<group>/<endpoint>.<case>.json from a real Synapse (src/homeserver), so unit
 * tests can check the zod schemas against what a real server says.
 *
 *   npx tsx scripts/record-fixtures.ts            start a throwaway Synapse, record, stop it
 *
 * Each fixture holds the endpoint's name, the args it was called with, the request (method, path
 * with query, JSON body) and the response (status, the headers of interest, the body). IDs and
 * tokens are replaced by stable placeholders (`!ROOM1`, `$EVENT3`, `<access_token:2>`),
 * in their percent-encoded form inside paths too, so a re-recording only changes what Synapse changed.
 * Passwords never reach a fixture. Hand-written fixtures say `"recorded": false` and are left alone.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import Olm from "@matrix-org/olm";
import { HttpClient } from "../src/http/client.js";
import type { Endpoint } from "../src/http/endpoint.js";
import { HttpError, MatrixError } from "../src/http/errors.js";
import * as api from "../src/http/index.js";
import { redactBodyText } from "../src/http/trace.js";
import type { HttpRequest, HttpResponse, Transport } from "../src/http/types.js";
import { undiciTransport } from "../src/http/undici-transport.js";
import { Homeserver } from "../src/homeserver/synapse.js";
import { projectRoot } from "../src/homeserver/venv.js";

const OUT = join(projectRoot(), "fixtures", "http");
const HEADERS_OF_INTEREST = ["content-type", "retry-after"];
const decoder = new TextDecoder();

/** Real value → placeholder, applied to every text that goes into a fixture. */
const placeholders = new Map<string, string>();
let events = 0;
let rooms = 0;
let counter = 0;

function learn(real: string | undefined, placeholder: string | (() => string)): void {
  if (real && !placeholders.has(real)) placeholders.set(real, typeof placeholder === "string" ? placeholder : placeholder());
}

/**
 * Learn event and room IDs by their shape: `$` + 43 url-safe base64 (room v4+ event IDs); `!` + 43
 * (room v12 room IDs, the hash of the create event: Synapse 1.163 creates v12 rooms by default) or
 * `!` + 18 letters + `:localhost` (older room versions).
 */
function sweep(text: string): void {
  for (const m of text.matchAll(/(?:\$|%24)([A-Za-z0-9_-]{43})/g)) learn(`$${m[1]}`, () => `$EVENT${++events}`);
  for (const m of text.matchAll(/!([A-Za-z0-9_-]{43}|[A-Za-z]{18}:localhost)/g)) learn(m[0], () => `!ROOM${++rooms}`);
}

/** Learn the secrets and IDs an answer introduces (top-level fields), before anything is written. */
function learnFromAnswer(text: string): void {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    return;
  }
  if (!json || typeof json !== "object" || Array.isArray(json)) return;
  const o = json as Record<string, unknown>;
  const str = (v: unknown) => (typeof v === "string" ? v : undefined);
  learn(str(o.session), () => `<uia_session:${++counter}>`);
  learn(str(o.access_token), () => `<access_token:${++counter}>`);
  learn(str(o.refresh_token), () => `<refresh_token:${++counter}>`);
  if (str(o.device_id) && !/DEV$/.test(str(o.device_id)!)) learn(str(o.device_id), () => `DEVICE${++counter}`);
  learn(str(o.content_uri)?.split("/").pop(), () => `MEDIA${++counter}`);
}

function normalise(text: string): string {
  sweep(text);
  let out = text;
  // Longest first, so a token is not half-replaced by a shorter value inside it.
  for (const [real, ph] of [...placeholders].sort((a, b) => b[0].length - a[0].length)) {
    out = out.split(real).join(ph).split(encodeURIComponent(real)).join(encodeURIComponent(ph));
  }
  return out;
}

/** The last exchange, as the transport saw it. */
let last: { req: HttpRequest; res: HttpResponse } | undefined;
/** A function, so TypeScript does not narrow `last` across the awaited call. */
const lastExchange = () => last;
function recordingTransport(inner: Transport): Transport {
  return async (req) => {
    const res = await inner(req);
    last = { req, res };
    return res;
  };
}

/** Strings longer than this are written as `<N × c>` in args and request bodies (the 413 case). */
const LONG = 1000;
const abbreviate = (_key: string, v: unknown) =>
  v instanceof Uint8Array ? `<${v.byteLength} bytes>` : typeof v === "string" && v.length > LONG ? `<${v.length} × ${v[0]}>` : v;

function fixture(ep: Endpoint<any, any>, args: unknown, exchange: { req: HttpRequest; res: HttpResponse }) {
  const url = new URL(exchange.req.url);
  const reqText = exchange.req.body && exchange.req.headers["content-type"] === "application/json" ? redactBodyText(decoder.decode(exchange.req.body)) : undefined;
  const resText = decoder.decode(exchange.res.body);
  let body: unknown;
  let bodyText: string | undefined;
  try {
    body = JSON.parse(normalise(resText));
  } catch {
    bodyText = normalise(resText);
  }
  const headers = Object.fromEntries(HEADERS_OF_INTEREST.filter((h) => exchange.res.headers[h] !== undefined).map((h) => [h, exchange.res.headers[h]!]));
  return {
    recorded: true,
    endpoint: ep.name,
    args: args === undefined ? null : JSON.parse(normalise(redactBodyText(JSON.stringify(args, abbreviate)))),
    request: {
      method: exchange.req.method,
      path: normalise(url.pathname + url.search),
      ...(reqText !== undefined ? { body: JSON.parse(normalise(JSON.stringify(JSON.parse(reqText), abbreviate))) } : {}),
    },
    response: { status: exchange.res.status, headers, ...(bodyText !== undefined ? { bodyText } : { body }) },
  };
}

const written: string[] = [];
/** Call `ep`, then write its exchange as `<group>/<file>.<kase>.json`; errors are recorded, not thrown. */
async function rec<A, R>(client: HttpClient, group: string, file: string, kase: string, ep: Endpoint<A, R>, args: A): Promise<R | undefined> {
  last = undefined;
  let value: R | undefined;
  try {
    value = await client.send(ep, args, { retry: false });
  } catch (error) {
    if (!(error instanceof MatrixError || error instanceof HttpError)) throw error;
  }
  const exchange = lastExchange();
  if (!exchange) throw new Error(`no exchange recorded for ${ep.name}`);
  learnFromAnswer(decoder.decode(exchange.res.body));
  const path = join(OUT, group, `${file}.${kase}.json`);
  mkdirSync(join(OUT, group), { recursive: true });
  writeFileSync(path, `${JSON.stringify(fixture(ep, args, exchange), null, 2)}\n`);
  written.push(`${group}/${file}.${kase}.json (${exchange.res.status})`);
  return value;
}

/** Canonical JSON for the small ASCII objects signed here (sorted keys, no spaces). */
function canonical(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonical).join(",")}]`;
  if (value && typeof value === "object") {
    const obj = value as Record<string, unknown>;
    return `{${Object.keys(obj).sort().map((k) => `${JSON.stringify(k)}:${canonical(obj[k])}`).join(",")}}`;
  }
  return JSON.stringify(value);
}

async function main(): Promise<void> {
  const hs = await Homeserver.start({ rateLimits: "lifted", onProgress: (line) => process.stderr.write(`# ${line}\n`) });
  // The port changes every run: write the base URL as the conventional one.
  learn(hs.baseUrl, "http://127.0.0.1:8008");
  const transport = undiciTransport();
  const client = (token?: string) => new HttpClient({ baseUrl: hs.baseUrl, transport: recordingTransport(transport), ...(token ? { accessToken: token } : {}) });
  try {
    const anon = client();
    await rec(anon, "server", "versions", "ok", api.getVersions, undefined);

    // Register alice with the dummy flow, recording both steps.
    const password = "fixture-password-1";
    await rec(anon, "account", "register", "dummy-401", api.register, { username: "fixture-alice", password });
    const first = lastExchange()!;
    const uia = api.uiaFromError(new HttpError(first.res.status, decoder.decode(first.res.body)));
    await rec(anon, "account", "register", "ok", api.register, { username: "fixture-alice", password, auth: { type: "m.login.dummy", session: uia!.session! } });

    await rec(anon, "account", "login", "wrong-password", api.login, { user: "fixture-alice", password: "not-the-password" });
    const session = (await rec(anon, "account", "login", "ok", api.login, { user: "fixture-alice", password, deviceId: "ALICEDEV", initialDeviceDisplayName: "mxdb fixtures" }))!;
    const alice = client(session.access_token);
    await rec(alice, "account", "whoami", "ok", api.whoami, undefined);

    // Bob, registered the same way without recording.
    const bobReg = await api.registerWithDummyAuth(client(), { username: "fixture-bob", password, deviceId: "BOBDEV" });
    learn(bobReg.access_token, "<access_token:bob>");
    const bob = client(bobReg.access_token);

    // Rooms.
    const room = (await rec(alice, "rooms", "create-room", "ok", api.createRoom, { preset: "public_chat", name: "mxdb fixtures", room_alias_name: "mxdb-fixtures" }))!;
    await rec(alice, "rooms", "create-room", "encrypted", api.createRoom, {
      preset: "private_chat",
      initial_state: [{ type: "m.room.encryption", state_key: "", content: { algorithm: "m.megolm.v1.aes-sha2" } }],
    });
    await rec(anon, "rooms", "resolve-alias", "ok", api.resolveAlias, { roomAlias: "#mxdb-fixtures:localhost" });
    await rec(anon, "rooms", "resolve-alias", "not-found", api.resolveAlias, { roomAlias: "#no-such-alias:localhost" });
    await rec(bob, "rooms", "join", "ok", api.join, { roomIdOrAlias: "#mxdb-fixtures:localhost", via: ["localhost"] });
    await rec(alice, "rooms", "joined-members", "ok", api.joinedMembers, { roomId: room.room_id });

    // State: the KV store itself. A key with every awkward character, and the empty key.
    const key = "k/e#y?: \u00e9";
    const roomId = room.room_id;
    await rec(alice, "state", "get-state", "not-found", api.getStateContent, { roomId, eventType: "dev.opsdroid.database", stateKey: key });
    await rec(alice, "state", "put-state", "ok", api.putState, { roomId, eventType: "dev.opsdroid.database", stateKey: key, content: { value: "one" } });
    await rec(alice, "state", "put-state", "empty-key", api.putState, { roomId, eventType: "dev.opsdroid.database", stateKey: "", content: { a: 1, b: "two" } });
    await rec(alice, "state", "put-state", "replace", api.putState, { roomId, eventType: "dev.opsdroid.database", stateKey: key, content: { value: "two" } });
    await rec(alice, "state", "get-state", "ok", api.getStateContent, { roomId, eventType: "dev.opsdroid.database", stateKey: key });
    await rec(alice, "state", "get-state-event", "ok", api.getStateEvent, { roomId, eventType: "dev.opsdroid.database", stateKey: key });
    await rec(alice, "state", "put-state", "too-large", api.putState, { roomId, eventType: "dev.opsdroid.database", stateKey: "big", content: { v: "x".repeat(70_000) } });
    await rec(alice, "state", "get-all-state", "ok", api.getAllState, { roomId });

    // Events.
    const sent = (await rec(alice, "events", "send", "ok", api.send, { roomId, eventType: "dev.opsdroid.database", txnId: "fixture-txn-1", content: { key: "value" } }))!;
    await rec(alice, "events", "get-event", "ok", api.getEvent, { roomId, eventId: sent.event_id });
    await rec(alice, "events", "redact", "ok", api.redact, { roomId, eventId: sent.event_id, txnId: "fixture-txn-2", reason: "fixture" });
    await rec(alice, "events", "get-event", "redacted", api.getEvent, { roomId, eventId: sent.event_id });
    await rec(alice, "events", "get-event", "not-found", api.getEvent, { roomId, eventId: "$0000000000000000000000000000000000000000000" });
    await rec(alice, "events", "messages", "ok", api.messages, { roomId, dir: "b", limit: 5 });

    // Keys, with a real Olm account so Synapse sees well-formed signed keys.
    await Olm.init();
    const account = new Olm.Account();
    account.create();
    const ids = JSON.parse(account.identity_keys()) as { curve25519: string; ed25519: string };
    const userId = session.user_id;
    const deviceId = session.device_id;
    const sign = (obj: Record<string, unknown>) => ({ ...obj, signatures: { [userId]: { [`ed25519:${deviceId}`]: account.sign(canonical(obj)) } } });
    const deviceKeys = sign({
      user_id: userId,
      device_id: deviceId,
      algorithms: ["m.olm.v1.curve25519-aes-sha2", "m.megolm.v1.aes-sha2"],
      keys: { [`curve25519:${deviceId}`]: ids.curve25519, [`ed25519:${deviceId}`]: ids.ed25519 },
    });
    account.generate_one_time_keys(2);
    const otks = (JSON.parse(account.one_time_keys()) as { curve25519: Record<string, string> }).curve25519;
    const oneTimeKeys = Object.fromEntries(Object.entries(otks).map(([id, k]) => [`signed_curve25519:${id}`, sign({ key: k })]));
    await rec(alice, "keys", "upload-keys", "ok", api.uploadKeys, { device_keys: deviceKeys, one_time_keys: oneTimeKeys });
    account.free();
    await rec(bob, "keys", "query-keys", "ok", api.queryKeys, { deviceKeys: { [userId]: [] } });
    await rec(bob, "keys", "claim-keys", "ok", api.claimKeys, { oneTimeKeys: { [userId]: { [deviceId]: "signed_curve25519" } } });
    await rec(bob, "to-device", "send-to-device", "ok", api.sendToDevice, { eventType: "dev.mxdb.test", txnId: "fixture-txn-3", messages: { [userId]: { [deviceId]: { hello: "alice" } } } });

    // Media.
    await rec(alice, "media", "config", "ok", api.mediaConfig, undefined);
    await rec(alice, "media", "upload", "ok", api.upload, { bytes: new TextEncoder().encode("mxdb fixture bytes"), contentType: "text/plain", filename: "fixture.txt" });

    await rec(bob, "rooms", "leave", "ok", api.leave, { roomId });
    await rec(bob, "account", "logout", "ok", api.logout, undefined);
    process.stdout.write(`Synapse ${hs.info.version}: wrote ${written.length} fixtures under fixtures/http:\n${written.map((w) => `  ${w}`).join("\n")}\n`);
  } finally {
    await transport.close();
    await hs.stop();
  }
}

await main();
