/** Acceptance: the typed client — generate (sync), generate async + waitFor, verifyWebhook. */
import { describe, expect, inject, it } from 'vitest'
import { createClient, ImagineEdgeError, verifyWebhook } from '../../client/index.ts'
import { KEY_A } from '../secrets.ts'
import { gateway, waitFor } from './helpers.ts'

const client = () => createClient({ baseURL: gateway(), apiKey: KEY_A })

describe('createClient', () => {
  it('generates synchronously', async () => {
    const result = await client().generate({ positivePrompt: 'a typed client, sync', width: 2496, height: 1664, includeCost: true })
    expect(result.data).toHaveLength(1)
    expect(result.data[0]).toMatchObject({ taskType: 'imageInference', taskUUID: result.taskUUID, cost: 0.03, seed: expect.any(Number) })
    expect(String(result.data[0]?.imageURL)).toContain('/files/')
  })

  it('generates asynchronously and waits for the task', async () => {
    const c = client()
    const { taskUUID, data } = await c.generate({ positivePrompt: 'a typed client, async', numberResults: 2, deliveryMethod: 'async' })
    expect(data).toEqual([{ taskType: 'imageInference', taskUUID }])
    const task = await c.waitFor(taskUUID)
    expect(task.status).toBe('succeeded')
    expect(task.results).toHaveLength(2)
  })

  it('throws the gateway’s errors', async () => {
    const error = await client()
      .generate({ positivePrompt: 'x' })
      .catch((e: unknown) => e)
    expect(error).toBeInstanceOf(ImagineEdgeError)
    expect((error as ImagineEdgeError).errors[0]).toMatchObject({ code: 'invalidParameter', parameter: 'positivePrompt' })
  })

  it('verifies a real signed webhook and rejects a tampered one', async () => {
    const path = `/client-verify/${crypto.randomUUID()}/`
    await client().generate({ positivePrompt: 'a typed client, webhook', webhookURL: `${inject('receiverUrl')}${path}` })
    const [event] = await waitFor(async () => {
      const got = (await (await fetch(`${inject('receiverUrl')}/__received?path=${path}`)).json()) as {
        body: string
        headers: Record<string, string>
      }[]
      return got.length ? got : undefined
    })
    const secret = (
      (await (await fetch(`${gateway()}/v1/webhooks/secret`, { headers: { authorization: `Bearer ${KEY_A}` } })).json()) as {
        data: { secret: string }
      }
    ).data.secret
    expect(verifyWebhook(event?.body ?? '', event?.headers ?? {}, secret)).toMatchObject({ taskType: 'imageInference' })
    expect(() => verifyWebhook((event?.body ?? '').replace('imageInference', 'imageInferencf'), event?.headers ?? {}, secret)).toThrow()
  })
})
