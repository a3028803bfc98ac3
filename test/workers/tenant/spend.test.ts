/** The account's and the shards' money arithmetic, as plain functions. */
import { describe, expect, it } from 'vitest'
import { sumUsage } from '../../../src/tenant/spend'

const row = (day: string, key: string, model: string, images: number, costMicros: number) => ({ day, key, model, images, costMicros })

describe('sumUsage', () => {
  it("sums the same day, key and model across shards, ordered by day, then key, then model, leaving the shards' rows alone", () => {
    const shardA = [row('2026-12-02', 'key_b', 'm:1', 1, 30_000), row('2026-12-01', 'key_b', 'm:2', 2, 60_000)]
    const shardB = [
      row('2026-12-02', 'key_a', 'm:1', 1, 30_000),
      row('2026-12-01', 'key_b', 'm:1', 1, 30_000),
      row('2026-12-02', 'key_b', 'm:1', 3, 90_000),
    ]
    expect(sumUsage([shardA, shardB])).toEqual([
      row('2026-12-01', 'key_b', 'm:1', 1, 30_000),
      row('2026-12-01', 'key_b', 'm:2', 2, 60_000),
      row('2026-12-02', 'key_a', 'm:1', 1, 30_000),
      row('2026-12-02', 'key_b', 'm:1', 4, 120_000),
    ])
    expect(shardA[0]).toEqual(row('2026-12-02', 'key_b', 'm:1', 1, 30_000))
    expect(sumUsage([])).toEqual([])
  })
})
