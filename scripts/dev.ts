/** `npm run dev`: the gateway and the Runware emulator, wired together, with a dev API key. */
import { DEV_EMULATOR_PORT, DEV_PORT, devSecrets } from './dev-secrets.ts'
import { startStack } from './stack.ts'

const { DEV_API_KEY, ...secrets } = devSecrets()

const stack = await startStack({
  secrets,
  gatewayPort: DEV_PORT,
  emulatorPort: DEV_EMULATOR_PORT,
  persistTo: '.wrangler/state',
  logTo: 'inherit',
})

console.log(`
  imagine-edge is running (development mode)

  gateway    ${stack.gatewayUrl}          POST /v1, GET /v1/tasks/{id}, GET /v1/models, GET /healthz
  emulator   ${stack.emulator.url}/v1     a local stand-in for Runware (no account needed)
  dev key    ${DEV_API_KEY}
  playground ${stack.gatewayUrl}/#key=${DEV_API_KEY}
  API docs   ${stack.gatewayUrl}/docs/

  try it:
    curl -s ${stack.gatewayUrl}/v1 -H 'Authorization: Bearer ${DEV_API_KEY}' \\
      -d '[{"taskType":"imageInference","taskUUID":"'$(node -e 'console.log(crypto.randomUUID())')'","model":"imagineart:1@5","positivePrompt":"a lighthouse at dusk","width":2560,"height":1440}]'
  or: npm run demo
  keys:      npm run keys -- create --name my-app --budget 5   (admin token from .wrangler/dev-secrets.json)
`)

const stop = () => void stack.stop().then(() => process.exit(0))
process.on('SIGINT', stop)
process.on('SIGTERM', stop)
