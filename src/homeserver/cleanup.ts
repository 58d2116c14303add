/**
 * Never leave a Synapse behind: every homeserver this process owns is registered here and is
 * killed (and its temporary dir removed) when the process exits, is interrupted, or dies of an
 * uncaught exception. Handlers are installed once, on first use.
 */
import { rmSync } from "node:fs";

export interface Owned {
  pid(): number | undefined;
  /** Temp dir to delete, if the homeserver created it. */
  tempDir: string | undefined;
  /** Graceful async stop, used on SIGINT/SIGTERM. */
  stop(): Promise<void>;
}

const owned = new Set<Owned>();
let installed = false;

export function own(entry: Owned): void {
  install();
  owned.add(entry);
}

export function disown(entry: Owned): void {
  owned.delete(entry);
}

/** Synchronous last resort ('exit' runs no async code): SIGKILL, then remove the temp dir. */
function killAllNow(): void {
  for (const entry of owned) {
    const pid = entry.pid();
    if (pid !== undefined) {
      try {
        process.kill(pid, "SIGKILL");
      } catch {
        // already gone
      }
    }
    if (entry.tempDir) rmSync(entry.tempDir, { recursive: true, force: true });
  }
  owned.clear();
}

function install(): void {
  if (installed) return;
  installed = true;
  process.on("exit", killAllNow);
  // A monitor does not change Node's crash behaviour; it only lets us clean up first.
  process.on("uncaughtExceptionMonitor", killAllNow);
  for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"] as const) {
    process.once(signal, () => {
      const stops = [...owned].map((e) => e.stop().catch(() => {}));
      const timer = setTimeout(killAllNow, 10_000);
      void Promise.all(stops).finally(() => {
        clearTimeout(timer);
        killAllNow();
        // Re-raise so the process ends as the signal meant (exit code 128+n), unless someone else handles it.
        if (process.listenerCount(signal) === 0) process.kill(process.pid, signal);
      });
    });
  }
}
