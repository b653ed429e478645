// The JS names jco gives WIT names (functions, methods, record fields, flags, resource classes): one rule for every caller.

/** The words of a WIT name: `%` (the keyword escape) dropped, split at `-` (`get-HTTP-body` -> get, HTTP, body). */
function words (name: string): string[] {
  return (name.startsWith('%') ? name.slice(1) : name).split('-')
}

function capitalised (word: string): string {
  return word.length === 0 ? '' : word[0].toUpperCase() + word.slice(1).toLowerCase()
}

/**
 * The JS name of a function, method, record field or flag: lower camel case, the first word lowercased
 * and every later one capitalised (`first-name` -> `firstName`, `get-HTTP-body` -> `getHttpBody`,
 * `utf8-text` -> `utf8Text`, `%type` -> `type`), as jco's bindgen does with heck's `to_lower_camel_case`
 * (checked against jco-transpile 0.15's output).
 */
export function toJsName (name: string): string {
  const w = words(name)
  let out = w[0].toLowerCase()
  for (let i = 1; i < w.length; i++) out += capitalised(w[i])
  return out
}

/** The JS name of a resource class: upper camel case (`bucket-list` -> `BucketList`, `HTTP-client` -> `HttpClient`). */
export function toJsClassName (name: string): string {
  return words(name).map(capitalised).join('')
}
