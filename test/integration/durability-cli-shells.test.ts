/**
 * Issue 10, "on the real, stock Synapse": two "shells" run `mxdb put` commands at the same time,
 * one after another in each shell (each command exits when its put is done), into one shared state
 * key. Every command that exited 0 acknowledged its value, and every such value must survive:
 * compared with the server's state and with a fresh reader's picture. Fresh users, sessions
 * (`mxdb login`, one MXDB_HOME per shell) and room per run; Synapse's default rate limits.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync } from "node:fs";
import { join } from "node:path";
import { compareAcked, describeLost, durabilitySuite, lostByWriter, readerValues, serverValues } from "../helpers/durability.js";
import type { TestUser } from "../helpers/homeserver.js";
import { sharedRoom } from "../helpers/rooms.js";
import { mxdb } from "../helpers/spawn-writers.js";

const CLI_RUNS = 2;
const CLI_PER_SHELL = 20;

const suite = durabilitySuite({ scratch: "mxdb-cli-shells-" });

test("two shells running `mxdb put` commands at the same time into one state key: every exit-0 put survives", { timeout: 400_000 }, async (t) => {
  const results: Array<{ kept: number; total: number; lost: number; readerLost: number; failed: number }> = [];
  for (let run = 1; run <= CLI_RUNS; run++) {
    const [owner, alice, bob, reader] = await suite.users("owner", "alice", "bob", "reader");
    const roomId = await sharedRoom(owner, [alice, bob, reader]);
    const shell = async (by: string, u: TestUser) => {
      const home = mkdtempSync(join(suite.scratch, `shell-${by}-`));
      const login = await mxdb(home, ["login", "--homeserver", suite.hs.baseUrl, "--user", u.userId, "--password", u.password, "--room", roomId]);
      assert.equal(login.code, 0, login.stderr);
      const acked: Record<string, unknown> = {};
      let failed = 0;
      // One command after another, as a shell runs them; each exits when its put is done.
      for (let i = 0; i < CLI_PER_SHELL; i++) {
        const key = `${by}-${i}`;
        const value = { by, i, run };
        const r = await mxdb(home, ["put", key, JSON.stringify(value)]);
        if (r.code === 0) acked[key] = value;
        else failed++, t.diagnostic(`shell ${by} put ${key} exited ${r.code}: ${r.stderr.trim()}`);
      }
      return { acked, failed };
    };
    const started = Date.now();
    const shells = await Promise.all([shell("s1", alice), shell("s2", bob)]);
    const elapsed = Date.now() - started;
    const acked = Object.assign({}, ...shells.map((s) => s.acked)) as Record<string, unknown>;
    const server = await serverValues(reader, roomId);
    const onServer = compareAcked(acked, server);
    const seen = compareAcked(acked, await readerValues(suite.hs, reader, roomId, true));
    const rejected = shells.reduce((n, s) => n + s.failed, 0);
    t.diagnostic(
      `CLI run ${run}: kept ${onServer.kept}/${2 * CLI_PER_SHELL} (acknowledged ${onServer.total}, acknowledged-but-lost ${onServer.lost.length}: ${lostByWriter(onServer, ["s1", "s2"])}), fresh reader ${seen.kept}/${seen.total}, ` +
        `failed commands ${rejected}, ${(elapsed / 1000).toFixed(1)} s` + (onServer.lost.length ? `; e.g. ${describeLost(onServer, acked, server, 3)}` : ""),
    );
    results.push({ kept: onServer.kept, total: 2 * CLI_PER_SHELL, lost: onServer.lost.length, readerLost: seen.lost.length, failed: rejected });
  }
  const lost = results.reduce((n, r) => n + r.lost, 0);
  t.diagnostic(`kept/total per run: ${results.map((r) => `${r.kept}/${r.total}`).join(", ")}; acknowledged-but-lost over all runs: ${lost}`);
  assert.deepEqual(results, results.map((r) => ({ kept: r.total, total: r.total, lost: 0, readerLost: 0, failed: 0 })));
});
