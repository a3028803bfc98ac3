/**
 * `npm test` runs this: the layout's promises, checked against the code. Imports in src/ run one
 * way, from the entry down to lib/ (LAYERS, docs/architecture.md); no import cycles; no file in
 * src/ over MAX_LINES; no two exported types share a name; no source comment cites a file that
 * is not in the repo; and every path the docs name exists.
 */
import { execFileSync } from 'node:child_process'
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs'
import { dirname, join, normalize } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'

/** src/'s folders (and root files), top first: a module may import only from its own folder or further down. */
export const LAYERS = [
  'index.ts',
  'app.ts',
  'routes',
  'jobs',
  'sockets',
  'protocol',
  'app-env.ts',
  'services.ts',
  'tasks',
  'deliveries',
  'images',
  'tenant',
  'access',
  'upstream',
  'config',
  'schemas',
  'models',
  'lib',
] as const

export const MAX_LINES = 300

/** Source files by repo-relative path. */
export type Sources = ReadonlyMap<string, string>

const IMPORT =
  /(?:^|\n)\s*(?:import|export)\s[^'"]*?from\s*['"]([^'"]+)['"]|(?:^|\n)\s*import\s*['"]([^'"]+)['"]|import\(\s*['"]([^'"]+)['"]\s*\)/g

/** The repo-relative files `file` imports by relative path. */
export function importsOf(file: string, text: string, sources: Sources): string[] {
  const found: string[] = []
  for (const m of text.matchAll(IMPORT)) {
    const spec = m[1] ?? m[2] ?? m[3] ?? ''
    if (!spec.startsWith('.')) continue
    const base = normalize(join(dirname(file), spec))
    const target = [base, `${base}.ts`, join(base, 'index.ts')].find((p) => sources.has(p) || /\.(json|ts)$/.test(p))
    if (target) found.push(target)
  }
  return found
}

/** The layer of a file in src/ (its index in LAYERS), or -1. */
export function layerOf(file: string): number {
  if (!file.startsWith('src/')) return -1
  const [first = ''] = file.slice(4).split('/')
  return (LAYERS as readonly string[]).indexOf(first)
}

const folderOf = (file: string) => file.slice(4).split('/')[0]

/** Every broken promise of the layout, one line each. */
export function structureProblems(sources: Sources, exists: (path: string) => boolean = existsSync): string[] {
  const problems: string[] = []
  const graph = new Map<string, string[]>()
  const exported = new Map<string, string>()
  for (const [file, text] of sources) {
    const imports = importsOf(file, text, sources)
    graph.set(file, imports)
    if (!file.startsWith('src/')) continue
    const layer = layerOf(file)
    if (layer === -1) problems.push(`${file}: not in a known folder of src/ (scripts/check-structure.ts LAYERS)`)
    for (const target of imports) {
      if (!target.startsWith('src/')) problems.push(`${file} imports ${target}, outside src/`)
      else if (folderOf(target) !== folderOf(file) && layerOf(target) <= layer)
        problems.push(`${file} imports ${target}: ${folderOf(target)} is not below ${folderOf(file)}`)
    }
    const lines = text.split('\n').length - (text.endsWith('\n') ? 1 : 0)
    if (lines > MAX_LINES) problems.push(`${file} has ${lines} lines (at most ${MAX_LINES})`)
    for (const [, name] of text.matchAll(/^export\s+(?:declare\s+)?(?:abstract\s+)?(?:interface|type|class|enum)\s+(\w+)/gm)) {
      if (!name) continue
      const other = exported.get(name)
      if (other) problems.push(`${file} exports a type named ${name}, as ${other} does`)
      else exported.set(name, file)
    }
    for (const [, cited] of text.matchAll(/\b([\w./-]+\.md)\b/g)) {
      if (cited && !exists(cited) && !exists(join('docs', cited))) problems.push(`${file} cites ${cited}, which is not in the repo`)
    }
  }
  problems.push(...cycles(graph))
  return problems
}

/** Import cycles among the files, each reported once. */
function cycles(graph: ReadonlyMap<string, string[]>): string[] {
  const found: string[] = []
  const state = new Map<string, 'open' | 'done'>()
  const stack: string[] = []
  const visit = (file: string) => {
    state.set(file, 'open')
    stack.push(file)
    for (const next of graph.get(file) ?? []) {
      if (state.get(next) === 'open') found.push(`import cycle: ${[...stack.slice(stack.indexOf(next)), next].join(' → ')}`)
      else if (!state.has(next) && graph.has(next)) visit(next)
    }
    stack.pop()
    state.set(file, 'done')
  }
  for (const file of graph.keys()) if (!state.has(file)) visit(file)
  return found
}

/**
 * Paths a markdown file names (in backticks or as relative links) that do not exist. A bare file
 * name counts as found in the repo's root, beside the doc, or in a folder named on the same line
 * (a table row such as "`src/tasks/` | `generation.ts`, `dispatcher.ts`").
 */
export function missingDocPaths(doc: string, text: string, exists: (path: string) => boolean = existsSync): string[] {
  const missing: string[] = []
  for (const line of text.split('\n')) {
    const named = new Set<string>()
    const folders = ['', dirname(doc)]
    for (const [, path] of line.matchAll(/`((?:src|test|scripts|bench|emulator|client|tools|public|docs|\.ci)\/[\w./-]*[\w/])`/g)) {
      if (!path) continue
      named.add(path)
      folders.push(path.endsWith('/') ? path : dirname(path))
    }
    for (const [, link] of line.matchAll(/\]\(((?!https?:|#|mailto:)[^)#\s]+)/g)) if (link) named.add(join(dirname(doc), link))
    for (const path of named) if (!exists(path)) missing.push(`${doc} names ${path}, which does not exist`)
    for (const [, name] of line.matchAll(/`([\w.-]+\.(?:jsonc|json|ts|md|toml))`/g)) {
      if (name && !folders.some((folder) => exists(join(folder, name))))
        missing.push(`${doc} names ${name}, which is in no folder its line names`)
    }
  }
  return missing
}

function walk(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name)
    return statSync(path).isDirectory() ? walk(path) : [path]
  })
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  process.chdir(fileURLToPath(new URL('..', import.meta.url)))
  const files = [...walk('src'), ...walk('tools')].filter((f) => f.endsWith('.ts'))
  const sources = new Map(files.map((f) => [f, readFileSync(f, 'utf8')]))
  const docs = ['README.md', ...walk('docs').filter((f) => f.endsWith('.md'))]
  // A generated output the docs point at (a bench result, say) is git-ignored and may not exist yet.
  const ignored = (path: string) => {
    try {
      execFileSync('git', ['check-ignore', '-q', path])
      return true
    } catch {
      return false
    }
  }
  const exists = (path: string) => existsSync(path) || ignored(path)
  const problems = [...structureProblems(sources), ...docs.flatMap((d) => missingDocPaths(d, readFileSync(d, 'utf8'), exists))]
  for (const p of problems) console.error(p)
  if (problems.length) process.exit(1)
  console.log(`structure: ${sources.size} modules in ${LAYERS.length} layers, imports one way, no cycles; docs name only real paths`)
}
