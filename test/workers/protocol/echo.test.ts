/**
 * Identifiers come back exactly as the client sent them. `@runware/sdk-js` (Runware-base.ts,
 * its listeners) and Runware's TypeScript SDK route every answer by comparing taskUUID strings,
 * so a lower-cased echo of an upper-case taskUUID is an answer they never see.
 */
import { env } from 'cloudflare:workers'
import { describe, expect, inject, it } from 'vitest'
import { KEY_A } from '../../secrets'
import { call, inference, postV1, tenantOf } from '../helpers'

const upper = () => crypto.randomUUID().toUpperCase()
const auth = { authorization: `Bearer ${KEY_A}` }

describe('taskUUID echo', () => {
  it('answers sync items, async acks, getResponse and errors with the taskUUID as each request spelled it', async () => {
    const sync = inference({ taskUUID: upper(), numberResults: 2 })
    const done = await postV1([sync])
    expect(done.status).toBe(200)
    expect(done.json.data?.map((i) => i.taskUUID)).toEqual([sync.taskUUID, sync.taskUUID])

    const async = inference({ taskUUID: upper(), deliveryMethod: 'async' })
    expect((await postV1([async])).json.data).toEqual([{ taskType: 'imageInference', taskUUID: async.taskUUID }])

    // getResponse echoes its own spelling, whichever the task was created with.
    for (const spelled of [sync.taskUUID, sync.taskUUID.toLowerCase()]) {
      const polled = await postV1([{ taskType: 'getResponse', taskUUID: spelled }])
      expect(polled.json.data?.map((i) => i.taskUUID)).toEqual([spelled, spelled])
    }

    const invalid = inference({ taskUUID: upper(), outputFormat: 'GIF' })
    expect((await postV1([invalid])).json.errors?.[0]).toMatchObject({ parameter: 'outputFormat', taskUUID: invalid.taskUUID })

    const conflict = await postV1([{ ...sync, taskUUID: sync.taskUUID.toLowerCase(), positivePrompt: 'another body' }])
    expect(conflict.status).toBe(409)
    expect(conflict.json.errors?.[0]).toMatchObject({
      code: 'conflictTaskUUID',
      message: 'taskUUID was already used with a different request body',
      parameter: 'taskUUID',
      taskType: 'imageInference',
      taskUUID: sync.taskUUID.toLowerCase(),
    })

    const resource = await call(`/v1/tasks/${sync.taskUUID.toLowerCase()}`, { headers: auth })
    expect(((await resource.json()) as { data: { taskUUID: string } }).data.taskUUID).toBe(sync.taskUUID)
  })

  it('pushes socket results and sends client webhook events with the taskUUID the task was created with', async () => {
    const path = `/echo/${crypto.randomUUID()}/`
    const task = inference({ taskUUID: upper(), webhookURL: `${inject('receiverUrl')}${path}` })
    expect((await postV1([task])).status).toBe(200)

    // The webhook event.
    let events: { body: string }[] = []
    for (let i = 0; i < 100 && !events.length; i++, await new Promise((r) => setTimeout(r, 200))) {
      events = (await (await fetch(`${inject('receiverUrl')}/__received?path=${path}`)).json()) as { body: string }[]
    }
    expect((JSON.parse(events[0]?.body ?? '{}') as { taskUUID?: string }).taskUUID).toBe(task.taskUUID)

    // A push to a socket session of the task's tenant.
    const res = await call('/v1', { headers: { upgrade: 'websocket' } })
    const ws = res.webSocket
    if (!ws) throw new Error('no socket')
    ws.accept()
    const frames: { data?: { taskUUID?: string; connectionSessionUUID?: string }[] }[] = []
    ws.addEventListener('message', (e) => frames.push(JSON.parse(String(e.data)) as (typeof frames)[number]))
    ws.send(JSON.stringify([{ taskType: 'authentication', apiKey: KEY_A }]))
    const waitFor = async (match: () => boolean) => {
      for (let i = 0; i < 100 && !match(); i++) await new Promise((r) => setTimeout(r, 50))
    }
    await waitFor(() => frames.length > 0)
    const session = String(frames[0]?.data?.[0]?.connectionSessionUUID)
    await env.SOCKETS.get(env.SOCKETS.idFromName(session)).deliver(await tenantOf(KEY_A), task.taskUUID.toLowerCase(), [0], 1)
    await waitFor(() => frames.length > 1)
    expect(frames[1]?.data?.[0]?.taskUUID).toBe(task.taskUUID)
    ws.close(1000, 'done')
  })
})
