// A small benchmark harness: timed samples of a function, reported as throughput with the spread across samples.

import os from 'node:os'

export interface Sample {
  /** What was measured. */
  readonly name: string
  /** Operations per second, median of the samples. */
  readonly opsPerSec: number
  /** Bytes per second, median of the samples, when the case has a byte size. */
  readonly bytesPerSec?: number
  /** Relative spread of the samples: (max - min) / median of ops/s. */
  readonly spread: number
}

export interface Case {
  readonly name: string
  /** Bytes processed per operation, for a throughput figure. */
  readonly bytes?: number
  readonly fn: () => unknown
}

let sink: unknown

/** Runs `fn` repeatedly for `sampleMs` per sample, `samples` times after a warm-up, and reports the median rate. */
export function measure (c: Case, { samples = 7, sampleMs = 300 } = {}): Sample {
  const warmUntil = performance.now() + sampleMs
  while (performance.now() < warmUntil) sink = c.fn()
  const rates: number[] = []
  for (let s = 0; s < samples; s++) {
    let ops = 0
    const start = performance.now()
    let now = start
    while (now - start < sampleMs) {
      sink = c.fn()
      ops++
      now = performance.now()
    }
    rates.push(ops / ((now - start) / 1000))
  }
  rates.sort((a, b) => a - b)
  const median = rates[rates.length >> 1]
  return {
    name: c.name,
    opsPerSec: median,
    ...(c.bytes != null ? { bytesPerSec: median * c.bytes } : {}),
    spread: (rates[rates.length - 1] - rates[0]) / median
  }
}

/** Keeps results observable so the optimizer cannot drop the benchmarked work. */
export function consume (): unknown { return sink }

export function formatRate (s: Sample): string {
  if (s.bytesPerSec != null) {
    const mb = s.bytesPerSec / 1e6
    return mb >= 1000 ? `${(mb / 1000).toFixed(2)} GB/s` : `${mb.toFixed(1)} MB/s`
  }
  return s.opsPerSec >= 1e6 ? `${(s.opsPerSec / 1e6).toFixed(2)} M ops/s` : `${Math.round(s.opsPerSec).toLocaleString('en')} ops/s`
}

/** A Markdown table of samples, each compared with the baseline named in the row pair. */
export function table (rows: Array<{ sample: Sample, baseline?: Sample }>): string {
  const lines = ['| case | rate | spread | vs baseline |', '|---|---:|---:|---|']
  for (const { sample, baseline } of rows) {
    const ratio = baseline != null ? `${(sample.opsPerSec / baseline.opsPerSec).toFixed(2)}x ${baseline.name}` : ''
    lines.push(`| ${sample.name} | ${formatRate(sample)} | ±${(sample.spread * 50).toFixed(0)}% | ${ratio} |`)
  }
  return lines.join('\n')
}

export function machine (): string {
  const cpu = os.cpus()[0]?.model ?? 'unknown cpu'
  return `${cpu}, ${os.cpus().length} cores, ${Math.round(os.totalmem() / 2 ** 30)} GiB, Node ${process.version}, ${os.platform()} ${os.release()}`
}
