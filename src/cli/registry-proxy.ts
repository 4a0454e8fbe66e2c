/** The brokering proxy's bindings (`akc proxy …`) and the MCP server (`akc mcp`). */
import type { Command } from './registry.js';

const proxy = () => import('./commands/proxy.js');

export const PROXY_COMMANDS: Command[] = [
  {
    path: ['proxy', 'add'],
    summary: 'add a brokering-proxy binding: agents call the upstream through the host, without the key',
    usage:
      "akc proxy add NAME --upstream URL --secret SECRET [--header 'Name: … {{secret}}' | --query 'param={{secret}}' | --basic-auth USER]\n" +
      "       [--allow 'METHOD /path-glob']… [--allow-private] [--base-url-env VAR] [--placeholder-env VAR] [--replace] [--password-stdin]",
    details:
      'Agents call http://127.0.0.1:<port>/NAME/<path> (or the same over the proxy socket beside the agent\n' +
      'socket); the host asks for approval (showing method, host and path), adds the credential — by default\n' +
      "'Authorization: Bearer {{secret}}' — and scrubs the value from the response.\n" +
      "--allow limits methods and paths ('POST /v1/**': `*` stays within one path segment, `**` crosses them;\n" +
      "'*' as the method allows any). Without --allow-private, upstreams on loopback, link-local or private\n" +
      'addresses are refused (http:// upstreams need it too). --base-url-env names the variable an SDK reads\n' +
      'its base URL from (known: OPENAI_BASE_URL, ANTHROPIC_BASE_URL, GROQ_BASE_URL). --placeholder-env names\n' +
      'the variable `akc run --proxy` sets to a placeholder key, for SDKs that refuse to start without one\n' +
      '(default for those hosts: OPENAI_API_KEY, ANTHROPIC_API_KEY, GROQ_API_KEY); the proxy drops it and\n' +
      'adds the real credential. Needs the master password.',
    flags: {
      upstream: { value: true },
      secret: { value: true },
      header: { value: true },
      query: { value: true },
      'basic-auth': { value: true },
      allow: { value: true, repeat: true },
      'allow-private': {},
      'base-url-env': { value: true },
      'placeholder-env': { value: true },
      replace: {},
    },
    run: async (ctx) => (await proxy()).add(ctx),
  },
  {
    path: ['proxy', 'list'],
    summary: 'list brokering-proxy bindings and where the proxy listens',
    usage: 'akc proxy list [--json]',
    flags: {},
    run: async (ctx) => (await proxy()).list(ctx),
  },
  {
    path: ['proxy', 'rm'],
    summary: 'remove a brokering-proxy binding',
    usage: 'akc proxy rm NAME [--password-stdin]',
    flags: {},
    run: async (ctx) => (await proxy()).rm(ctx),
  },
  {
    path: ['mcp'],
    summary: 'run an MCP server on stdio: list secrets, brokered HTTP calls, commands with secrets — never a value',
    usage: 'akc mcp [--agent NAME] [--purpose P]',
    details:
      'Register it with your agent as a stdio MCP server (command `akc`, args `["mcp"]`). Tools:\n' +
      '  list_secrets      names, types and descriptions\n' +
      '  http_request      {binding, method, path, headers?, body?} through the brokering proxy\n' +
      '  run_with_secrets  {command, args?, env: {VAR: SECRET}, timeoutMs?} via `akc run` (output redacted)\n' +
      'Every call asks the host as this process (`akc mcp`, with --agent as the agent hint) and is\n' +
      'subject to approval and audit.',
    flags: { agent: { value: true }, purpose: { value: true } },
    run: async (ctx) => (await import('./commands/mcp.js')).mcp(ctx),
  },
];
