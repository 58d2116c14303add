/**
 * One spec version for every link in the project (docs/STYLE.md "One spec version for every link").
 * Links point at the rendered Client-Server API;
 * `cs("#put_matrixclientv3roomsroomidstateeventtypestatekey")` gives the section.
 */
export const SPEC_VERSION = "v1.19";
export const SPEC = `https://spec.matrix.org/${SPEC_VERSION}`;
export const CS_API = `${SPEC}/client-server-api/`;

/** A link to a section of the Client-Server API. */
export function cs(anchor: string): string {
  return `${CS_API}${anchor.startsWith("#") ? anchor : `#${anchor}`}`;
}

/** A link to a section of the appendices (canonical JSON, signing, identifier grammar). */
export function appendix(anchor: string): string {
  return `${SPEC}/appendices/${anchor.startsWith("#") ? anchor : `#${anchor}`}`;
}
