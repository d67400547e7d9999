/**
 * Generated tokens to text, incrementally, for streaming. A byte-level BPE token can hold part of
 * a UTF-8 character (an emoji spans several tokens), which decodes to U+FFFD until the rest
 * arrives; and a stop string may arrive split over tokens. So each step decodes every token so far
 * and hands out only the stable part: no trailing replacement characters, and nothing that could
 * still be the start of a stop string. The deltas put together are the final text exactly.
 */
export class TextStream {
  private readonly ids: number[] = [];
  private emitted = 0;
  private text = '';
  /** Set once a stop string has been seen: the text ends where it starts. */
  stopped = false;

  constructor(
    private readonly decode: (ids: number[]) => string,
    private readonly stopStrings: readonly string[] = [],
  ) {}

  /** Adds a token; returns the text that became stable (often ''). After a stop string, no more tokens should come. */
  push(id: number): string {
    this.ids.push(id);
    this.text = this.decode(this.ids);
    let end = this.text.length;
    // Search from a little before what was handed out: a stop string may straddle that point.
    const longest = Math.max(0, ...this.stopStrings.map((s) => s.length));
    const from = Math.max(0, this.emitted - longest + 1);
    let cut = -1;
    for (const s of this.stopStrings) {
      const at = this.text.indexOf(s, from);
      if (at >= 0 && (cut < 0 || at < cut)) cut = at;
    }
    if (cut >= 0) {
      this.stopped = true;
      this.text = this.text.slice(0, cut);
      return this.take(this.text.length);
    }
    while (end > this.emitted && this.text.charCodeAt(end - 1) === 0xfffd) end--;
    // Hold back the longest tail that begins some stop string.
    let hold = 0;
    for (const s of this.stopStrings) {
      for (let n = Math.min(s.length - 1, end - this.emitted); n > hold; n--) {
        if (this.text.endsWith(s.slice(0, n), end)) {
          hold = n;
          break;
        }
      }
    }
    return this.take(end - hold);
  }

  /** What is still held back, once decoding has ended (an incomplete character stays a replacement character). */
  flush(): string {
    return this.take(this.text.length);
  }

  /** The whole text so far (up to a stop string). */
  get value(): string {
    return this.text;
  }

  get tokens(): number {
    return this.ids.length;
  }

  private take(end: number): string {
    // A stop string's cut can fall before text already handed out only if a caller ignores `stopped`; never hand out less than nothing.
    if (end <= this.emitted) return '';
    const out = this.text.slice(this.emitted, end);
    this.emitted = end;
    return out;
  }
}
