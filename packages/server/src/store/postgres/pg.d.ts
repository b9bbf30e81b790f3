/**
 * The part of `pg` (node-postgres 8) that Vigil uses. The package ships no type declarations
 * and `@types/pg` is not installed; these mirror node-postgres's documented API
 * (https://node-postgres.com/apis/pool, /apis/client, /apis/result).
 */
declare module "pg" {
  export interface QueryResult<R = Record<string, unknown>> {
    readonly rows: R[];
    readonly rowCount: number | null;
    readonly command: string;
  }

  export interface QueryConfig {
    readonly text: string;
    readonly values?: readonly unknown[];
    /** A named statement is prepared once per connection. */
    readonly name?: string;
  }

  export interface CustomTypesConfig {
    getTypeParser(oid: number, format?: "text" | "binary"): (value: string) => unknown;
  }

  export interface ClientConfig {
    connectionString?: string;
    password?: string | (() => string | Promise<string>);
    connectionTimeoutMillis?: number;
    statement_timeout?: number;
    application_name?: string;
    types?: CustomTypesConfig;
  }

  export interface PoolConfig extends ClientConfig {
    max?: number;
    idleTimeoutMillis?: number;
    allowExitOnIdle?: boolean;
  }

  interface Queryable {
    query<R = Record<string, unknown>>(text: string, values?: readonly unknown[]): Promise<QueryResult<R>>;
    query<R = Record<string, unknown>>(config: QueryConfig): Promise<QueryResult<R>>;
  }

  export interface PoolClient extends Queryable {
    release(destroy?: boolean | Error): void;
  }

  export class Pool implements Queryable {
    constructor(config?: PoolConfig);
    query<R = Record<string, unknown>>(text: string, values?: readonly unknown[]): Promise<QueryResult<R>>;
    query<R = Record<string, unknown>>(config: QueryConfig): Promise<QueryResult<R>>;
    connect(): Promise<PoolClient>;
    end(): Promise<void>;
    on(event: "error", listener: (error: Error) => void): this;
    readonly totalCount: number;
    readonly idleCount: number;
  }

  export class Client implements Queryable {
    constructor(config?: ClientConfig);
    connect(): Promise<void>;
    query<R = Record<string, unknown>>(text: string, values?: readonly unknown[]): Promise<QueryResult<R>>;
    query<R = Record<string, unknown>>(config: QueryConfig): Promise<QueryResult<R>>;
    end(): Promise<void>;
    on(event: "error", listener: (error: Error) => void): this;
  }

  export class DatabaseError extends Error {
    readonly code: string | undefined;
    readonly constraint: string | undefined;
    readonly detail: string | undefined;
  }

  export const types: CustomTypesConfig & {
    setTypeParser(oid: number, parser: (value: string) => unknown): void;
  };

  const pg: {
    Pool: typeof Pool;
    Client: typeof Client;
    DatabaseError: typeof DatabaseError;
    types: typeof types;
  };
  export default pg;
}
