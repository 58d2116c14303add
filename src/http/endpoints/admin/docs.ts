/**
 * Synapse's admin API is not part of the Matrix spec; these endpoints link to Synapse's own docs
 * (element-hq/synapse docs/admin_api/*.md, rendered at element-hq.github.io/synapse).
 */
export const SYNAPSE_DOCS = "https://element-hq.github.io/synapse/latest";
export const ADMIN_V1 = "/_synapse/admin/v1";

export function synapseDocs(page: string): string {
  return `${SYNAPSE_DOCS}/${page}`;
}
