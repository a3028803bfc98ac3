/**
 * The workers project alone, on the test files named in MUTATION_TESTS (comma-separated): what
 * StrykerJS runs for one module (scripts/stryker.ts). The node project is left out because its
 * end-to-end tests run the gateway under `wrangler dev`, outside Stryker's sandbox.
 */
import { defineConfig, type TestProjectInlineConfiguration } from 'vitest/config'
import base from './vitest.config.ts'

const workers = base.test!.projects![0] as TestProjectInlineConfiguration
const include = process.env.MUTATION_TESTS?.split(',').filter(Boolean)

// One test file at a time: Stryker learns which test reached a line from a global that names the
// running test, and files running side by side in one isolate would blur it.
export default defineConfig({ ...workers, test: { ...workers.test, include: include ?? workers.test!.include, fileParallelism: false } })
