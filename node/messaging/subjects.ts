// Subjects as NATS has them: dot-separated tokens; in a subscription `*` stands for one token and a final `>` for one or more.

/** The longest subject, in UTF-8 bytes. */
export const MAX_SUBJECT_BYTES = 256

// no whitespace or control characters in a token, as NATS refuses them
const BAD_CHAR = /[\s\u0000-\u001f\u007f]/ // eslint-disable-line no-control-regex

function tokensProblem (subject: string, maxBytes: number): string | undefined {
  const bytes = Buffer.byteLength(subject)
  if (bytes === 0) return 'a subject must not be empty'
  if (bytes > maxBytes) return `subject is ${bytes} bytes, the most is ${maxBytes}`
  if (BAD_CHAR.test(subject)) return `subject ${JSON.stringify(subject)} has whitespace or a control character`
  if (subject.split('.').some(t => t === '')) return `subject ${JSON.stringify(subject)} has an empty token (leading, trailing or double '.')`
  return undefined
}

/** Why `subject` cannot be published to (wildcards are for subscriptions only), or undefined. */
export function publishSubjectProblem (subject: string, maxBytes = MAX_SUBJECT_BYTES): string | undefined {
  const why = tokensProblem(subject, maxBytes)
  if (why !== undefined) return why
  if (subject.split('.').some(t => t === '*' || t === '>')) return `subject ${JSON.stringify(subject)} has a wildcard: publish to a concrete subject`
  return undefined
}

/** Why `pattern` is not a subscription subject, or undefined: `*` must be a whole token, `>` a whole last token. */
export function subscriptionProblem (pattern: string, maxBytes = MAX_SUBJECT_BYTES): string | undefined {
  const why = tokensProblem(pattern, maxBytes)
  if (why !== undefined) return why
  const tokens = pattern.split('.')
  for (let i = 0; i < tokens.length; i++) {
    const t = tokens[i]
    if (t === '>' && i !== tokens.length - 1) return `subscription ${JSON.stringify(pattern)}: '>' may only be the last token`
    if (t !== '*' && t !== '>' && (t.includes('*') || t.includes('>'))) return `subscription ${JSON.stringify(pattern)}: '*' and '>' must be whole tokens`
  }
  return undefined
}

/** Whether a concrete subject matches a subscription pattern. */
export function subjectMatches (pattern: string, subject: string): boolean {
  const p = pattern.split('.')
  const s = subject.split('.')
  for (let i = 0; i < p.length; i++) {
    if (p[i] === '>') return s.length > i
    if (i >= s.length) return false
    if (p[i] !== '*' && p[i] !== s[i]) return false
  }
  return p.length === s.length
}
