/**
 * `npm run mutants`: mutation testing of the promises where a silent regression costs money or
 * safety. Each mutant in scripts/mutant-list.ts is a one-line change. It is applied to a scratch
 * copy of the repository, the test files that guard that module are run there (workers-level
 * tests under `--project workers`), and the mutant is reported killed (some test failed) or
 * survived. Each mutant is aimed at a promise, so a survivor is a missing test, never noise
 * (CONTRIBUTING.md, which also says how far StrykerJS gets here). Not part of `npm test`: run
 * it before a release. `npm run mutants -- money` runs one module's mutants.
 */
import { execFileSync, spawnSync } from 'node:child_process'
import { cpSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { MUTANTS, type Mutant } from './mutant-list.ts'

const ROOT = fileURLToPath(new URL('..', import.meta.url))
const only = process.argv.slice(2).filter((a) => !a.startsWith('-'))

/** A copy of the working tree (without .git and node_modules, which it links), to mutate freely. */
function scratchCopy(): string {
  const dir = mkdtempSync(join(tmpdir(), 'imagine-edge-mutants-'))
  const files = execFileSync('git', ['ls-files', '--cached', '--others', '--exclude-standard'], { cwd: ROOT, encoding: 'utf8' })
    .split('\n')
    .filter(Boolean)
  for (const file of files) {
    try {
      cpSync(join(ROOT, file), join(dir, file), { recursive: true })
    } catch {
      // A file deleted but not yet committed: nothing to copy.
    }
  }
  symlinkSync(join(ROOT, 'node_modules'), join(dir, 'node_modules'))
  return dir
}

/** Runs the mutant's tests in `dir`: true when one of them failed (the mutant is killed). */
function killed(dir: string, mutant: Mutant): boolean {
  const project = mutant.tests.every((t) => t.startsWith('test/workers/')) ? ['--project', 'workers'] : []
  const run = spawnSync('npx', ['vitest', 'run', ...project, ...mutant.tests], { cwd: dir, encoding: 'utf8', stdio: 'pipe' })
  return run.status !== 0
}

function apply(dir: string, mutant: Mutant): () => void {
  const path = join(dir, mutant.file)
  const original = readFileSync(path, 'utf8')
  const at = original.indexOf(mutant.from)
  if (at === -1 || original.indexOf(mutant.from, at + 1) !== -1)
    throw new Error(`${mutant.name}: "${mutant.from}" must occur exactly once in ${mutant.file}`)
  writeFileSync(path, original.replace(mutant.from, mutant.to))
  return () => writeFileSync(path, original)
}

const chosen = MUTANTS.filter((m) => !only.length || only.includes(m.module))
// Before any test runs: a mutant whose line was since rewritten must be rewritten too.
const stale = chosen.filter((m) => readFileSync(join(ROOT, m.file), 'utf8').split(m.from).length !== 2)
if (stale.length) throw new Error(`no longer occur exactly once in their files: ${stale.map((m) => `${m.file}: ${m.name}`).join('; ')}`)
const dir = scratchCopy()
const outcomes: { mutant: Mutant; killed: boolean }[] = []
try {
  // Unmutated, every test must pass here: otherwise "killed" would mean nothing.
  const workers = [...new Set(chosen.flatMap((m) => m.tests))].filter((t) => t.startsWith('test/workers/'))
  if (killed(dir, { module: 'money', name: 'none', file: '', from: '', to: '', tests: workers })) {
    throw new Error('the guarding tests fail without any mutant: fix them first (npx vitest run --project workers …)')
  }
  console.log(`baseline: the ${workers.length} guarding test files pass unmutated`)
  for (const mutant of chosen) {
    const restore = apply(dir, mutant)
    const started = Date.now()
    const dead = killed(dir, mutant)
    restore()
    outcomes.push({ mutant, killed: dead })
    const verdict = dead ? 'killed  ' : mutant.equivalent ? 'survived (equivalent)' : 'SURVIVED'
    console.log(`${verdict}  ${mutant.module.padEnd(12)} ${mutant.name}  (${Math.round((Date.now() - started) / 1000)} s)`)
  }
} finally {
  rmSync(dir, { recursive: true, force: true })
}

console.log('\nscore per module (killed / mutants; equivalent mutants listed with their reason)')
for (const module of [...new Set(outcomes.map((o) => o.mutant.module))]) {
  const mine = outcomes.filter((o) => o.mutant.module === module)
  const dead = mine.filter((o) => o.killed).length
  console.log(`  ${module.padEnd(12)} ${dead}/${mine.length}  ${Math.round((100 * dead) / mine.length)} %`)
  for (const o of mine.filter((x) => !x.killed))
    console.log(`    survived: ${o.mutant.name}${o.mutant.equivalent ? ` (equivalent: ${o.mutant.equivalent})` : ''}`)
}
const unexplained = outcomes.filter((o) => !o.killed && !o.mutant.equivalent)
if (unexplained.length) {
  console.error(`\n${unexplained.length} mutant(s) survived without a written reason`)
  process.exitCode = 1
}
