// The HTTP gateway and the wasi:http mapping: the interfaces and factories the node and the command use.
export { createGateway, parseListen } from './gateway.ts'
export type { Gateway, GatewayInit, GatewayStats } from './gateway.ts'
export { parseRoute, checkRoutes, matchRoute, describeTarget } from './routes.ts'
export type { Route, RouteTarget } from './routes.ts'
export { defaultHttpLimits } from './limits.ts'
export type { HttpLimits } from './limits.ts'
export { HttpError } from './errors.ts'
export type { HttpErrorCode } from './errors.ts'
export { serveHttp } from './serve.ts'
export type { WireRequest, WireResponse } from './serve.ts'
export { HTTP_HANDLER_IFACE, httpHandlerInterface, httpWitText } from './wit.ts'
export type { WireFields, FieldEntries } from './fields.ts'

/** What `NodeInit.http` takes: the gateway of a node (any node can be one; it needs no component of its own). */
export interface HttpGatewayConfig {
  /** `host:port` of the HTTP/1.1 listener. */
  readonly listen: string
  /** Routes (`parseRoute`); none: every request to any server of the handler interface. */
  readonly routes?: readonly import('./routes.ts').Route[]
}
