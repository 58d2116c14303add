/**
 * The HTTP layer's public pieces: the client, its errors and seams, and the endpoint catalogue.
 * Endpoints are values (./endpoint.ts); pass one to HttpClient.send with its args.
 */
export { HttpClient, type Answer, type CallOptions, type HttpClientOptions } from "./client.js";
export { AbortedError, HttpError, isMatrixError, isMxdbError, MatrixError, MxdbError, ResponseShapeError, TransportError, TransportRefusedError } from "./errors.js";
export { CLIENT_V1, CLIENT_V3, endpoint, MEDIA_V3, seg, type ArgsOf, type Endpoint, type RawBody, type RequestParts, type ResOf } from "./endpoint.js";
export { backoffDelay, DEFAULT_RETRY, parseRetryAfter, type RetryPolicy } from "./retry.js";
export { appendix, cs, SPEC, SPEC_VERSION } from "./spec.js";
export { memoryTraceSink, REDACTED, tracingTransport, type TraceRecord, type TraceSink } from "./trace.js";
// Node-only pieces (undiciTransport, fileTraceSink) are exported by src/node.ts, not here.
export { defaultTransport, fetchTransport, lazyTransport, type ClosableTransport } from "./transport.js";
export { detectRuntime, RUNTIME, type RuntimeName } from "./runtime.js";
export { TxnIds } from "./txn.js";
export { systemClock, type Clock, type HttpRequest, type HttpResponse, type Method, type Transport } from "./types.js";
export { registerWithDummyAuth, RegistrationFlowError, uiaFromError } from "./register-flow.js";

// The endpoint catalogue, one value per endpoint.
export * from "./endpoints/schemas.js";
export { getVersions, versionsResponse } from "./endpoints/server/versions.js";
export { login, loginResponse, type LoginArgs, type LoginResponse } from "./endpoints/account/login.js";
export { register, registerResponse, uiaResponse, type RegisterArgs, type RegisterResponse, type UiaResponse } from "./endpoints/account/register.js";
export { whoami, whoamiResponse } from "./endpoints/account/whoami.js";
export { logout } from "./endpoints/account/logout.js";
export { createRoom, createRoomResponse, type CreateRoomArgs, type InitialStateEvent } from "./endpoints/rooms/create-room.js";
export { join, joinResponse, type JoinArgs } from "./endpoints/rooms/join.js";
export { resolveAlias, resolveAliasResponse, type ResolveAliasArgs } from "./endpoints/rooms/resolve-alias.js";
export { joinedMembers, joinedMembersResponse, type JoinedMembersArgs } from "./endpoints/rooms/joined-members.js";
export { leave, type LeaveArgs } from "./endpoints/rooms/leave.js";
export { getAllState, allStateResponse, type GetAllStateArgs } from "./endpoints/state/get-all-state.js";
export { getStateContent, getStateEvent, type GetStateArgs } from "./endpoints/state/get-state.js";
export { putState, type PutStateArgs } from "./endpoints/state/put-state.js";
export { send, type SendArgs } from "./endpoints/events/send.js";
export { getEvent, type GetEventArgs } from "./endpoints/events/get-event.js";
export { redact, redactResponse, type RedactArgs } from "./endpoints/events/redact.js";
export { messages, messagesResponse, type MessagesArgs } from "./endpoints/events/messages.js";
export { context, contextResponse, type ContextArgs } from "./endpoints/events/context.js";
export { timestampToEvent, timestampToEventResponse, type TimestampToEventArgs } from "./endpoints/events/timestamp-to-event.js";
export { crossSigningKey, deviceKeys, oneTimeKey, signatures, type DeviceKeys } from "./endpoints/keys/device-keys.js";
export { uploadKeys, uploadKeysResponse, type UploadKeysArgs } from "./endpoints/keys/upload-keys.js";
export { queryKeys, queryKeysResponse, type QueryKeysArgs } from "./endpoints/keys/query-keys.js";
export { claimKeys, claimKeysResponse, type ClaimKeysArgs } from "./endpoints/keys/claim-keys.js";
export { deviceSigningUpload, signaturesUpload, signaturesUploadResponse, type DeviceSigningUploadArgs, type PasswordAuth } from "./endpoints/keys/cross-signing.js";
export { keyChanges, keyChangesResponse, type KeyChangesArgs } from "./endpoints/keys/key-changes.js";
export { sendToDevice, type SendToDeviceArgs } from "./endpoints/to-device/send-to-device.js";
export { upload, uploadResponse, type UploadArgs } from "./endpoints/media/upload.js";
export { download, parseMxc, type DownloadArgs } from "./endpoints/media/download.js";
export { mediaConfig, mediaConfigResponse } from "./endpoints/media/config.js";
export { getAccountData, putAccountData, type AccountDataArgs } from "./endpoints/account/account-data.js";
export { backupVersionResponse, createBackupVersion, getBackupVersion, type CreateBackupVersionArgs } from "./endpoints/room-keys/version.js";
export { getRoomKeys, putRoomKeys, roomKeysBody, type PutRoomKeysArgs } from "./endpoints/room-keys/keys.js";
