/** Throwaway secrets for tests. Tests also assert these never appear in responses or logs. */
export const TEST_SECRETS = {
  RUNWARE_API_KEY: 'rw_test_upstream_key_7f3a9c1e5b2d4f60',
  SIGNING_SECRET: 'test-signing-secret-0123456789abcdef0123456789',
  API_KEYS: 'ie_test_tenant_a_9b8c7d6e5f4a3b2c,ie_test_tenant_b_1a2b3c4d5e6f7a8b',
  R2_ACCESS_KEY_ID: 'test-r2-access-key-id-5e6f',
  R2_SECRET_ACCESS_KEY: 'test-r2-secret-access-key-9d8c7b6a5f4e',
  ADMIN_TOKEN: 'test-admin-token-4b5c6d7e8f9a0b1c',
} as const

export const KEY_A = 'ie_test_tenant_a_9b8c7d6e5f4a3b2c'
export const KEY_B = 'ie_test_tenant_b_1a2b3c4d5e6f7a8b'
