import { Buffer } from "node:buffer";
import dgram from "node:dgram";

/** The records a test DNS server holds for one name. */
export interface DnsRecords {
  A?: string[];
  AAAA?: string[];
}

/** A DNS server on 127.0.0.1 (UDP) answering A and AAAA queries from a map. */
export interface DnsServer extends AsyncDisposable {
  /** Pass to `Deno.resolveDns` (or `liveResolver`) as `nameServer`. */
  nameServer: { ipAddr: string; port: number };
  /** Every query received, as `name type` (`api.test AAAA`), in order. */
  queries: string[];
  close(): Promise<void>;
}

const TYPE_A = 1;
const TYPE_AAAA = 28;
const RCODE_NXDOMAIN = 3;
const RCODE_NOTIMP = 4;

function readQuestion(
  message: Buffer,
): { name: string; type: number; end: number } | undefined {
  let offset = 12;
  const labels: string[] = [];
  while (offset < message.length && message[offset] !== 0) {
    const length = message[offset]!;
    // Queries never use compression pointers; anything else is refused.
    if (length > 63) return undefined;
    labels.push(
      message.subarray(offset + 1, offset + 1 + length).toString("latin1"),
    );
    offset += length + 1;
  }
  if (offset + 5 > message.length) return undefined;
  const type = message.readUInt16BE(offset + 1);
  return { name: labels.join(".").toLowerCase(), type, end: offset + 5 };
}

function addressBytes(type: number, address: string): Uint8Array {
  if (type === TYPE_A) return Uint8Array.from(address.split(".").map(Number));
  const [head = "", tail = ""] = address.split("::");
  const groups = (part: string) => part === "" ? [] : part.split(":");
  const known = [...groups(head), ...groups(tail)];
  const all = [
    ...groups(head),
    ...Array(8 - known.length).fill("0"),
    ...groups(tail),
  ];
  const bytes = new Uint8Array(16);
  all.forEach((group, index) => {
    const value = parseInt(group, 16);
    bytes[index * 2] = value >> 8;
    bytes[index * 2 + 1] = value & 0xff;
  });
  return bytes;
}

function answer(query: Buffer, records: Map<string, DnsRecords>): Buffer {
  const question = readQuestion(query);
  const header = Buffer.alloc(12);
  query.copy(header, 0, 0, 2);
  // QR, the query's opcode and RD, RA.
  const flags = 0x8000 | (query.readUInt16BE(2) & 0x7900) | 0x0080;
  if (question === undefined) {
    header.writeUInt16BE(flags | RCODE_NOTIMP, 2);
    return header;
  }
  const entry = records.get(question.name);
  const addresses = entry === undefined
    ? []
    : question.type === TYPE_A
    ? entry.A ?? []
    : question.type === TYPE_AAAA
    ? entry.AAAA ?? []
    : [];
  header.writeUInt16BE(
    flags | (entry === undefined ? RCODE_NXDOMAIN : 0),
    2,
  );
  header.writeUInt16BE(1, 4);
  header.writeUInt16BE(addresses.length, 6);
  const answers = addresses.map((address) => {
    const data = addressBytes(question.type, address);
    const record = Buffer.alloc(12 + data.length);
    record.writeUInt16BE(0xc00c, 0); // the name: a pointer to the question
    record.writeUInt16BE(question.type, 2);
    record.writeUInt16BE(1, 4); // class IN
    record.writeUInt32BE(0, 6); // TTL 0: nothing may cache it
    record.writeUInt16BE(data.length, 10);
    record.set(data, 12);
    return record;
  });
  return Buffer.concat([
    header,
    query.subarray(12, question.end),
    ...answers,
  ]);
}

/**
 * Starts a tiny DNS server on 127.0.0.1 UDP. Names are matched without case;
 * a name missing from `records` gets NXDOMAIN, a known name without records
 * of the asked type an empty answer (what real servers send).
 *
 * @example
 * ```ts
 * await using dns = await startDnsServer({ "api.test": { A: ["127.0.0.1"] } });
 * await Deno.resolveDns("api.test", "A", { nameServer: dns.nameServer });
 * ```
 */
export async function startDnsServer(
  records: Record<string, DnsRecords>,
): Promise<DnsServer> {
  const table = new Map(
    Object.entries(records).map(([name, entry]) => [name.toLowerCase(), entry]),
  );
  const socket = dgram.createSocket("udp4");
  const queries: string[] = [];
  socket.on("message", (message, remote) => {
    const question = readQuestion(message);
    if (question !== undefined) {
      const type = question.type === TYPE_A
        ? "A"
        : question.type === TYPE_AAAA
        ? "AAAA"
        : String(question.type);
      queries.push(`${question.name} ${type}`);
    }
    socket.send(answer(message, table), remote.port, remote.address);
  });
  await new Promise<void>((resolve, reject) => {
    socket.once("error", reject);
    socket.bind(0, "127.0.0.1", () => resolve());
  });
  const close = () =>
    new Promise<void>((resolve) => socket.close(() => resolve()));
  return {
    nameServer: { ipAddr: "127.0.0.1", port: socket.address().port },
    queries,
    close,
    [Symbol.asyncDispose]: close,
  };
}
