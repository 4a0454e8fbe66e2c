/**
 * The host's log, as a port. Log ids, names, pids and paths — never a value, a password
 * or anything read from a request body beyond its method.
 */
export interface Logger {
  info(message: string): void;
  warn(message: string): void;
  error(message: string): void;
}

export const silentLogger: Logger = { info() {}, warn() {}, error() {} };

/** Timestamped lines on a stream (the daemon's stderr). */
export function streamLogger(stream: NodeJS.WritableStream, prefix = 'akc daemon'): Logger {
  const line = (level: string, message: string): void => {
    stream.write(`${new Date().toISOString()} ${prefix} ${level}: ${message}\n`);
  };
  return { info: (m) => line('info', m), warn: (m) => line('warn', m), error: (m) => line('error', m) };
}
