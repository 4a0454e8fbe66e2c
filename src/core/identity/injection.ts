/**
 * Environment variables that make a program run code other than its own.
 *
 * A grant or an agent rule says "this program may have X". Launching that very program with
 * NODE_OPTIONS=--import=evil.mjs, LD_PRELOAD=evil.so or PYTHONPATH=dir-with-sitecustomize
 * runs the adversary's code inside it, under its identity. So when the peer's environment
 * (or its argv, see process-info.ts) carries one of these, no grant and no agent rule
 * applies: a human is asked, and the prompt names the variables (never their values).
 *
 * The list is one place on purpose: every entry has its reason. A variable is flagged when
 * it is present with a non-empty value, whatever the program is: which runtime a binary
 * embeds (an Electron app embeds node, a Go tool may embed Python) cannot be told from its
 * name, and a false alarm only means one more prompt.
 *
 * Left out on purpose: PATH (a shell script's commands and every child process resolve
 * through it, so flagging it would flag everything; documented as a limit), HOME and XDG_*
 * (config files), NODE_EXTRA_CA_CERTS (trusts a certificate, loads no code), PYTHONUNBUFFERED
 * / PYTHONDONTWRITEBYTECODE / PYTHONIOENCODING (behaviour, no code).
 */

interface Entry {
  name: string;
  why: string;
}

/** Exact variable names. */
const VARIABLES: readonly Entry[] = [
  // ---- the dynamic loader (every dynamically linked program, interpreters included)
  { name: 'LD_PRELOAD', why: 'loads a shared library into the process before its own code' },
  { name: 'LD_LIBRARY_PATH', why: 'makes the loader find a planted libc/libssl/… before the system one' },
  { name: 'LD_AUDIT', why: 'loads an rtld-audit library that sees and rewrites every symbol binding' },
  { name: 'GCONV_PATH', why: 'glibc loads iconv converter modules (shared objects) from this directory' },
  { name: 'DYLD_INSERT_LIBRARIES', why: 'macOS: loads a dylib into the process (LD_PRELOAD equivalent)' },
  { name: 'DYLD_LIBRARY_PATH', why: 'macOS: finds planted dylibs first' },
  { name: 'DYLD_FRAMEWORK_PATH', why: 'macOS: finds planted frameworks first' },
  // ---- node (and Electron, which embeds it)
  { name: 'NODE_OPTIONS', why: 'node flags such as --require/--import/--loader/--inspect (see nodeOptionsInjects)' },
  {
    name: 'NODE_PATH',
    why: 'extra module directories: any require() of a package missing from node_modules (optional dependencies are tried this way) loads the planted one',
  },
  { name: 'NODE_REPL_EXTERNAL_MODULE', why: 'node runs this module instead of its REPL' },
  { name: 'ELECTRON_RUN_AS_NODE', why: 'turns an Electron app binary into plain node running whatever script argv names' },
  // ---- python
  { name: 'PYTHONPATH', why: 'module directories searched first: a planted sitecustomize.py or a shadowing module runs at start' },
  { name: 'PYTHONHOME', why: 'replaces the standard library location (site.py, encodings, …)' },
  { name: 'PYTHONSTARTUP', why: 'a file executed before an interactive session' },
  { name: 'PYTHONINSPECT', why: 'drops into an interactive prompt (code from stdin) after the script' },
  { name: 'PYTHONUSERBASE', why: 'moves the user site directory, whose usercustomize.py and .pth files run at start' },
  { name: 'PYTHONBREAKPOINT', why: 'imports and calls the named callable on breakpoint()' },
  { name: 'PYTHONWARNINGS', why: 'a warnings filter imports the module named in its category field' },
  // ---- perl, ruby
  { name: 'PERL5OPT', why: 'perl switches such as -M (load a module) for every perl' },
  { name: 'PERL5LIB', why: 'module directories searched first' },
  { name: 'PERLLIB', why: 'module directories searched first (when PERL5LIB is unset)' },
  { name: 'PERL5DB', why: 'the debugger code run with -d' },
  { name: 'RUBYOPT', why: 'ruby switches such as -r (require a library) for every ruby' },
  { name: 'RUBYLIB', why: 'library directories searched first' },
  // ---- shells
  { name: 'BASH_ENV', why: 'a file bash sources before running a script' },
  { name: 'ENV', why: 'a file sh/dash (and bash in POSIX mode) sources at start' },
  { name: 'SHELLOPTS', why: 'turns on xtrace, whose PS4 expansion runs command substitutions' },
  { name: 'PS4', why: 'expanded (with command substitution) on every traced command' },
  // ---- java
  { name: 'JAVA_TOOL_OPTIONS', why: 'JVM flags such as -javaagent (load an agent jar) for every JVM' },
  { name: '_JAVA_OPTIONS', why: 'JVM flags, like JAVA_TOOL_OPTIONS' },
  { name: 'JDK_JAVA_OPTIONS', why: 'flags prepended to every `java` launch' },
];

/** Name prefixes. */
const PREFIXES: readonly Entry[] = [
  // bash imports exported functions from BASH_FUNC_name%% variables: `ls` can be redefined.
  { name: 'BASH_FUNC_', why: 'an exported bash function overrides a command of the same name' },
];

const EXACT = new Set(VARIABLES.map((e) => e.name));

/**
 * NODE_OPTIONS flags that load no code and open no debugger: the common tuning ones. Any
 * other token (including --require, --import, --loader, --inspect, --env-file, which can
 * itself set NODE_OPTIONS) counts as injected code. An allowlist, so a flag node adds
 * later is suspect until listed here.
 */
const NODE_OPTIONS_HARMLESS =
  /^--(?:max-old-space-size|max-semi-space-size|stack-size|stack-trace-limit|unhandled-rejections|dns-result-order|title|disable-warning)=[A-Za-z0-9_.,:-]+$|^--(?:enable-source-maps|no-warnings|no-deprecation|trace-warnings|trace-deprecation|trace-uncaught|use-openssl-ca|use-bundled-ca|use-system-ca|no-experimental-fetch|experimental-vm-modules|preserve-symlinks|preserve-symlinks-main|no-network-family-autoselection)$/;

/** Whether a NODE_OPTIONS value does more than the harmless tuning flags above. */
export function nodeOptionsInjects(value: string): boolean {
  // Node splits NODE_OPTIONS on spaces and honours quotes; a quote makes it suspect outright.
  if (/["'\\]/.test(value)) return true;
  return value
    .split(/\s+/)
    .filter((t) => t !== '')
    .some((t) => !NODE_OPTIONS_HARMLESS.test(t));
}

/**
 * The names of the code-injecting variables set (non-empty) in `environ`, sorted. Values
 * are looked at only to tell harmless NODE_OPTIONS apart and never leave this function.
 */
export function injectedVariables(environ: ReadonlyMap<string, readonly string[]>): string[] {
  const found: string[] = [];
  for (const [name, values] of environ) {
    const set = values.filter((v) => v !== '');
    if (set.length === 0) continue;
    if (EXACT.has(name)) {
      if (name === 'NODE_OPTIONS' && !set.some(nodeOptionsInjects)) continue;
      found.push(name);
    } else if (PREFIXES.some((p) => name.startsWith(p.name))) {
      found.push(name);
    }
  }
  return found.sort();
}

/** The reason a variable is on the list (for docs and tests), or null. */
export function whyInjects(name: string): string | null {
  return VARIABLES.find((e) => e.name === name)?.why ?? PREFIXES.find((p) => name.startsWith(p.name))?.why ?? null;
}

/**
 * Parses a NUL-separated /proc/<pid>/environ block into every value of every name: a name
 * may appear twice (execve allows it) and programs differ in which one they read, so each
 * is checked.
 */
export function parseEnviron(raw: Buffer): Map<string, string[]> {
  const env = new Map<string, string[]>();
  for (const entry of raw.toString('utf8').split('\0')) {
    if (entry === '') continue;
    const eq = entry.indexOf('=');
    const name = eq < 0 ? entry : entry.slice(0, eq);
    const value = eq < 0 ? '' : entry.slice(eq + 1);
    const values = env.get(name);
    if (values) values.push(value);
    else env.set(name, [value]);
  }
  return env;
}
