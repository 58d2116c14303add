/**
 * Registration through user-interactive auth with the `m.login.dummy` stage:
 * 1. POST /register without `auth`; the server answers 401 with `{session, flows, params}`.
 * 2. Check that some flow is just `["m.login.dummy"]` (otherwise the server wants a captcha, an
 *    email or a token, which mxdb cannot give).
 * 3. POST /register again with the same body plus `auth: {type: "m.login.dummy", session}`.
 * Spec: https://spec.matrix.org/v1.19/client-server-api/#user-interactive-authentication-api
 *       https://spec.matrix.org/v1.19/client-server-api/#dummy-auth
 */
import type { CallOptions, HttpClient } from "./client.js";
import { register, uiaResponse, type RegisterArgs, type RegisterResponse, type UiaResponse } from "./endpoints/account/register.js";
import { HttpError, MatrixError } from "./errors.js";

export class RegistrationFlowError extends Error {
  override readonly name = "RegistrationFlowError";
  readonly code = "REGISTRATION_FLOW";
  constructor(
    message: string,
    readonly uia: UiaResponse | undefined,
  ) {
    super(message);
  }
}

/** The UIA body of a 401 answer, or undefined when the error is something else. */
export function uiaFromError(error: unknown): UiaResponse | undefined {
  if (!(error instanceof HttpError || error instanceof MatrixError) || error.status !== 401) return undefined;
  let json: unknown;
  try {
    json = error instanceof HttpError ? JSON.parse(error.bodyText) : error.body;
  } catch {
    return undefined;
  }
  const parsed = uiaResponse.safeParse(json);
  return parsed.success ? parsed.data : undefined;
}

/** Register `username` with the dummy flow; the answer carries the new access token. */
export async function registerWithDummyAuth(client: HttpClient, args: Omit<RegisterArgs, "auth">, options: CallOptions = {}): Promise<RegisterResponse> {
  // 1. The first call must fail with the UIA 401.
  let uia: UiaResponse | undefined;
  try {
    return await client.send(register, args, options); // a server without UIA registers at once
  } catch (error) {
    uia = uiaFromError(error);
    if (uia === undefined) throw error;
  }
  // 2. The server must offer a flow we can complete.
  const dummyOnly = uia.flows.some((f) => f.stages.length === 1 && f.stages[0] === "m.login.dummy");
  if (!dummyOnly) throw new RegistrationFlowError(`the server offers no m.login.dummy flow (flows: ${JSON.stringify(uia.flows.map((f) => f.stages))})`, uia);
  if (uia.session === undefined) throw new RegistrationFlowError("the server's 401 carries no UIA session", uia);
  // 3. Complete the dummy stage in the same session.
  return client.send(register, { ...args, auth: { type: "m.login.dummy", session: uia.session } }, options);
}
