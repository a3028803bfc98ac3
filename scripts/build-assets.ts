/**
 * Builds the generated static assets in public/: the OpenAPI description (from the zod
 * schemas), the errors page (from tools/errors/catalog.ts) and the API reference's script (Scalar, served locally so /docs works offline).
 * Run by `npm test`, and by wrangler before `wrangler dev` and `wrangler deploy` ([build]).
 */
import { copyFileSync, mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { errorsPage } from '../tools/errors/page.ts'
import { buildOpenApiDocument } from '../tools/openapi/openapi.ts'

const root = fileURLToPath(new URL('..', import.meta.url))
const publicDir = join(root, 'public')
mkdirSync(join(publicDir, 'vendor'), { recursive: true })
writeFileSync(join(publicDir, 'openapi.json'), `${JSON.stringify(buildOpenApiDocument(), null, 2)}\n`)
writeFileSync(join(publicDir, 'docs/errors.html'), errorsPage())
// The package exports no path to its browser bundle, so take it from where npm installs it.
copyFileSync(join(root, 'node_modules/@scalar/api-reference/dist/browser/standalone.js'), join(publicDir, 'vendor/scalar.js'))
console.log('built public/openapi.json, public/docs/errors.html and public/vendor/scalar.js')
