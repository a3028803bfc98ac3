/** What the benchmark sends and seeds: request bodies, Runware webhooks, and JPGs of a given size. */
import { randomBytes } from 'node:crypto'
import sharp from 'sharp'
import { childTaskUUID } from '../src/lib/ids.ts'
import { EXTENSIONS, type ImageFormat } from '../src/lib/image-type.ts'
import { imageKey } from '../src/lib/storage-keys.ts'
import { UrlSigner } from '../src/images/url-signer.ts'
import type { RunningWorker } from './workers.ts'

export const SECRETS = {
  RUNWARE_API_KEY: 'bench-runware-key',
  SIGNING_SECRET: 'bench-signing-secret-0123456789abcdef',
  API_KEYS: 'bench-client-key-0123456789',
  // Production's default mode: every result gets a SigV4-presigned R2 PUT URL. Runware (the
  // emulator) drops its uploads here, so the endpoint is never called.
  UPLOAD_MODE: 'r2-presigned',
  R2_ACCESS_KEY_ID: 'benchaccesskeyid0000000000000000',
  R2_SECRET_ACCESS_KEY: 'benchsecretaccesskey00000000000000000000000000000000000000000000',
  R2_S3_ENDPOINT: 'http://127.0.0.1:9',
  // The emulator drops every webhook here (the bench sends its own), so each task would otherwise
  // be "lost" and recovered from 120 s on, in the background of later runs. Recovery is not what
  // is measured; a day's delay keeps it out of the run.
  RECONCILE_AFTER_SECONDS: '86400',
} as const

export const CLIENT_KEY = SECRETS.API_KEYS

/** An async generation as a client sends it. The seed is fixed, so the emulator renders once and serves cached bytes. */
export const createBody = (taskUUID: string, numberResults: number) =>
  JSON.stringify([
    {
      taskType: 'imageInference',
      taskUUID,
      model: 'imagineart:1@5',
      positivePrompt: 'A neon alley at night, rain on the cobblestones, benchmark',
      width: 2048,
      height: 2048,
      deliveryMethod: 'async',
      seed: 42,
      numberResults,
    },
  ])

/** The webhook Runware sends when result `index` of a task is stored, and the URL it sends it to. */
export async function runwareWebhook(
  signer: UrlSigner,
  tenant: string,
  taskUUID: string,
  index = 0,
  format: ImageFormat = 'JPG',
): Promise<{ path: string; body: string; objectKey: string }> {
  const child = await childTaskUUID(tenant, taskUUID, index)
  const url = new URL(await signer.runwareWebhookUrl(tenant, taskUUID, index, format, 'http://bench'))
  const body = JSON.stringify({
    taskType: 'imageInference',
    taskUUID: child,
    imageUUID: crypto.randomUUID(),
    imageURL: `http://127.0.0.1:9/images/${child}.${EXTENSIONS[format]}`,
    seed: 42 + index,
    cost: 0.03,
  })
  return { path: `${url.pathname}${url.search}`, body, objectKey: imageKey(tenant, taskUUID, index, format) }
}

/** A real JPG of about `bytes` bytes (noise does not compress, so size follows pixel count). */
export async function jpgOfSize(bytes: number): Promise<Uint8Array> {
  const render = (side: number) =>
    sharp(randomBytes(side * side * 3), { raw: { width: side, height: side, channels: 3 } })
      .jpeg({ quality: 90 })
      .toBuffer()
  const guess = await render(512)
  const side = Math.round(512 * Math.sqrt(bytes / guess.length))
  // A plain copy: Miniflare's binding proxy rejects Buffers that view a shared pool.
  return new Uint8Array(await render(side))
}

/** Runs `fn` over `items` with at most `limit` in flight. */
export async function eachLimit<T>(items: readonly T[], limit: number, fn: (item: T) => Promise<unknown>): Promise<void> {
  let next = 0
  const worker = async () => {
    while (next < items.length) {
      const item = items[next++] as T
      await fn(item)
    }
  }
  await Promise.all(Array.from({ length: limit }, worker))
}

/**
 * Gives the baseline, as one KV record each, the very views the gateway serves for these tasks
 * (the gateway reads them from the task's shard object): the baseline's status is one KV read.
 */
export async function mirrorStatusRecords(gateway: RunningWorker, baseline: RunningWorker, tasks: readonly string[]) {
  const to = await baseline.mf.getKVNamespace('TASKS')
  await eachLimit(tasks, 16, async (taskUUID) => {
    const res = await fetch(`${gateway.url}/v1/tasks/${taskUUID}`, { headers: { authorization: `Bearer ${CLIENT_KEY}` } })
    if (!res.ok) throw new Error(`task ${taskUUID}: ${res.status}`)
    await to.put(`status:${taskUUID}`, await res.text())
  })
}
