// Public entry of the WIT front end: parse a set of WIT sources into the resolved model and look things up in it.

import { defaultWitLimits, parseFile } from './parser.ts'
import type { WitLimits } from './parser.ts'
import { Resolver } from './resolver.ts'
import type { Wit } from './model.ts'
import { functionOf, witFromPackages } from './lookup.ts'

export type * from './model.ts'
export { WitSyntaxError, WitResolveError } from './errors.ts'
export type { WitErrorCode, WitLocation } from './errors.ts'
export { defaultWitLimits }
export type { WitLimits }
export { printType, printFunc, printInterface, printWorld, printPackage, printWit } from './print.ts'
export { functionOf, witFromPackages }
export { decodeComponentWit, ComponentDecodeError, defaultComponentWitLimits, rootWorldId } from './binary.ts'
export type { ComponentDecodeErrorCode, ComponentWitLimits } from './binary.ts'

/**
 * Parses and resolves a set of WIT sources (file name -> text) into one model holding every
 * package of the set. Files may share a package (each repeating its `package` header, or leaving
 * it out when another file in the same folder, or else the only header of the set, names it),
 * hold several packages as `package x:y@v { ... }` blocks, and refer to packages defined later.
 *
 * Lookups by id accept the version left out when exactly one version is present; when several
 * versions are present an unversioned id is ambiguous and finds nothing (undefined).
 *
 * Throws WitSyntaxError (`wit-syntax`) or WitResolveError (`wit-resolve`) with file, line, column.
 */
export function parseWit (files: Readonly<Record<string, string>>, limits: Partial<WitLimits> = {}): Wit {
  const effective: WitLimits = { ...defaultWitLimits, ...limits }
  const asts = Object.entries(files).map(([name, text]) => parseFile(name, text, effective))
  return witFromPackages(new Resolver().resolve(asts))
}
