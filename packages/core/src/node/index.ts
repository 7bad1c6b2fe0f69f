/**
 * `@openchs-bridge/core/node`: the bridge on Node's `node:http`. `toNodeListener(bridge.handler)` is
 * a `(req, res)` listener for `http.createServer`, express or any Node framework;
 * `createUndiciTransport()` sends the upstream clients' calls through undici's pooled `request`
 * (`undici`, an optional peer dependency, must then be installed). A separate entry
 * point, so that `@openchs-bridge/core` itself stays runtime-neutral (lint-enforced: only this folder
 * and the stores may import `node:` modules), and so that a Node host needs no other package of ours.
 *
 * @example
 * ```ts
 * import { createServer } from "node:http";
 * import { toNodeListener } from "@openchs-bridge/core/node";
 *
 * createServer(toNodeListener(bridge.handler)).listen(8080);
 * ```
 *
 * @packageDocumentation
 */
export { type NodeListenerOptions, toNodeListener, type WebHandler } from "./node-listener";
export { createUndiciTransport, type UndiciTransportOptions } from "./undici-transport";
