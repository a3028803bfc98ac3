/** Every error code the gateway answers with has an entry on /docs/errors, which its `documentation` points at. */
import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { ERROR_CATALOG } from '../../tools/errors/catalog.ts'
import { errorsPage } from '../../tools/errors/page.ts'

const SRC = join(import.meta.dirname, '../../src')

/** The codes the source writes: `code: '…'`, zod's `runwareCode: '…'`, and `['code', 'message']` pairs. */
function codesInSource(): Set<string> {
  const codes = new Set<string>()
  for (const file of readdirSync(SRC, { recursive: true, encoding: 'utf8' }).filter((f) => f.endsWith('.ts'))) {
    const text = readFileSync(join(SRC, file), 'utf8')
    for (const [, code] of text.matchAll(/\b(?:code|runwareCode): '([A-Za-z]+)'/g)) codes.add(code as string)
    for (const [, code] of text.matchAll(/\['([a-z][A-Za-z]+)', `/g)) codes.add(code as string)
    // A code chosen by a condition: `code: x ? 'a' : 'b'`, `runwareCode = x ? 'a' : 'b'`.
    for (const [, a, b] of text.matchAll(/(?:code|Code)(?::| =) [\w.=' ]+ \? '([A-Za-z]+)' : '([A-Za-z]+)'/g))
      codes.add(a as string).add(b as string)
  }
  codes.delete('custom') // zod's own issue code, never answered
  return codes
}

describe('the errors page', () => {
  it('lists every code the source answers with', () => {
    const codes = codesInSource()
    expect(codes.size).toBeGreaterThan(25)
    expect([...codes].filter((c) => !(c in ERROR_CATALOG))).toEqual([])
  })

  it('gives each code an anchor', () => {
    const page = errorsPage()
    for (const code of Object.keys(ERROR_CATALOG)) expect(page).toContain(`<section id="${code}">`)
  })
})
