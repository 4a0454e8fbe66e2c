/** Secret names, types and metadata shared by every layer. */

export const SECRET_NAME_PATTERN = /^[A-Za-z0-9_.\-/]{1,128}$/;

export const SECRET_TYPES = ['api_key', 'token', 'oauth', 'password', 'db_credential', 'webhook_secret', 'ssh_key', 'generic'] as const;

export type SecretType = (typeof SECRET_TYPES)[number];

export function isSecretType(value: string): value is SecretType {
  return (SECRET_TYPES as readonly string[]).includes(value);
}

/** Returns a reason when `name` is not a valid secret name, else null. */
export function secretNameProblem(name: string): string | null {
  if (name.length === 0) return 'name is empty';
  if (name.length > 128) return 'name is longer than 128 characters';
  if (!SECRET_NAME_PATTERN.test(name)) return 'name may only contain A-Z a-z 0-9 _ . - /';
  return null;
}
