/** Acceptance: every rule of DESIGN.md §1.1 at its boundaries, each asserting code and parameter. */
import { describe, expect, it } from 'vitest'
import { imagineArt15 } from '../../../src/models/imagineart-1-5'
import { inference, postV1 } from '../helpers'

type Case = [name: string, overrides: Record<string, unknown>, code: string, parameter: string | string[]]

const rejected: Case[] = [
  ['prompt of 1 character', { positivePrompt: 'a' }, 'invalidParameter', 'positivePrompt'],
  ['prompt of 3001 characters', { positivePrompt: 'x'.repeat(3001) }, 'invalidParameter', 'positivePrompt'],
  ['missing prompt', { positivePrompt: undefined }, 'missingParameter', 'positivePrompt'],
  ['off-table size', { width: 1024, height: 1024 }, 'invalidParameter', 'width'],
  ['swapped 3:1 size', { width: 824, height: 2560 }, 'invalidParameter', 'width'],
  ['width without height', { width: 2048 }, 'missingParameter', 'height'],
  ['height without width', { height: 2048 }, 'missingParameter', 'width'],
  ['quality 19', { outputQuality: 19 }, 'invalidParameter', 'outputQuality'],
  ['quality 100', { outputQuality: 100 }, 'invalidParameter', 'outputQuality'],
  ['quality 50.5', { outputQuality: 50.5 }, 'invalidParameter', 'outputQuality'],
  ['0 results', { numberResults: 0 }, 'invalidParameter', 'numberResults'],
  ['21 results', { numberResults: 21 }, 'invalidParameter', 'numberResults'],
  ['ttl 59', { ttl: 59 }, 'invalidParameter', 'ttl'],
  ['outputType', { outputType: 'url' }, 'invalidParameter', 'outputType'],
  ['outputFormat', { outputFormat: 'GIF' }, 'invalidParameter', 'outputFormat'],
  ['deliveryMethod', { deliveryMethod: 'later' }, 'invalidParameter', 'deliveryMethod'],
  ['safety.mode', { safety: { checkContent: true, mode: 'slow' } }, 'invalidParameter', 'safety.mode'],
  ['negative seed', { seed: -1 }, 'invalidParameter', 'seed'],
  ['includeCost as a string', { includeCost: 'yes' }, 'invalidParameter', 'includeCost'],
  ['bad UUID', { taskUUID: 'not-a-uuid' }, 'invalidParameter', 'taskUUID'],
  ['UUID v1', { taskUUID: 'a8098c1a-f86e-11da-bd1a-00112444be1e' }, 'invalidParameter', 'taskUUID'],
  ['unknown model', { model: 'runware:100@1' }, 'modelNotFound', 'model'],
  ['unknown field', { steps: 30 }, 'unsupportedParameter', 'steps'],
  ['unknown nested field', { safety: { checkContent: true, level: 3 } }, 'unsupportedParameter', 'safety.level'],
  ['non-URI webhookURL', { webhookURL: 'not a url' }, 'invalidWebhookURL', 'webhookURL'],
]

describe('imageInference validation', () => {
  it.each(rejected)('rejects %s', async (_name, overrides, code, parameter) => {
    const res = await postV1([inference(overrides)])
    expect(res.status).toBe(400)
    expect(res.json.data).toBeUndefined()
    expect(res.json.errors?.[0]).toMatchObject({ code, parameter, taskType: 'imageInference' })
    expect(typeof res.json.errors?.[0]?.message).toBe('string')
  })

  it('names the allowed values for enums and sizes', async () => {
    const format = await postV1([inference({ outputFormat: 'GIF' })])
    expect(format.json.errors?.[0]?.allowedValues).toEqual(['JPG', 'PNG', 'WEBP'])
    const size = await postV1([inference({ width: 1000, height: 1000 })])
    expect(size.json.errors?.[0]?.allowedValues).toEqual(imagineArt15.sizes.map((s) => `${s.width}x${s.height}`))
  })

  const accepted: [string, Record<string, unknown>][] = [
    ['prompt of 2 characters', { positivePrompt: 'ab' }],
    ['prompt of 3000 characters', { positivePrompt: 'y'.repeat(3000) }],
    ['quality 20', { outputQuality: 20 }],
    ['quality 99', { outputQuality: 99 }],
    ['1 result', { numberResults: 1 }],
    ['20 results', { numberResults: 20 }],
    ['ttl 60', { ttl: 60 }],
    ['no size (2048x2048)', {}],
    ['checkNSFW alias', { checkNSFW: true }],
    ...imagineArt15.sizes.map((s): [string, Record<string, unknown>] => [
      `size ${s.width}x${s.height}`,
      { width: s.width, height: s.height },
    ]),
  ]
  it.each(accepted)('accepts %s', async (_name, overrides) => {
    const res = await postV1([inference({ ...overrides, deliveryMethod: 'async' })])
    expect(res.json.errors).toBeUndefined()
    expect(res.status).toBe(200)
  })

  it('reports every bad field of one task, each as its own error', async () => {
    const res = await postV1([inference({ outputQuality: 5, numberResults: 50, foo: 1 })])
    expect(res.status).toBe(400)
    expect(res.json.errors?.map((e) => e.parameter).sort()).toEqual(['foo', 'numberResults', 'outputQuality'])
  })

  it('answers unsupported task types, and keeps the other tasks of the request', async () => {
    const res = await postV1([
      { taskType: 'videoInference', taskUUID: crypto.randomUUID() },
      { taskType: 'ping', ping: true },
    ])
    expect(res.status).toBe(200)
    expect(res.json.data).toEqual([{ taskType: 'ping', pong: true }])
    expect(res.json.errors?.[0]).toMatchObject({ code: 'unsupportedTaskType', parameter: 'taskType' })
  })

  it('rejects a body that is not JSON, once authenticated', async () => {
    const res = await postV1('{nope')
    expect(res.status).toBe(400)
    expect(res.json.errors?.[0]?.code).toBe('invalidRequestBody')
  })
})
