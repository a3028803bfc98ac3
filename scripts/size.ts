/**
 * `npm run size`: bundles the Worker exactly as `wrangler deploy` would (--dry-run) and checks
 * the script's gzip size against the budget. Static assets (playground, docs) are not in it.
 */
import { execFileSync } from 'node:child_process'
import { mkdtempSync, readFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { gzipSync } from 'node:zlib'

export const BUDGET_GZIP_KIB = 100

const outdir = mkdtempSync(join(tmpdir(), 'imagine-edge-size-'))
execFileSync('node_modules/.bin/wrangler', ['deploy', '--dry-run', '--outdir', outdir], {
  stdio: ['ignore', 'ignore', 'inherit'],
  env: { ...process.env, WRANGLER_SEND_METRICS: 'false' },
})
const script = readFileSync(join(outdir, 'index.js'))
const kib = (bytes: number) => (bytes / 1024).toFixed(1)
const gzip = gzipSync(script, { level: 9 }).length
console.log(`Worker script: ${kib(script.length)} KiB, gzip ${kib(gzip)} KiB (budget ${BUDGET_GZIP_KIB} KiB)`)
if (gzip > BUDGET_GZIP_KIB * 1024) {
  console.error(`over budget by ${kib(gzip - BUDGET_GZIP_KIB * 1024)} KiB`)
  process.exitCode = 1
}
