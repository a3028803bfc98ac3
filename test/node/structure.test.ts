/** The layout check (scripts/check-structure.ts) catches each thing it promises to catch. */
import { describe, expect, it } from 'vitest'
import { MAX_LINES, missingDocPaths, structureProblems } from '../../scripts/check-structure.ts'

const tree = (files: Record<string, string>) => new Map(Object.entries(files))
const none = () => false

describe('check-structure', () => {
  it('passes imports that run down the layers, and within a folder', () => {
    const sources = tree({
      'src/routes/tasks.ts': "import { TaskView } from '../tasks/task-view'\nimport { services } from './middleware'",
      'src/routes/middleware.ts': "import { buildServices } from '../services'",
      'src/services.ts': "import type { TaskView } from './tasks/task-view'",
      'src/tasks/task-view.ts': "import { ApiError } from '../lib/errors'",
      'src/lib/errors.ts': 'export class ApiError extends Error {}',
    })
    expect(structureProblems(sources, none)).toEqual([])
  })

  it('names an import that runs back up, and one that leaves src/', () => {
    const sources = tree({
      'src/lib/ids.ts': "import type { TaskRecord } from '../schemas/records'\nimport { x } from '../../tools/openapi/openapi'",
      'src/schemas/records.ts': '',
      'src/tasks/task-store.ts': "import { taskRoutes } from '../routes/tasks'",
      'src/routes/tasks.ts': '',
    })
    expect(structureProblems(sources, none)).toEqual([
      'src/lib/ids.ts imports src/schemas/records.ts: schemas is not below lib',
      'src/lib/ids.ts imports tools/openapi/openapi.ts, outside src/',
      'src/tasks/task-store.ts imports src/routes/tasks.ts: routes is not below tasks',
    ])
  })

  it('finds an import cycle inside a folder, a long file, a shared type name and a cited file that is not there', () => {
    const long = "import { a } from './a'\n// see DESIGN.md §2" + '\n'.repeat(MAX_LINES)
    const sources = tree({
      'src/tasks/a.ts': "import { b } from './b'\nexport interface RecordOutcome { n: number }",
      'src/tasks/b.ts': long,
      'src/tenant/c.ts': 'export type RecordOutcome = { m: number }',
    })
    const problems = structureProblems(sources, none)
    expect(problems).toContain('import cycle: src/tasks/a.ts → src/tasks/b.ts → src/tasks/a.ts')
    expect(problems).toContain(`src/tasks/b.ts has ${MAX_LINES + 1} lines (at most ${MAX_LINES})`)
    expect(problems).toContain('src/tenant/c.ts exports a type named RecordOutcome, as src/tasks/a.ts does')
    expect(problems).toContain('src/tasks/b.ts cites DESIGN.md, which is not in the repo')
  })

  it('names a file outside the known folders of src/', () => {
    expect(structureProblems(tree({ 'src/objects/x.ts': '' }), none)).toEqual([
      'src/objects/x.ts: not in a known folder of src/ (scripts/check-structure.ts LAYERS)',
    ])
  })

  it('names doc paths that do not exist, resolving bare names against the folders on their line', () => {
    const exists = (p: string) => ['src/tasks/', 'src/tasks/generation.ts', 'docs/storage.md'].includes(p)
    const doc = [
      '| `src/tasks/` | `generation.ts`, `dispatcher.ts` |',
      'See [storage.md](storage.md) and [gone](gone.md), and `src/services/container.ts`.',
    ].join('\n')
    expect(missingDocPaths('docs/architecture.md', doc, exists)).toEqual([
      'docs/architecture.md names dispatcher.ts, which is in no folder its line names',
      'docs/architecture.md names src/services/container.ts, which does not exist',
      'docs/architecture.md names docs/gone.md, which does not exist',
    ])
  })
})
