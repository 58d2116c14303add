/**
 * Who we are: an access token checked with whoami, or a password login that keeps its device ID
 * in the store so the device (and later its encryption keys) survives restarts.
 * https://spec.matrix.org/v1.19/client-server-api/#post_matrixclientv3login
 * https://spec.matrix.org/v1.19/client-server-api/#get_matrixclientv3accountwhoami
 */
import type { HttpClient } from "../http/client.js";
import { login } from "../http/endpoints/account/login.js";
import { whoami } from "../http/endpoints/account/whoami.js";
import type { Store } from "../store/store.js";
import { ConfigError } from "./errors.js";

const KEY_USER = "session/user_id";
const KEY_DEVICE = "session/device_id";

export interface Session {
  userId: string;
  deviceId: string | undefined;
}

export async function openSession(
  http: HttpClient,
  store: Store,
  opts: { accessToken?: string; userId?: string; password?: string; deviceId?: string },
): Promise<Session> {
  const storedUser = await store.get(KEY_USER);
  let session: Session;
  if (opts.accessToken === undefined) {
    const storedDevice = storedUser === opts.userId ? await store.get(KEY_DEVICE) : undefined;
    const res = await http.send(login, {
      user: opts.userId!,
      password: opts.password!,
      deviceId: opts.deviceId ?? storedDevice,
      initialDeviceDisplayName: "mxdb",
    });
    http.setAccessToken(res.access_token);
    session = { userId: res.user_id, deviceId: res.device_id };
  } else {
    const me = await http.send(whoami, undefined);
    if (opts.userId !== undefined && opts.userId !== me.user_id) {
      throw new ConfigError(`the access token belongs to ${me.user_id}, not ${opts.userId}`);
    }
    session = { userId: me.user_id, deviceId: me.device_id ?? opts.deviceId };
  }
  if (storedUser !== undefined && storedUser !== session.userId) {
    // Sync tokens and crypto state of one account must never be read as another's.
    throw new ConfigError(`the store belongs to ${storedUser}, not ${session.userId}: use a store per account`);
  }
  await store.setMany({ [KEY_USER]: session.userId, [KEY_DEVICE]: session.deviceId });
  return session;
}
