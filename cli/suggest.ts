// "Did you mean ...?": the known names closest to a mistyped one, for unknown commands, flags and interfaces.

/** Levenshtein distance, capped: past `max` the exact figure does not matter. */
function distance (a: string, b: string, max: number): number {
  if (Math.abs(a.length - b.length) > max) return max + 1
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j)
  for (let i = 1; i <= a.length; i++) {
    const row = [i]
    for (let j = 1; j <= b.length; j++) {
      row[j] = Math.min(prev[j] + 1, row[j - 1] + 1, prev[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1))
    }
    prev = row
  }
  return prev[b.length]
}

/**
 * The candidates nearest to the word, if within a third of its length in edits (at least 1, at most 3), at most
 * `limit`; a candidate that starts with the word (a flag cut short) counts as one edit away.
 */
export function closest (word: string, candidates: Iterable<string>, limit = 3): string[] {
  const max = Math.min(3, Math.max(1, Math.floor(word.length / 3)))
  const scored: Array<[string, number]> = []
  for (const c of new Set(candidates)) {
    if (c === word) continue
    const d = c.startsWith(word) && word.length >= 3 ? 1 : distance(word, c, max)
    if (d <= max) scored.push([c, d])
  }
  // Only the nearest tier: --version for --versoin, not --verbose as well.
  const best = Math.min(...scored.map(([, d]) => d))
  return scored.filter(([, d]) => d === best).sort((x, y) => x[0].localeCompare(y[0])).slice(0, limit).map(([c]) => c)
}

/** ` (did you mean a or b?)`, or '' when nothing is close. */
export function didYouMean (word: string, candidates: Iterable<string>): string {
  const names = closest(word, candidates)
  return names.length === 0 ? '' : `; did you mean ${names.join(' or ')}?`
}
