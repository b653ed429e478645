// Typed errors of applications: manifests that do not parse or ask for what the mesh does not do, records that do not verify.

export type AppErrorCode =
  | 'invalid-manifest'        // not a wadm OAM Application (YAML, apiVersion, kind, names, fields of the wrong type)
  | 'manifest-too-large'      // over maxAppManifestBytes, maxAppComponents, maxAppReplicas or maxAppSpreads
  | 'unsupported'             // a wadm feature the mesh does not implement, named in the message (never silently ignored)
  | 'unsupported-capability'  // a capability image that maps onto no built-in provider
  | 'invalid-record'          // an app record (deploy or undeploy) that does not decode
  | 'bad-signature'           // an app record whose signature does not verify with its deployer's key (forged or altered)
  | 'not-allowed'             // the node's policy does not let this deployer deploy or undeploy
  | 'stale'                   // an app record no newer than the one held (a replay, or an older version)
  | 'no-such-app'             // no app of that name is deployed
  | 'not-delivered'           // no node of the mesh took the record

export class AppError extends Error {
  override readonly name = 'AppError'
  readonly code: AppErrorCode

  constructor (code: AppErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options)
    this.code = code
  }
}
