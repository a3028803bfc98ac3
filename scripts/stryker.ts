/**
 * `npm run stryker`: StrykerJS over whole modules where a silent regression costs money or safety
 * (scripts/mutant-list.ts MODULES), where `npm run mutants` applies only the curated mutants.
 * Stryker drives the workers project (vitest.mutants.config.ts) with per-test coverage, so each
 * mutant runs only the tests that reach its line. A mutant no test kills is either a missing test
 * or carries a `// Stryker disable next-line <mutator>: <why>` comment saying why it cannot change
 * what a user sees; such mutants are reported as ignored, with the reason. Exits non-zero when a
 * mutant survives without one. `npm run stryker -- money` runs one module. Reports go to
 * reports/mutation/{module}.html; `--incremental` reuses the last run's results where nothing changed
 * (reports/stryker-incremental-{module}.json), which is quicker while writing tests but can keep a
 * stale survivor.
 */
import type { LogLevel, MutantResult, PartialStrykerOptions } from '@stryker-mutator/api/core'
import { Stryker } from '@stryker-mutator/core'
import { MODULES, type Module } from './mutant-list.ts'

const args = process.argv.slice(2)
const named = args.filter((a) => !a.startsWith('-')) as Module[]
const unknown = named.filter((m) => !(m in MODULES))
if (unknown.length) throw new Error(`unknown module(s) ${unknown.join(', ')}: one of ${Object.keys(MODULES).join(', ')}`)
const modules = named.length ? named : (Object.keys(MODULES) as Module[])

function options(module: Module): PartialStrykerOptions {
  return {
    testRunner: 'vitest',
    plugins: ['@stryker-mutator/vitest-runner'],
    vitest: { configFile: 'vitest.mutants.config.ts', related: false },
    mutate: MODULES[module].files,
    // Coverage is gathered inside workerd, where the tests and the Durable Objects share an isolate.
    coverageAnalysis: 'perTest',
    concurrency: 2,
    reporters: ['html', 'json', 'progress'],
    htmlReporter: { fileName: `reports/mutation/${module}.html` },
    jsonReporter: { fileName: `reports/mutation/${module}.json` },
    // Opt-in: an incremental run reuses a survivor's result when the tests that covered it are
    // unchanged, so a new test that reaches a module-level line may not be tried against it.
    incremental: args.includes('--incremental'),
    incrementalFile: `reports/stryker-incremental-${module}.json`,
    ignorePatterns: ['.wrangler', '.vitest', 'bench/results', 'test/artifacts', 'dist', 'out', 'reports'],
    tempDirName: '.stryker-tmp',
    cleanTempDir: 'always',
    logLevel: 'warn' as LogLevel,
  }
}

const DETECTED = new Set(['Killed', 'Timeout'])
const where = (m: MutantResult) => `${m.fileName}:${m.location.start.line}:${m.location.start.column}`

let unexplained = 0
const scores: string[] = []
for (const module of modules) {
  // Read by vitest.mutants.config.ts in Stryker's test-runner processes, which inherit it.
  process.env.MUTATION_TESTS = MODULES[module].tests.join(',')
  console.log(`\n${module}: mutating ${MODULES[module].files.join(', ')}`)
  const results = await new Stryker(options(module)).runMutationTest()
  const ignored = results.filter((m) => m.status === 'Ignored')
  const counted = results.filter((m) => m.status !== 'Ignored')
  const detected = counted.filter((m) => DETECTED.has(m.status))
  const survivors = counted.filter((m) => !DETECTED.has(m.status))
  unexplained += survivors.length
  const score = counted.length ? (100 * detected.length) / counted.length : 100
  scores.push(
    `  ${module.padEnd(12)} ${detected.length}/${counted.length} killed  ${score.toFixed(1)} %  (${ignored.length} ignored with a reason)`,
  )
  for (const m of survivors) console.log(`  ${m.status.toUpperCase()}  ${where(m)}  ${m.mutatorName}: ${m.replacement.split('\n')[0]}`)
}

console.log('\nscore per module (killed or timed out / mutants not ignored)')
for (const line of scores) console.log(line)
if (unexplained) {
  console.error(`\n${unexplained} mutant(s) survived without a written reason: see reports/mutation/`)
  process.exitCode = 1
}
