import { describe, expect, it } from 'vitest'
import { lineChart } from '../../simulations/svg.ts'
import { allElements, parseXml } from './xml.ts'

describe('SVG charts', () => {
  it('are well-formed SVG documents with one group per series and the event markers', () => {
    const svg = lineChart({
      title: 'Latency <p99> & "friends"',
      xLabel: 'ms',
      yLabel: 'fraction',
      series: [
        { name: 'a & b', points: [[0, 0], [10, 0.5], [20, 1]] },
        { name: 'dots', points: [[5, 0.2]], style: 'dots' }
      ],
      markers: [{ x: 7, label: 'crash <3>' }]
    })
    const root = parseXml(svg)
    expect(root.name).toBe('svg')
    expect(root.attrs.xmlns).toBe('http://www.w3.org/2000/svg')
    const series = allElements(root).filter(e => e.name === 'g' && e.attrs.class === 'series')
    expect(series.map(s => s.attrs['data-name'])).toEqual(['a &amp; b', 'dots'])
    expect(series[0].children[0].name).toBe('polyline')
    expect(series[0].children[0].attrs.points.split(' ')).toHaveLength(3)
    expect(series[1].children.map(c => c.name)).toEqual(['circle'])
    const markers = allElements(root).filter(e => e.name === 'g' && e.attrs.class === 'markers')
    expect(markers).toHaveLength(1)
    expect(allElements(root).find(e => e.name === 'title')?.text).toBe('Latency &lt;p99&gt; &amp; &quot;friends&quot;')
  })

  it('draw an empty chart when nothing was measured', () => {
    const root = parseXml(lineChart({ title: 'nothing', xLabel: 'x', yLabel: 'y', series: [{ name: 'none', points: [] }] }))
    expect(allElements(root).filter(e => e.attrs.class === 'series')).toHaveLength(1)
  })

  it('the checker refuses what a browser would refuse', () => {
    expect(() => parseXml('<svg><g></svg>')).toThrow(/closes/)
    expect(() => parseXml('<svg>a & b</svg>')).toThrow(/bare &/)
    expect(() => parseXml('<svg a=1></svg>')).toThrow(/bad attributes/)
    expect(() => parseXml('<svg>')).toThrow(/never closed/)
  })
})
