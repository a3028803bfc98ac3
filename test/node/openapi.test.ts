/** Acceptance: /openapi.json is valid OpenAPI 3.1, generated from the schemas that validate. */
import { validate } from '@readme/openapi-parser'
import { describe, expect, it } from 'vitest'
import { imagineArt15 } from '../../src/models/imagineart-1-5.ts'
import { buildOpenApiDocument } from '../../tools/openapi/openapi.ts'

describe('the OpenAPI description', () => {
  const document = buildOpenApiDocument()
  const text = JSON.stringify(document)

  it('validates as OpenAPI 3.1', async () => {
    const result = await validate(structuredClone(document) as never)
    expect(result.valid ? [] : result.errors).toEqual([])
    expect(document.openapi).toBe('3.1.0')
  })

  it("carries the model's rules: the nine sizes, the prompt limits, the enums", () => {
    for (const size of imagineArt15.sizes) expect(text).toContain(`${size.width}x${size.height}`)
    const body = (document.paths as Record<string, Record<string, { requestBody: { content: Record<string, { schema: unknown }> } }>>)[
      '/v1'
    ]?.post
    const schemaText = JSON.stringify(body?.requestBody)
    expect(schemaText).toContain('"minLength":2')
    expect(schemaText).toContain('"maxLength":3000')
    expect(schemaText).toContain('"enum":["JPG","PNG","WEBP"]')
    expect(schemaText).toContain('"minimum":20')
    expect(schemaText).toContain('"maximum":99')
  })

  it('describes the error envelope on every route, and both security schemes', () => {
    expect(text).toContain("Runware's error envelope")
    const paths = document.paths as Record<string, Record<string, { responses: Record<string, unknown> }>>
    const withErrors = Object.entries(paths).filter(([path]) => path !== '/v1/models' && path !== '/healthz')
    for (const [, operations] of withErrors) {
      for (const operation of Object.values(operations)) {
        expect(Object.keys(operation.responses).some((s) => s.startsWith('4'))).toBe(true)
      }
    }
    expect(JSON.stringify(document.components)).toContain('bearerAuth')
    expect(JSON.stringify(document.components)).toContain('adminAuth')
  })

  it('uses a seed request as the example', () => {
    expect(text).toContain('39a53ab2-8f31-41d4-a71f-1046162099d0')
  })
})
