/** Acceptance: the model page's four example requests, sent byte for byte, through the gateway. */
import { describe, expect, it } from 'vitest'
import examples from '../fixtures/seed-examples.json' with { type: 'json' }
import { fetchImage, gateway, inference, postV1 } from './helpers.ts'

const UUID_V4 = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/

describe('the four seed requests', () => {
  for (const example of examples) {
    it(`${example.title}: same shape as the model page, image of the requested size`, async () => {
      const request = JSON.parse(example.request) as { taskUUID: string; width: number; height: number }
      const res = await postV1(example.request)
      expect(res.status).toBe(200)
      expect(res.json.errors).toBeUndefined()
      expect(res.json.data).toHaveLength(1)
      const item = res.json.data![0]!
      // Exactly the page's response fields; `cost` only appears with includeCost (see the includeCost test).
      const expectedKeys = Object.keys(example.response).filter((k) => k !== 'cost')
      expect(Object.keys(item)).toEqual(expectedKeys)
      expect(item.taskType).toBe(example.response.taskType)
      expect(item.taskUUID).toBe(request.taskUUID)
      expect(item.imageUUID).toMatch(UUID_V4)
      expect(Number.isInteger(item.seed)).toBe(true)
      expect(String(item.imageURL).startsWith(`${gateway()}/files/`)).toBe(true)
      const image = await fetchImage(String(item.imageURL))
      expect(image).toMatchObject({ status: 200, contentType: 'image/jpeg', width: request.width, height: request.height, format: 'jpeg' })
    })
  }

  it('adds cost, as on the model page, when includeCost is set', async () => {
    const body = { ...JSON.parse(examples[0]!.request), taskUUID: crypto.randomUUID(), includeCost: true }
    const res = await postV1(body)
    expect(res.status).toBe(200)
    expect(Object.keys(res.json.data![0]!)).toEqual(Object.keys(examples[0]!.response))
    expect(res.json.data![0]!.cost).toBe(0.03)
  })

  for (const [format, mime, sharpFormat] of [
    ['PNG', 'image/png', 'png'],
    ['WEBP', 'image/webp', 'webp'],
  ] as const) {
    it(`serves ${format} at the requested size`, async () => {
      const res = await postV1(inference({ width: 2472, height: 824, outputFormat: format }))
      expect(res.status).toBe(200)
      const image = await fetchImage(String(res.json.data![0]!.imageURL))
      expect(image).toMatchObject({ status: 200, contentType: mime, width: 2472, height: 824, format: sharpFormat })
    })
  }

  it('a re-send of the same body returns the same task without generating again', async () => {
    const body = inference({ seed: 42 })
    const first = await postV1(body)
    const again = await postV1(body)
    expect(again.status).toBe(200)
    expect(again.json.data![0]!.imageUUID).toBe(first.json.data![0]!.imageUUID)
    const conflict = await postV1({ ...body, positivePrompt: 'something else entirely' })
    expect(conflict.status).toBe(409)
    expect(conflict.json.errors![0]).toMatchObject({ code: 'conflictTaskUUID', parameter: 'taskUUID' })
  })
})
