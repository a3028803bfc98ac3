// Types `exports.default` in tests from the Worker's own entry point.
declare namespace Cloudflare {
  interface GlobalProps {
    mainModule: typeof import('../../src/index')
  }
}
