/** Bodies read as bounded streams: no sender makes the Worker buffer more than a cap, or wait for bytes it will refuse. */
import { exports } from 'cloudflare:workers'
import { describe, expect, it } from 'vitest'
import { KEY_A } from '../../secrets'
import { BASE } from '../helpers'

const MiB = 1024 * 1024

/** A chunked body (no length) of up to `total` bytes, counting what the Worker actually pulled. */
function chunked(total: number, head: string | Uint8Array = '[{"taskType":"imageInference","positivePrompt":"') {
  const state = { pulled: 0 }
  const prefix = typeof head === 'string' ? new TextEncoder().encode(head) : head
  const stream = new ReadableStream<Uint8Array>({
    pull(controller) {
      if (state.pulled >= total) return controller.close()
      const chunk = state.pulled === 0 ? prefix : new Uint8Array(64 * 1024).fill(0x61)
      state.pulled += chunk.byteLength
      controller.enqueue(chunk)
    },
  })
  return { stream, state }
}

const post = (body: ReadableStream<Uint8Array>, headers: Record<string, string> = {}) =>
  exports.default.fetch(`${BASE}/v1`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body,
    duplex: 'half',
  } as RequestInit)

describe('bounded bodies', () => {
  it('answers a 40 MiB chunked body with no key 401 having read less than 2 MiB of it', async () => {
    const { stream, state } = chunked(40 * MiB)
    const res = await post(stream)
    expect(res.status).toBe(401)
    expect(((await res.json()) as { errors: { code: string }[] }).errors[0]?.code).toBe('invalidApiKey')
    expect(state.pulled).toBeLessThan(2 * MiB)
  })

  it('answers the same body with a key 413, naming the limit, before the sender has finished', async () => {
    const { stream, state } = chunked(40 * MiB)
    const res = await post(stream, { authorization: `Bearer ${KEY_A}` })
    expect(res.status).toBe(413)
    const error = ((await res.json()) as { errors: { code: string; message: string }[] }).errors[0]
    expect(error?.code).toBe('payloadTooLarge')
    expect(error?.message).toMatch(/larger than \d+ bytes/)
    expect(state.pulled).toBeLessThan(40 * MiB)
  })

  it('finds an in-body key in the first bytes and reads on, and refuses a first element that is not one at once', async () => {
    const body = (text: string) => new Response(text).body as ReadableStream<Uint8Array>
    const ok = await post(
      body(
        JSON.stringify([
          { taskType: 'authentication', apiKey: KEY_A },
          { taskType: 'ping', ping: true },
        ]),
      ),
    )
    expect(ok.status).toBe(200)
    expect(await ok.json()).toEqual({ data: [{ taskType: 'ping', pong: true }] })
    const late = chunked(8 * MiB, `[{"taskType":"ping","ping":true},{"taskType":"authentication","apiKey":"${KEY_A}"},"`)
    expect((await post(late.stream)).status).toBe(401)
    expect(late.state.pulled).toBeLessThan(2 * MiB)
  })
})

describe('bounded uploads', () => {
  it('refuses a chunked multipart form past the image limit with 413, before the sender has finished', async () => {
    const boundary = 'x-hostile'
    const { stream, state } = chunked(40 * MiB, `--${boundary}\r\nContent-Disposition: form-data; name="image"; filename="a.png"\r\n\r\n`)
    const res = await exports.default.fetch(`${BASE}/v1/images`, {
      method: 'POST',
      headers: { authorization: `Bearer ${KEY_A}`, 'content-type': `multipart/form-data; boundary=${boundary}` },
      body: stream,
      duplex: 'half',
    } as RequestInit)
    expect(res.status).toBe(413)
    expect(((await res.json()) as { errors: { code: string; parameter: string }[] }).errors[0]).toMatchObject({
      code: 'payloadTooLarge',
      parameter: 'image',
    })
    expect(state.pulled).toBeLessThan(40 * MiB)
  })

  it('refuses a chunked raw image body past the limit with 413', async () => {
    const png = Uint8Array.from(atob('iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJ'), (c) => c.charCodeAt(0))
    const { stream, state } = chunked(40 * MiB, png)
    const res = await exports.default.fetch(`${BASE}/v1/images`, {
      method: 'POST',
      headers: { authorization: `Bearer ${KEY_A}`, 'content-type': 'image/png' },
      body: stream,
      duplex: 'half',
    } as RequestInit)
    expect(res.status).toBe(413)
    expect(state.pulled).toBeLessThan(40 * MiB)
  })
})
