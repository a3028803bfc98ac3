/** r2-presigned mode: Runware receives a SigV4 presigned PUT into the operator's bucket. */
import { env } from 'cloudflare:workers'
import { createExecutionContext } from 'cloudflare:test'
import { describe, expect, it } from 'vitest'
import { app } from '../../../src/app'
import { KEY_A } from '../../secrets'
import { inference, upstreamRequests } from '../helpers'

describe('r2-presigned uploads', () => {
  it('sends Runware a presigned PUT per child that signs only host, with the expiry in the query', async () => {
    const marker = `presign-${crypto.randomUUID()}`
    const withS3 = { ...env, R2_ACCOUNT_ID: 'acct0123456789', R2_S3_ENDPOINT: 'https://eu.r2.example.test' }
    const body = inference({ positivePrompt: `a mill ${marker}`, numberResults: 2, deliveryMethod: 'async', outputFormat: 'PNG' })
    const res = await app.fetch(
      new Request('http://gw/v1', { method: 'POST', headers: { authorization: `Bearer ${KEY_A}` }, body: JSON.stringify([body]) }),
      withS3,
      createExecutionContext(),
    )
    expect(res.status).toBe(200)
    const [request] = await upstreamRequests(marker)
    const urls = (request?.body ?? []).map((t) => new URL(String(t.uploadEndpoint)))
    expect(urls).toHaveLength(2)
    urls.forEach((url, i) => {
      expect(url.origin).toBe('https://eu.r2.example.test')
      expect(url.pathname).toMatch(new RegExp(`^/imagine-edge-images/images/t[0-9a-f]+/${body.taskUUID}/${i}\\.png$`))
      expect(url.searchParams.get('X-Amz-SignedHeaders')).toBe('host')
      expect(url.searchParams.get('X-Amz-Expires')).toBe(env.TASK_DEADLINE_SECONDS)
      expect(url.searchParams.get('X-Amz-Algorithm')).toBe('AWS4-HMAC-SHA256')
      expect(url.searchParams.get('X-Amz-Signature')).toMatch(/^[0-9a-f]{64}$/)
      expect(url.searchParams.get('X-Amz-Credential')).toMatch(/^test-r2-access-key-id-5e6f\/\d{8}\/auto\/s3\/aws4_request$/)
    })
  })
})
