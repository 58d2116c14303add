/**
 * opsdroid's DatabaseMatrix with encryption on (ConnectorMatrix enable_encryption + nio's crypto store,
 * should_encrypt true): test/interop/opsdroid_e2ee_driver.py in the venv `.venv/opsdroid-e2ee`, pinned by
 * test/interop/requirements-opsdroid-e2ee.txt (opsdroid's connector-matrix-e2e extra, python-olm included).
 * Same protocol as test/helpers/opsdroid.ts, plus the "sync" op (what opsdroid's listen loop does).
 */
import { join } from "node:path";
import { ensureVenv, projectRoot, readRequirements, type Venv } from "../../src/homeserver/venv.js";
import { startOpsdroid, type OpsdroidDriver, type OpsdroidInit, type OpsdroidOptions } from "./opsdroid.js";

export const OPSDROID_E2EE_REQUIREMENTS = join(projectRoot(), "test", "interop", "requirements-opsdroid-e2ee.txt");
export const OPSDROID_E2EE_DRIVER = join(projectRoot(), "test", "interop", "opsdroid_e2ee_driver.py");

export function ensureOpsdroidE2eeVenv(onProgress?: (line: string) => void): Promise<Venv> {
  const packages = readRequirements(OPSDROID_E2EE_REQUIREMENTS);
  return ensureVenv({ name: "opsdroid-e2ee", packages, ...(onProgress ? { onProgress } : {}) });
}

/** Needs `password` and `store_path` in `init` (see the driver's docstring). */
export function startEncryptedOpsdroid(init: OpsdroidInit & { password: string; store_path: string }, options: OpsdroidOptions = {}): Promise<OpsdroidDriver> {
  return startOpsdroid(
    { should_encrypt: true, ...init },
    { onProgress: (line) => process.stderr.write(`# ${line}\n`), ...options, driver: { script: OPSDROID_E2EE_DRIVER, venv: ensureOpsdroidE2eeVenv } },
  );
}
