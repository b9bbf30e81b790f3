// The part of autocannon 8's programmatic API that the benchmarks use (the package ships no
// types, and DefinitelyTyped's are for 7.x). See node_modules/autocannon/README.md, "API".
declare module "autocannon" {
  import type { EventEmitter } from "node:events";
  import type { ConnectionOptions } from "node:tls";

  namespace autocannon {
    interface Options {
      url: string;
      connections?: number;
      /** Seconds. */
      duration?: number;
      /** Seconds to wait for one response. */
      timeout?: number;
      /** Load generators in worker threads (connections are split between them). */
      workers?: number;
      pipelining?: number;
      method?: string;
      headers?: Record<string, string>;
      title?: string;
      /** Passed to tls.connect; autocannon 8 always overrides `rejectUnauthorized` with false. */
      tlsOptions?: ConnectionOptions;
      bailout?: number;
    }

    /** hdr-histogram-percentiles-obj: average, mean, stddev, min, max, p0_001 ... p99_999. */
    interface Histogram {
      readonly average: number;
      readonly mean: number;
      readonly stddev: number;
      readonly min: number;
      readonly max: number;
      readonly total: number;
      readonly p50: number;
      readonly p90: number;
      readonly p97_5: number;
      readonly p99: number;
    }

    interface Result {
      readonly title?: string;
      readonly url: string;
      readonly connections: number;
      /** Seconds. */
      readonly duration: number;
      readonly errors: number;
      readonly timeouts: number;
      readonly mismatches: number;
      readonly non2xx: number;
      readonly resets: number;
      readonly "2xx": number;
      readonly statusCodeStats: Record<string, { count: number }>;
      /** Milliseconds, 1 ms resolution; only 2xx responses are recorded. */
      readonly latency: Histogram & { readonly totalCount: number };
      /** Requests per second, one sample per second. */
      readonly requests: Histogram & { readonly sent: number };
      /** Bytes per second. */
      readonly throughput: Histogram;
    }

    interface Instance extends EventEmitter, PromiseLike<Result> {
      stop(): void;
    }
  }

  function autocannon(options: autocannon.Options): autocannon.Instance;
  export = autocannon;
}
