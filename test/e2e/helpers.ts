/** Helpers for end-to-end tests against the gateway and emulator started in global setup. */
import sharp from 'sharp'
import { inject } from 'vitest'
import { KEY_A, TEST_SECRETS } from '../secrets.ts'

export const gateway = () => inject('gatewayUrl')
export const emulator = () => inject('emulatorUrl')

export interface Envelope {
  data?: Record<string, unknown>[]
  errors?: Record<string, unknown>[]
}

/** POSTs a body (a string is sent byte for byte) to the gateway's /v1. */
export async function postV1(
  body: unknown,
  key: string = KEY_A,
): Promise<{ status: number; headers: Headers; json: Envelope; text: string }> {
  const res = await fetch(`${gateway()}/v1`, {
    method: 'POST',
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  })
  const text = await res.text()
  return { status: res.status, headers: res.headers, json: JSON.parse(text) as Envelope, text }
}

/** Downloads an image and reads its real dimensions and format. */
export async function fetchImage(
  url: string,
): Promise<{ status: number; contentType: string | null; width?: number; height?: number; format?: string }> {
  const res = await fetch(url)
  if (!res.ok) return { status: res.status, contentType: res.headers.get('content-type') }
  const meta = await sharp(Buffer.from(await res.arrayBuffer())).metadata()
  return { status: res.status, contentType: res.headers.get('content-type'), width: meta.width, height: meta.height, format: meta.format }
}

/** Adds an emulator fault rule for tasks whose prompt contains `match`. */
export async function setFault(rule: Record<string, unknown>): Promise<void> {
  const res = await fetch(`${emulator()}/__emulator/faults`, { method: 'POST', body: JSON.stringify(rule) })
  if (!res.ok) throw new Error(`fault rule refused: ${res.status}`)
}

export async function emulatorStats(): Promise<{ generations: Record<string, number> }> {
  return (await fetch(`${emulator()}/__emulator/stats`)).json() as Promise<{ generations: Record<string, number> }>
}

/** Polls until `check` returns a value, or fails after `timeoutMs`. */
export async function waitFor<T>(check: () => Promise<T | undefined>, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const value = await check()
    if (value !== undefined) return value
    if (Date.now() > deadline) throw new Error('timed out waiting')
    await new Promise((r) => setTimeout(r, 200))
  }
}

export const inference = (overrides: Record<string, unknown> = {}) => ({
  taskType: 'imageInference',
  taskUUID: crypto.randomUUID(),
  model: 'imagineart:1@5',
  positivePrompt: 'a lighthouse at dusk, e2e',
  ...overrides,
})

/** A managed key of a tenant of its own, so what a test lists is only its own. */
export async function freshKey(name = 'e2e'): Promise<string> {
  const res = await fetch(`${gateway()}/admin/keys`, {
    method: 'POST',
    headers: { authorization: `Bearer ${TEST_SECRETS.ADMIN_TOKEN}`, 'content-type': 'application/json' },
    body: JSON.stringify({ name, tenant: `t${crypto.randomUUID().replaceAll('-', '').slice(0, 20)}` }),
  })
  if (res.status !== 201) throw new Error(`key not created: ${res.status}`)
  return ((await res.json()) as { data: { key: string } }).data.key
}
