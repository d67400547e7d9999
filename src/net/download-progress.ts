/** Where progress goes: stderr, or any stream-like sink (a test's). */
export interface ProgressSink {
  isTTY?: boolean;
  write(text: string): unknown;
}

export interface DownloadProgress {
  /** Bytes received so far, out of `total` when the server said. */
  update(received: number, total: number | undefined): void;
  /** The download ended: whole, or not (then a terminal's line is closed so the error starts clean). */
  done(completed: boolean): void;
}

/** Below this a download is quick enough to pass without a word. */
export const PROGRESS_FROM_BYTES = 1 << 20;

export function formatBytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) (n /= 1024), i++;
  return i === 0 ? `${n} B` : `${n.toFixed(1)} ${units[i]}`;
}

function amount(received: number, total: number | undefined): string {
  return total ? `${formatBytes(received)} of ${formatBytes(total)} (${Math.floor((received / total) * 100)}%)` : formatBytes(received);
}

/**
 * Progress of one large download: on a terminal one line that updates in place; elsewhere (logs,
 * CI) at most three lines: the start with the size, halfway, and the end.
 */
export function downloadProgress(label: string, sink: ProgressSink = process.stderr): DownloadProgress {
  let shown = false;
  let halfway = false;
  let lastDraw = 0;
  let last = { received: 0, total: undefined as number | undefined };
  return {
    update(received, total) {
      last = { received, total };
      if (!shown && (total ?? received) < PROGRESS_FROM_BYTES) return;
      if (sink.isTTY) {
        const now = Date.now();
        if (shown && now - lastDraw < 100) return;
        lastDraw = now;
        sink.write(`\r\x1b[2Kdownloading ${label}: ${amount(received, total)}`);
      } else if (!shown) {
        sink.write(`downloading ${label}${total ? ` (${formatBytes(total)})` : ''}\n`);
      } else if (total && !halfway && received * 2 >= total && received < total) {
        halfway = true;
        sink.write(`downloading ${label}: ${amount(received, total)}\n`);
      }
      shown = true;
    },
    done(completed) {
      if (!shown) return;
      if (!completed) {
        if (sink.isTTY) sink.write('\n');
        return;
      }
      const line = `downloaded ${label}: ${formatBytes(last.received)}`;
      sink.write(sink.isTTY ? `\r\x1b[2K${line}\n` : `${line}\n`);
    },
  };
}
