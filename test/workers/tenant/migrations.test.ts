/**
 * Objects made before usage and budgets were counted per key come up to the new schema on
 * their next wake, with their history kept under the bootstrap key ('').
 */
import { runInDurableObject } from 'cloudflare:test'
import { describe, expect, it } from 'vitest'
import { migrate as migrateShard } from '../../../src/tenant/shard-rows'
import { migrate as migrateAccount } from '../../../src/tenant/tenant-account'
import { accountOf } from '../helpers'
import { aShard, rows, tenantName } from './shard-fixtures'

describe('migrations to per-key counting', () => {
  it('gives an old shard its api_key and untold columns and moves its usage under key ""', async () => {
    await runInDurableObject(aShard(tenantName()), (_shard, state) => {
      const sql = state.storage.sql
      // What a shard of the previous version held.
      sql.exec('ALTER TABLE tasks DROP COLUMN api_key')
      sql.exec('ALTER TABLE usage_by_key DROP COLUMN untold')
      sql.exec(
        'CREATE TABLE usage (day TEXT NOT NULL, model TEXT NOT NULL, images INTEGER NOT NULL, cost INTEGER NOT NULL, PRIMARY KEY (day, model))',
      )
      sql.exec("INSERT INTO usage VALUES ('2026-11-20', 'imagineart:1@5', 3, 90000)")
      migrateShard(sql)
      // Spend from before is not known to be untold: none of it is.
      expect(rows(state, 'SELECT day, api_key, model, images, cost, untold FROM usage_by_key')).toEqual([
        { day: '2026-11-20', api_key: '', model: 'imagineart:1@5', images: 3, cost: 90000, untold: 0 },
      ])
      expect(rows(state, "SELECT name FROM sqlite_master WHERE name = 'usage'")).toEqual([])
      expect(rows(state, 'SELECT api_key FROM tasks')).toEqual([])
      // And again: nothing left to do.
      migrateShard(sql)
      expect(rows(state, 'SELECT COUNT(*) AS c FROM usage_by_key')).toEqual([{ c: 1 }])
    })
  })

  it('gives an old account per-key reservations and moves its spend under key ""', async () => {
    await runInDurableObject(accountOf(tenantName('tacct')), (_account, state) => {
      const sql = state.storage.sql
      sql.exec('ALTER TABLE reservations DROP COLUMN api_key')
      sql.exec("INSERT INTO reservations (task, per_result, open, created_at) VALUES ('t1', 30000, 2, 0)")
      sql.exec('CREATE TABLE spend (day TEXT PRIMARY KEY, cost INTEGER NOT NULL)')
      sql.exec("INSERT INTO spend VALUES ('2026-11-20', 60000)")
      migrateAccount(sql)
      expect(rows(state, 'SELECT day, api_key, cost FROM key_spend')).toEqual([{ day: '2026-11-20', api_key: '', cost: 60000 }])
      expect(rows(state, 'SELECT task, api_key FROM reservations')).toEqual([{ task: 't1', api_key: '' }])
      expect(rows(state, "SELECT name FROM sqlite_master WHERE name = 'spend'")).toEqual([])
    })
  })
})
