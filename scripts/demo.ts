/**
 * `npm run demo`: sends the model page's "Rain-Slick Neon Alley Portrait" request through the
 * gateway, waits for it, downloads the image by its signed URL into ./out/, and says what it did.
 * Uses a running `npm run dev` when there is one; otherwise starts the stack itself.
 */
import { mkdirSync, writeFileSync } from 'node:fs'
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import examples from '../test/fixtures/seed-examples.json' with { type: 'json' }
import { DEV_PORT, devSecrets } from './dev-secrets.ts'
import { startStack, type Stack } from './stack.ts'

const example = examples.find((e) => e.title === 'Rain-Slick Neon Alley Portrait')
if (!example) throw new Error('seed example missing')
const { DEV_API_KEY, ...secrets } = devSecrets()
const started = performance.now()
const ms = () => `${Math.round(performance.now() - started)} ms`

let stack: Stack | undefined
let gateway = `http://127.0.0.1:${DEV_PORT}`
const running = await fetch(`${gateway}/healthz`).then(
  (r) => r.ok,
  () => false,
)
if (running) console.log(`using the running gateway at ${gateway}`)
else {
  console.log('no gateway running: starting the emulator and wrangler dev …')
  stack = await startStack({
    secrets,
    persistTo: mkdtempSync(join(tmpdir(), 'imagine-edge-demo-')),
    logTo: join(tmpdir(), 'imagine-edge-demo.log'),
  })
  gateway = stack.gatewayUrl
  console.log(`  started at ${gateway} (${ms()})`)
}

try {
  // A fresh taskUUID each run, so the demo generates rather than replays the stored task.
  const body = example.request.replace(/"taskUUID": "[^"]+"/, `"taskUUID": "${crypto.randomUUID()}"`)
  console.log(`POST ${gateway}/v1  "${example.title}" (1664x2496, sync)`)
  const res = await fetch(`${gateway}/v1`, { method: 'POST', headers: { authorization: `Bearer ${DEV_API_KEY}` }, body })
  const json = (await res.json()) as { data?: { imageURL: string; imageUUID: string; seed: number }[]; errors?: unknown[] }
  if (!res.ok || !json.data?.[0]) throw new Error(`the gateway answered ${res.status}: ${JSON.stringify(json)}`)
  const item = json.data[0]
  console.log(`  ${res.status} after ${ms()}: imageUUID ${item.imageUUID}, seed ${item.seed}`)
  const image = await fetch(item.imageURL)
  if (!image.ok) throw new Error(`the signed URL answered ${image.status}`)
  mkdirSync('out', { recursive: true })
  const file = join('out', `${item.imageUUID}.jpg`)
  writeFileSync(file, Buffer.from(await image.arrayBuffer()))
  console.log(`  downloaded ${image.headers.get('content-type')} (${image.headers.get('content-length')} bytes) by signed URL`)
  console.log(`saved ${file} — done in ${ms()}`)
} finally {
  await stack?.stop()
}
