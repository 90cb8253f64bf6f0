// Structured JSON logs with the cluster and execution on every line. Values that look like join
// material are masked as a second line of defence: nothing should try to log them in the first place.

export type LogFields = Record<string, unknown>;
export type LogSink = (line: string) => void;

const BOOTSTRAP_TOKEN = /\b[a-z0-9]{6}\.[a-z0-9]{16}\b/g;
const HEX_32_BYTES = /\b[a-f0-9]{64}\b/g;

let sink: LogSink = (line) => process.stdout.write(`${line}\n`);

/** Lets tests and the demo capture every log line. Returns a function that restores the previous sink. */
export function setLogSink(next: LogSink): () => void {
  const previous = sink;
  sink = next;
  return () => {
    sink = previous;
  };
}

export function mask(text: string): string {
  return text.replace(BOOTSTRAP_TOKEN, '[masked-token]').replace(HEX_32_BYTES, '[masked-key]');
}

export interface Logger {
  info(message: string, fields?: LogFields): void;
  warn(message: string, fields?: LogFields): void;
  error(message: string, fields?: LogFields): void;
  child(fields: LogFields): Logger;
}

export function createLogger(context: LogFields = {}): Logger {
  const write = (level: string, message: string, fields?: LogFields) => {
    sink(mask(JSON.stringify({ level, message, ...context, ...fields, time: new Date().toISOString() })));
  };
  return {
    info: (message, fields) => write('info', message, fields),
    warn: (message, fields) => write('warn', message, fields),
    error: (message, fields) => write('error', message, fields),
    child: (fields) => createLogger({ ...context, ...fields }),
  };
}
