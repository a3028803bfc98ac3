/** The /docs/errors page: one entry per error code, each an anchor an error's `documentation` points at. */
import { ERROR_CATALOG } from './catalog.ts'

const escape = (text: string) => text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;')

export function errorsPage(): string {
  const entries = Object.entries(ERROR_CATALOG)
    .sort(([a], [b]) => a.localeCompare(b))
    .map(
      ([code, meaning]) =>
        `    <section id="${code}">\n      <h2><code>${code}</code></h2>\n      <p>${escape(meaning)}</p>\n    </section>`,
    )
    .join('\n')
  return `<!doctype html>
<html lang="en">
  <head>
    <meta charset="utf-8" />
    <meta name="viewport" content="width=device-width, initial-scale=1" />
    <title>imagine-edge errors</title>
    <style>
      body { font: 16px/1.5 system-ui, sans-serif; max-width: 46rem; margin: 2rem auto; padding: 0 1rem; }
      section:target { background: #fff6d5; }
      h2 { font-size: 1.1rem; margin: 1.5rem 0 0.25rem; }
    </style>
  </head>
  <body>
    <h1>Errors</h1>
    <p>Every error is <code>{"errors":[{code, message, parameter?, taskType?, taskUUID?, documentation}]}</code>, and its
    <code>documentation</code> links here. A code not listed comes from Runware itself, with Runware's own page.
    The API reference is at <a href="/docs/">/docs/</a>.</p>
${entries}
  </body>
</html>
`
}
