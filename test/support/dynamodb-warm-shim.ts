/**
 * DynamoDB warm throughput as AWS documents it, on top of moto (test support only).
 *
 * Measured with moto 5.2.x: UpdateTable `WarmThroughput` and DescribeTable `Table.WarmThroughput`
 * (and `GlobalSecondaryIndexes[].WarmThroughput`) round-trip, with moto's defaults (12000 read /
 * 4000 write units per second) on a new table. What moto lacks, this module simulates:
 *
 * - Values only increase: an UpdateTable asking for less than the current read or write units per
 *   second (table or index) is refused with ValidationException (moto lowers it).
 * - An update with one of the two values keeps the other (moto replaces the whole WarmThroughput
 *   of the table or index, dropping the value not given).
 * - Status: after a change the table's (or index's) WarmThroughput.Status is UPDATING for
 *   `updatingMs` (ShimConfig `dynamodbWarm.updatingMs`, default 1000), then ACTIVE (moto: always
 *   ACTIVE). While a warm throughput change is UPDATING, another UpdateTable on the same table is
 *   refused with ResourceInUseException, as AWS refuses a second update of a table being updated.
 *   Two UpdateTable calls for one table arriving at once are decided one after the other (AWS
 *   accepts one and refuses the other), never both checked against the same old state.
 * - The billing mode is moto's, as it stores it (BillingModeSummary.BillingMode): warm throughput is
 *   accepted on on-demand and provisioned tables alike, as AWS accepts it; that retailctl sets it
 *   only on on-demand tables is retailctl's rule, not the emulator's.
 *
 * Everything else about the table (creation, billing mode, provisioned throughput) is moto's.
 */
import zlib from 'node:zlib';

export interface DynamoDbWarmConfig {
  /** How long a warm throughput change stays UPDATING before ACTIVE (default 1000 ms). */
  updatingMs?: number;
}

type Reply = { status: number; headers?: Record<string, string>; body?: string | Buffer };
type WarmThroughput = { ReadUnitsPerSecond?: number; WriteUnitsPerSecond?: number; Status?: string };
type TableDescription = { TableName?: string; WarmThroughput?: WarmThroughput; GlobalSecondaryIndexes?: { IndexName?: string; WarmThroughput?: WarmThroughput }[] };

export const DYNAMODB_WARM_OPERATIONS = new Set(['UpdateTable', 'DescribeTable']);

const DEFAULT_UPDATING_MS = 1000;

export function createDynamoDbWarmShim(upstream: string, config: () => DynamoDbWarmConfig | undefined) {
  /** `Table` or `Table/index/Name` → until when its warm throughput is UPDATING (ms). */
  const updating = new Map<string, number>();
  /** Per table, the UpdateTable being checked and relayed: AWS decides one update at a time, so two sent at once never both pass the checks. */
  const deciding = new Map<string, Promise<unknown>>();

  const error = (type: string, message: string): Reply => ({ status: 400, headers: { 'content-type': 'application/x-amz-json-1.0', 'x-amzn-errortype': type }, body: JSON.stringify({ __type: `com.amazonaws.dynamodb.v20120810#${type}`, message }) });

  const isUpdating = (key: string) => {
    const until = updating.get(key);
    if (until === undefined) return false;
    if (until > Date.now()) return true;
    updating.delete(key);
    return false;
  };

  async function describe(table: string): Promise<TableDescription | undefined> {
    const res = await fetch(`${upstream}/`, {
      method: 'POST',
      headers: {
        'content-type': 'application/x-amz-json-1.0',
        'x-amz-target': 'DynamoDB_20120810.DescribeTable',
        authorization: 'AWS4-HMAC-SHA256 Credential=testing/20260101/us-east-1/dynamodb/aws4_request, SignedHeaders=host, Signature=0',
      },
      body: JSON.stringify({ TableName: table }),
    });
    if (!res.ok) return undefined;
    return ((await res.json()) as { Table?: TableDescription }).Table;
  }

  /** The status AWS would report now, written into a table description. */
  function withStatus(t: TableDescription | undefined): boolean {
    if (!t?.TableName) return false;
    let changed = false;
    if (t.WarmThroughput && isUpdating(t.TableName)) {
      t.WarmThroughput.Status = 'UPDATING';
      changed = true;
    }
    for (const g of t.GlobalSecondaryIndexes ?? []) {
      if (g.WarmThroughput && isUpdating(`${t.TableName}/index/${g.IndexName}`)) {
        g.WarmThroughput.Status = 'UPDATING';
        changed = true;
      }
    }
    return changed;
  }

  function rewritten(reply: Reply, doc: unknown): Reply {
    const body = Buffer.from(JSON.stringify(doc));
    const headers = { ...(reply.headers ?? {}) };
    delete headers['content-length'];
    if ('x-amz-crc32' in headers) headers['x-amz-crc32'] = String(zlib.crc32(body));
    return { ...reply, headers, body };
  }

  /** A value below the current one is refused: warm throughput cannot be lowered. */
  function lower(what: string, asked: WarmThroughput, now: WarmThroughput | undefined): string | undefined {
    for (const [field, label] of [['ReadUnitsPerSecond', 'ReadUnitsPerSecond'], ['WriteUnitsPerSecond', 'WriteUnitsPerSecond']] as const) {
      const v = asked[field];
      const cur = now?.[field];
      if (v !== undefined && cur !== undefined && v < cur) return `One or more parameter values were invalid: Requested ${label} for WarmThroughput for ${what} (${v}) is lower than the current value (${cur}): warm throughput cannot be decreased`;
    }
    return undefined;
  }

  /** The value not given is kept, as AWS keeps it (moto replaces the whole WarmThroughput). */
  const keep = (asked: WarmThroughput, now: WarmThroughput | undefined): WarmThroughput => ({ ReadUnitsPerSecond: asked.ReadUnitsPerSecond ?? now?.ReadUnitsPerSecond, WriteUnitsPerSecond: asked.WriteUnitsPerSecond ?? now?.WriteUnitsPerSecond });

  async function updateTable(body: Buffer, relay: (body: Buffer) => Promise<Reply>): Promise<Reply | undefined> {
    const name = (JSON.parse(body.toString()) as { TableName?: string }).TableName ?? '';
    const before = deciding.get(name) ?? Promise.resolve();
    const mine = before.then(() => decideUpdate(body, relay));
    const settled = mine.catch(() => undefined);
    deciding.set(name, settled);
    void settled.then(() => {
      if (deciding.get(name) === settled) deciding.delete(name);
    });
    return mine;
  }

  async function decideUpdate(body: Buffer, relay: (body: Buffer) => Promise<Reply>): Promise<Reply | undefined> {
    const input = JSON.parse(body.toString()) as { TableName: string; WarmThroughput?: WarmThroughput; GlobalSecondaryIndexUpdates?: { Update?: { IndexName: string; WarmThroughput?: WarmThroughput } }[] };
    const gsiWarm = (input.GlobalSecondaryIndexUpdates ?? []).map((u) => u.Update).filter((u): u is { IndexName: string; WarmThroughput: WarmThroughput } => Boolean(u?.WarmThroughput));
    if (!input.WarmThroughput && !gsiWarm.length) return undefined;
    const table = await describe(input.TableName);
    if (!table) return undefined; // moto answers ResourceNotFoundException
    const keys = [input.TableName, ...(table.GlobalSecondaryIndexes ?? []).map((g) => `${input.TableName}/index/${g.IndexName}`)];
    if (keys.some(isUpdating)) return error('ResourceInUseException', `Attempt to change a resource which is still in use: Table is being updated: ${input.TableName}`);
    const changed: string[] = [];
    if (input.WarmThroughput) {
      const refusal = lower('table', input.WarmThroughput, table.WarmThroughput);
      if (refusal) return error('ValidationException', refusal);
      input.WarmThroughput = keep(input.WarmThroughput, table.WarmThroughput);
      changed.push(input.TableName);
    }
    for (const u of gsiWarm) {
      const index = table.GlobalSecondaryIndexes?.find((g) => g.IndexName === u.IndexName);
      if (!index) return undefined; // moto answers for an unknown index
      const refusal = lower(`index ${u.IndexName}`, u.WarmThroughput, index.WarmThroughput);
      if (refusal) return error('ValidationException', refusal);
      u.WarmThroughput = keep(u.WarmThroughput, index.WarmThroughput);
      changed.push(`${input.TableName}/index/${u.IndexName}`);
    }
    const reply = await relay(Buffer.from(JSON.stringify(input)));
    if (reply.status >= 300) return reply;
    const until = Date.now() + (config()?.updatingMs ?? DEFAULT_UPDATING_MS);
    for (const k of changed) if (until > Date.now()) updating.set(k, until);
    const doc = JSON.parse(String(reply.body ?? '{}')) as { TableDescription?: TableDescription };
    return withStatus(doc.TableDescription) ? rewritten(reply, doc) : reply;
  }

  return {
    /** Answer an UpdateTable or DescribeTable (undefined: not warm throughput, relay to moto as is). */
    async handle(operation: string, body: Buffer, relay: (body: Buffer) => Promise<Reply>): Promise<Reply | undefined> {
      if (operation === 'UpdateTable') return updateTable(body, relay);
      if (operation !== 'DescribeTable' || updating.size === 0) return undefined;
      const reply = await relay(body);
      if (reply.status >= 300) return reply;
      const doc = JSON.parse(String(reply.body ?? '{}')) as { Table?: TableDescription };
      return withStatus(doc.Table) ? rewritten(reply, doc) : reply;
    },
    reset(): void {
      updating.clear();
    },
  };
}
