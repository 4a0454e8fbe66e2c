/**
 * The typed client: one method per protocol method, local argument checks for a clear
 * early error, and a light check of every result before handing it out.
 */
import { secretNameProblem } from '../shared/secrets.js';
import { MAX_COMMAND_ARGS, MAX_COMMAND_CHARS, MAX_GET_MANY_NAMES, MAX_PURPOSE_LENGTH } from '../shared/protocol.js';
import type {
  AgentMethod,
  HelloParams,
  HelloResult,
  LeaseInfo,
  LeaseRevokeResult,
  ParamsOf,
  ResultOf,
  RunCommand,
  SecretGetManyParams,
  SecretGetParams,
  SecretGetResult,
  SecretSummary,
  StatusResult,
} from '../shared/protocol.js';
import type { CallOptions, Connection, PendingInfo } from './connection.js';
import { KeychainError } from './errors.js';
import { resultProblem } from './results.js';

export interface RequestOptions {
  /** Stops waiting for the answer; the promise rejects with signal.reason. */
  signal?: AbortSignal;
}

export interface GetSecretOptions extends RequestOptions {
  /** Why the agent needs the secret; shown to the human, marked as claimed. */
  purpose?: string;
  /** A specific version; the current one when absent. */
  version?: number;
  /** Called when the request waits for a human decision. */
  onPending?: (info: PendingInfo) => void;
}

export interface GetSecretsOptions extends RequestOptions {
  /** Why the agent needs the secrets; shown to the human, marked as claimed. */
  purpose?: string;
  /** Called when the request waits for a human decision (one approval for the whole set). */
  onPending?: (info: PendingInfo) => void;
  /**
   * The command that will get the values, shown in the approval (a grant made from it covers
   * only that command). The host accepts it from `akc run` only; from any other program the
   * request fails with INVALID_ARGUMENT.
   */
  command?: RunCommand;
}

/** Sends one request and checks its result's shape. */
export async function request<M extends AgentMethod>(
  conn: Connection,
  method: M,
  params: ParamsOf<M>,
  opts: CallOptions,
): Promise<ResultOf<M>> {
  const result = await conn.call(method, params, opts);
  const problem = resultProblem(method, result);
  if (problem !== null) {
    throw new KeychainError('PROTOCOL', `failed to ${opts.action}: the host sent a malformed result (${problem})`);
  }
  return result as ResultOf<M>;
}

export class KeychainClient {
  private readonly conn: Connection;
  private readonly helloParams: HelloParams;
  private currentSession: HelloResult;

  /** Use connect(); this takes a connection that already said hello. */
  constructor(conn: Connection, helloParams: HelloParams, session: HelloResult) {
    this.conn = conn;
    this.helloParams = helloParams;
    this.currentSession = session;
  }

  /** The latest hello result: who the host thinks we are, and the vault state then. */
  get session(): HelloResult {
    return this.currentSession;
  }

  get socketPath(): string {
    return this.conn.path;
  }

  get closed(): boolean {
    return this.conn.isClosed;
  }

  /** Says hello again (connect already did) and refreshes `session`. */
  async hello(opts: RequestOptions = {}): Promise<HelloResult> {
    this.currentSession = await request(this.conn, 'hello', this.helloParams, {
      action: 'greet the agent keychain',
      signal: opts.signal,
    });
    return this.currentSession;
  }

  status(opts: RequestOptions = {}): Promise<StatusResult> {
    return request(this.conn, 'status', {}, { action: 'get the status', signal: opts.signal });
  }

  /** Names, types and descriptions; never values. */
  async listSecrets(opts: RequestOptions = {}): Promise<SecretSummary[]> {
    const result = await request(this.conn, 'secret.list', {}, { action: 'list secrets', signal: opts.signal });
    return result.secrets;
  }

  /**
   * Gets a secret's value. Without a matching grant this waits for a human (onPending is
   * called at once), and rejects with code DENIED or APPROVAL_TIMEOUT if refused.
   */
  async getSecret(name: string, opts: GetSecretOptions = {}): Promise<SecretGetResult> {
    const action = `get secret ${name}`;
    const params: SecretGetParams = { name };
    if (opts.purpose !== undefined) params.purpose = opts.purpose;
    if (opts.version !== undefined) params.version = opts.version;
    const problem = getSecretProblem(params);
    if (problem !== null) {
      throw new KeychainError('INVALID_ARGUMENT', `failed to ${action}: ${problem}`);
    }
    return request(this.conn, 'secret.get', params, {
      action,
      signal: opts.signal,
      onPending: opts.onPending,
    });
  }

  /**
   * Gets several secrets' current values under ONE approval (one prompt listing every
   * name no grant covers). Duplicate names are asked once. All or nothing: a refusal,
   * a timeout or an unknown name rejects the whole call. Results come in the order asked.
   */
  async getSecrets(names: readonly string[], opts: GetSecretsOptions = {}): Promise<SecretGetResult[]> {
    const unique = [...new Set(names)];
    const action = `get secrets ${unique.join(', ')}`;
    const params: SecretGetManyParams = { names: unique };
    if (opts.purpose !== undefined) params.purpose = opts.purpose;
    if (opts.command !== undefined) params.command = opts.command;
    const problem = getSecretsProblem(params);
    if (problem !== null) throw new KeychainError('INVALID_ARGUMENT', `failed to ${action}: ${problem}`);
    const result = await request(this.conn, 'secret.getMany', params, { action, signal: opts.signal, onPending: opts.onPending });
    return result.secrets;
  }

  /** The leases this agent holds. */
  async listLeases(opts: RequestOptions = {}): Promise<LeaseInfo[]> {
    const result = await request(this.conn, 'lease.list', {}, { action: 'list leases', signal: opts.signal });
    return result.leases;
  }

  revokeLease(id: string, opts: RequestOptions = {}): Promise<LeaseRevokeResult> {
    return request(this.conn, 'lease.revoke', { id }, { action: `revoke lease ${id}`, signal: opts.signal });
  }

  /** Closes the connection; requests still in flight reject with code IO. */
  close(): Promise<void> {
    return this.conn.close();
  }
}

/** Checked before sending so a typo fails with a clear message, without a round trip. */
function getSecretProblem(params: SecretGetParams): string | null {
  const nameProblem = secretNameProblem(params.name);
  if (nameProblem !== null) return nameProblem;
  if (params.purpose !== undefined && params.purpose.length > MAX_PURPOSE_LENGTH) {
    return `purpose is longer than ${MAX_PURPOSE_LENGTH} characters`;
  }
  if (params.version !== undefined && !(Number.isSafeInteger(params.version) && params.version > 0)) {
    return 'version must be a positive integer';
  }
  return null;
}

function getSecretsProblem(params: SecretGetManyParams): string | null {
  if (params.names.length === 0) return 'no secret names given';
  if (params.names.length > MAX_GET_MANY_NAMES) return `at most ${MAX_GET_MANY_NAMES} secrets per request`;
  for (const name of params.names) {
    const problem = secretNameProblem(name);
    if (problem !== null) return problem;
  }
  if (params.purpose !== undefined && params.purpose.length > MAX_PURPOSE_LENGTH) {
    return `purpose is longer than ${MAX_PURPOSE_LENGTH} characters`;
  }
  const argv = params.command?.argv;
  if (argv !== undefined) {
    if (argv.length === 0 || argv[0] === '') return 'the command is empty';
    if (argv.length > MAX_COMMAND_ARGS) return `the command has more than ${MAX_COMMAND_ARGS} arguments`;
    if (argv.reduce((n, a) => n + a.length, 0) > MAX_COMMAND_CHARS)
      return `the command line is longer than ${MAX_COMMAND_CHARS} characters`;
  }
  return null;
}
