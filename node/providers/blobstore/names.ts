// Container and object names as the blobstore provider takes them: one path segment each, never a way out of its root.

/** The longest name, in UTF-8 bytes: what one path segment may hold on ext4, xfs, btrfs and APFS. */
export const MAX_NAME_BYTES = 255

// Control characters (NUL included) and both path separators: a name is one segment on every platform.
const FORBIDDEN = /[\u0000-\u001f\u007f/\\]/ // eslint-disable-line no-control-regex

/**
 * Why `name` cannot be a container or object name, or undefined when it can. Refused: a non-string, the
 * empty string, over `MAX_NAME_BYTES` (or `maxBytes`) of UTF-8, `/`, `\`, NUL and other control
 * characters, and any name starting with `.` (`.`, `..` and the provider's own temporary files).
 * Lone surrogates cannot arrive: the wRPC string decoder refuses them.
 */
export function nameProblem (what: 'container' | 'object', name: unknown, maxBytes = MAX_NAME_BYTES): string | undefined {
  if (typeof name !== 'string') return `${what} name must be a string`
  const bytes = Buffer.byteLength(name)
  const shown = JSON.stringify(name.length > 64 ? `${name.slice(0, 64)}...` : name)
  if (bytes === 0) return `${what} name must not be empty`
  if (bytes > Math.min(maxBytes, MAX_NAME_BYTES)) return `${what} name ${shown} is ${bytes} bytes, the most is ${Math.min(maxBytes, MAX_NAME_BYTES)} (max-name-bytes)`
  if (FORBIDDEN.test(name)) return `${what} name ${shown} has '/', '\\' or a control character: a name is one path segment`
  if (name.startsWith('.')) return `${what} name ${shown} starts with '.': such names are reserved ('.', '..' and temporary files)`
  return undefined
}
