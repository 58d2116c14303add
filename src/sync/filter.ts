/**
 * The sync filter: only what the memory needs. Uploaded once per user and remembered in the Store
 * (with the filter itself, so a changed filter is uploaded again).
 * Spec: https://spec.matrix.org/v1.19/client-server-api/#filtering
 */
import type { HttpClient } from "../http/client.js";
import { createFilter, type SyncFilter } from "../http/endpoints/sync/create-filter.js";
import type { Store } from "../store/store.js";
import { STORE_KEYS } from "./store-keys.js";

/**
 * - Joined rooms' state (every member: lazy_load_members false, so membership and power checks are
 *   exact) and timeline (state events, redactions and, for the encrypted format, the value events).
 * - No presence, no ephemeral events (typing, receipts), no account data, no left rooms' history.
 * - to_device and device_lists are not filterable: they always come, for the crypto layer.
 */
export const SYNC_FILTER: SyncFilter = {
  presence: { not_types: ["*"] },
  account_data: { not_types: ["*"] },
  room: {
    include_leave: false,
    state: { lazy_load_members: false },
    timeline: { limit: 100, lazy_load_members: false },
    ephemeral: { not_types: ["*"] },
    account_data: { not_types: ["*"] },
  },
};

interface SavedFilter {
  userId: string;
  filter: string;
  filterId: string;
}

/** The filter ID for `userId`: from the Store when the same filter was uploaded before, else uploaded now. */
export async function ensureFilter(http: HttpClient, store: Store, userId: string, filter: SyncFilter = SYNC_FILTER, signal?: AbortSignal): Promise<string> {
  const wanted = JSON.stringify(filter);
  const raw = await store.get(STORE_KEYS.filter);
  if (raw !== undefined) {
    try {
      const saved = JSON.parse(raw) as SavedFilter;
      if (saved.userId === userId && saved.filter === wanted && typeof saved.filterId === "string") return saved.filterId;
    } catch {
      // An unreadable entry: upload again and overwrite it.
    }
  }
  const { filter_id } = await http.send(createFilter, { userId, filter }, signal ? { signal } : {});
  const saved: SavedFilter = { userId, filter: wanted, filterId: filter_id };
  await store.set(STORE_KEYS.filter, JSON.stringify(saved));
  return filter_id;
}
