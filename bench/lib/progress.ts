/**
 * Progress on stderr, so stdout stays clean for results. On a terminal a phase shows a
 * ticking elapsed/expected counter; otherwise one line when it starts and one when it ends.
 */
export class Progress {
  readonly #prefix: string;
  readonly #out: NodeJS.WriteStream;
  readonly #tty: boolean;
  readonly #startedAt = performance.now();

  constructor(name: string, out: NodeJS.WriteStream = process.stderr) {
    this.#prefix = `[${name}]`;
    this.#out = out;
    this.#tty = out.isTTY === true;
  }

  note(message: string): void {
    this.#out.write(`${this.#prefix} ${message}\n`);
  }

  /** Seconds since this benchmark started. */
  elapsed(): number {
    return (performance.now() - this.#startedAt) / 1000;
  }

  /**
   * Runs one phase, reporting its start, its progress against `expectSeconds` and its
   * duration; `summary` adds a short result to the closing line.
   */
  async phase<T>(
    label: string,
    work: () => Promise<T>,
    options: { expectSeconds?: number; summary?: (result: T) => string } = {},
  ): Promise<T> {
    const start = performance.now();
    const expected = options.expectSeconds === undefined ? "" : ` (~${options.expectSeconds} s)`;
    const seconds = () => ((performance.now() - start) / 1000).toFixed(1);
    let ticker: NodeJS.Timeout | undefined;
    if (this.#tty) {
      this.#out.write(`${this.#prefix} ${label}${expected} ...`);
      ticker = setInterval(() => {
        this.#out.write(
          `\r\x1b[K${this.#prefix} ${label} ... ${seconds()} s${options.expectSeconds === undefined ? "" : ` / ${options.expectSeconds} s`}`,
        );
      }, 500);
      ticker.unref();
    } else {
      this.#out.write(`${this.#prefix} ${label}${expected} ...\n`);
    }
    const clear = () => {
      if (ticker !== undefined) clearInterval(ticker);
      if (this.#tty) this.#out.write("\r\x1b[K");
    };
    try {
      const result = await work();
      clear();
      const detail = options.summary ? `: ${options.summary(result)}` : "";
      this.#out.write(`${this.#prefix} ${label} done in ${seconds()} s${detail}\n`);
      return result;
    } catch (error) {
      clear();
      this.#out.write(`${this.#prefix} ${label} FAILED after ${seconds()} s\n`);
      throw error;
    }
  }
}
