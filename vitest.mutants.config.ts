/**
 * The workers project alone, on the test files named in MUTATION_TESTS (comma-separated): what
 * StrykerJS runs for one module (scripts/stryker.ts). The node project is left out because its
 * end-to-end tests run the gateway under `wrangler dev`, outside Stryker's sandbox.
 */
import { defineConfig, type TestProjectInlineConfiguration } from 'vitest/config'
import base from './vitest.config.ts'

const workers = base.test!.projects![0] as TestProjectInlineConfiguration
const include = process.env.MUTATION_TESTS?.split(',').filter(Boolean)

export default defineConfig({ ...workers, test: { ...workers.test, include: include ?? workers.test!.include } })
