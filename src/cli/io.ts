/** Where commands print: injected so tests can run `main` in-process if they need to. */
export interface Io {
  out(line: string): void;
  err(line: string): void;
  /** Text as it comes, without a newline (streamed output); `out` when absent. */
  write?(text: string): void;
}

// A reader that went away (`tunespec predict … | head`) is no error: stop quietly, as Unix tools
// do, instead of letting EPIPE reach the wasm backend's uncaught-exception handler.
for (const stream of [process.stdout, process.stderr]) {
  stream.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code === 'EPIPE') process.exit(0);
    throw err;
  });
}

export const processIo: Io = {
  out: (line) => process.stdout.write(line + '\n'),
  err: (line) => process.stderr.write(line + '\n'),
  write: (text) => process.stdout.write(text),
};
