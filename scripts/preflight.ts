/** `npm test` runs this first, so a machine without Chromium hears how to get one at once, not minutes in. */
import { accessSync, constants, statSync } from 'node:fs'
import { delimiter, join } from 'node:path'
import { pathToFileURL } from 'node:url'

export const NO_CHROMIUM =
  'npm test needs Chromium for the browser tests: apt-get install chromium (Debian/Ubuntu), or set CHROMIUM_PATH=/path/to/chromium'

const executable = (path: string) => {
  try {
    accessSync(path, constants.X_OK)
    return statSync(path).isFile()
  } catch {
    return false
  }
}

/** The browser the tests drive: CHROMIUM_PATH if set (it wins, found or not), else /usr/bin/chromium, else `chromium` on PATH. */
export function chromiumPath(env: NodeJS.ProcessEnv = process.env): string | undefined {
  if (env.CHROMIUM_PATH) return executable(env.CHROMIUM_PATH) ? env.CHROMIUM_PATH : undefined
  const onPath = (env.PATH ?? '').split(delimiter).filter(Boolean)
  return ['/usr/bin/chromium', ...onPath.map((dir) => join(dir, 'chromium'))].find(executable)
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href && !chromiumPath()) {
  const given = process.env.CHROMIUM_PATH
  console.error(given ? `${NO_CHROMIUM} (CHROMIUM_PATH=${given} is not an executable file)` : NO_CHROMIUM)
  process.exit(1)
}
