// A strict reader of the Prometheus text exposition format, written from the format's description, to check what /metrics serves.

export interface Sample {
  readonly name: string
  readonly labels: Record<string, string>
  readonly value: number
}

export interface Family {
  readonly name: string
  type?: string
  help?: string
  readonly samples: Sample[]
}

const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/
const TYPES = new Set(['counter', 'gauge', 'histogram', 'summary', 'untyped'])

/** Throws on the first line that is not valid exposition format, naming it. */
export function parseExposition (text: string): Map<string, Family> {
  if (!text.endsWith('\n')) throw new Error('the exposition must end with a line feed')
  const families = new Map<string, Family>()
  const lines = text.slice(0, -1).split('\n')
  lines.forEach((line, i) => {
    const fail = (why: string): never => { throw new Error(`line ${i + 1} ${JSON.stringify(line)}: ${why}`) }
    if (line.startsWith('#')) {
      const m = /^# (HELP|TYPE) (\S+) ?(.*)$/.exec(line)
      if (m === null) return // a plain comment
      const [, kind, name, rest] = m
      if (!NAME.test(name)) fail('bad metric name')
      let f = families.get(name)
      if (f === undefined) families.set(name, f = { name, samples: [] })
      if (kind === 'TYPE') {
        if (f.type !== undefined) fail('second TYPE line')
        if (f.samples.length > 0) fail('TYPE after samples')
        if (!TYPES.has(rest)) fail('unknown type')
        f.type = rest
      } else {
        if (f.help !== undefined) fail('second HELP line')
        if (/\\[^\\n]/.test(rest.replace(/\\\\/g, ''))) fail('bad escape in HELP')
        f.help = rest
      }
      return
    }
    if (line.trim() === '') fail('blank line')
    const sample = parseSample(line, fail)
    const family = familyOf(families, sample.name)
    if (family === undefined) fail(`sample of a family without TYPE: ${sample.name}`)
    family!.samples.push(sample)
  })
  for (const f of families.values()) {
    const seen = new Set<string>()
    for (const s of f.samples) {
      const key = `${s.name}${JSON.stringify(Object.entries(s.labels).sort())}`
      if (seen.has(key)) throw new Error(`duplicate series ${key}`)
      seen.add(key)
    }
    if (f.type === 'histogram') checkHistogram(f)
  }
  return families
}

function familyOf (families: Map<string, Family>, sample: string): Family | undefined {
  const f = families.get(sample)
  if (f?.type !== undefined) return f
  for (const suffix of ['_bucket', '_sum', '_count']) {
    if (!sample.endsWith(suffix)) continue
    const h = families.get(sample.slice(0, -suffix.length))
    if (h?.type === 'histogram') return h
  }
  return undefined
}

function parseSample (line: string, fail: (why: string) => never): Sample {
  const name = /^[a-zA-Z_:][a-zA-Z0-9_:]*/.exec(line)?.[0] ?? fail('no metric name')
  let i = name.length
  const labels: Record<string, string> = {}
  if (line[i] === '{') {
    i++
    while (line[i] !== '}') {
      const key = /^[a-zA-Z_][a-zA-Z0-9_]*/.exec(line.slice(i))?.[0] ?? fail('bad label name')
      if (!LABEL_NAME.test(key)) fail('bad label name')
      i += key.length
      if (line[i] !== '=' || line[i + 1] !== '"') fail('expected ="')
      i += 2
      let value = ''
      for (;;) {
        const c = line[i]
        if (c === undefined) fail('unterminated label value')
        if (c === '"') break
        if (c === '\\') {
          const e = line[i + 1]
          if (e === 'n') value += '\n'
          else if (e === '\\' || e === '"') value += e
          else fail('bad escape in label value')
          i += 2
        } else {
          value += c
          i++
        }
      }
      i++
      if (key in labels) fail(`label ${key} twice`)
      labels[key] = value
      if (line[i] === ',') i++
      else if (line[i] !== '}') fail('expected , or }')
    }
    i++
  }
  if (line[i] !== ' ') fail('expected a space before the value')
  const [valueText, timestamp, ...more] = line.slice(i + 1).split(' ')
  if (more.length > 0 || (timestamp !== undefined && !/^-?\d+$/.test(timestamp))) fail('trailing text')
  if (!/^([+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?|NaN|[+-]Inf)$/.test(valueText)) fail('bad value')
  const value = valueText === '+Inf' ? Infinity : valueText === '-Inf' ? -Infinity : Number(valueText)
  return { name, labels, value }
}

/** Buckets cumulative and ending in +Inf equal to _count, for every label set. */
function checkHistogram (f: Family): void {
  const groups = new Map<string, Sample[]>()
  const counts = new Map<string, number>()
  for (const s of f.samples) {
    const { le, ...rest } = s.labels
    const key = JSON.stringify(Object.entries(rest).sort())
    if (s.name === `${f.name}_bucket`) {
      if (le === undefined) throw new Error(`${f.name}: bucket without le`)
      groups.set(key, [...(groups.get(key) ?? []), s])
    } else if (s.name === `${f.name}_count`) {
      counts.set(key, s.value)
    }
  }
  for (const [key, buckets] of groups) {
    const les = buckets.map(b => b.labels.le === '+Inf' ? Infinity : Number(b.labels.le))
    for (let i = 1; i < buckets.length; i++) {
      if (!(les[i] > les[i - 1])) throw new Error(`${f.name}${key}: le not increasing`)
      if (buckets[i].value < buckets[i - 1].value) throw new Error(`${f.name}${key}: buckets not cumulative`)
    }
    if (les.at(-1) !== Infinity) throw new Error(`${f.name}${key}: no +Inf bucket`)
    if (buckets.at(-1)!.value !== counts.get(key)) throw new Error(`${f.name}${key}: +Inf bucket differs from _count`)
  }
}

/** The value of the one sample named `name` whose labels include `labels`, or undefined. */
export function valueOf (families: Map<string, Family>, name: string, labels: Record<string, string> = {}): number | undefined {
  for (const f of families.values()) {
    for (const s of f.samples) {
      if (s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v)) return s.value
    }
  }
  return undefined
}
