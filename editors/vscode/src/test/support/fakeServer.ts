/**
 * A stand-in CodeSaga server speaking LSP over stdio, for the extension
 * tests.  It answers the requests the extension relies on and appends every
 * message it receives (and its command line) to the JSON-lines file named by
 * CODESAGA_FAKE_LOG.  Its inline suggestion is CODESAGA_FAKE_SUGGESTION
 * (default `return 42`), with a new request id (`req-1`, `req-2`…) per
 * request unless CODESAGA_FAKE_REQUEST_ID fixes one, sent after
 * CODESAGA_FAKE_DELAY_MS (default 0).
 */
import * as fs from 'node:fs';

const logFile = process.env.CODESAGA_FAKE_LOG;

function record(entry: unknown): void {
  if (logFile) {
    fs.appendFileSync(logFile, `${JSON.stringify(entry)}\n`);
  }
}

if (process.env.CODESAGA_FAKE_MODE === 'exit-at-once') {
  process.stderr.write('/usr/bin/python3: No module named codesaga\n');
  process.exit(1);
}

record({ argv: process.argv.slice(2), pid: process.pid });

function send(message: Record<string, unknown>): void {
  const body = Buffer.from(JSON.stringify({ jsonrpc: '2.0', ...message }), 'utf8');
  process.stdout.write(`Content-Length: ${body.length}\r\n\r\n`);
  process.stdout.write(body);
}

let nextId = 0;
let inlineRequests = 0;
const pending = new Map<number, string>();

function request(method: string, params: unknown): void {
  const id = ++nextId;
  pending.set(id, method);
  send({ id, method, params });
}

interface Incoming {
  id?: number | string;
  method?: string;
  params?: any;
  result?: unknown;
  error?: unknown;
}

function handle(msg: Incoming): void {
  if (msg.method === undefined) {
    // A response to one of our requests.
    record({ response: pending.get(msg.id as number), result: msg.result, error: msg.error });
    return;
  }
  record({ method: msg.method, params: msg.params });
  const reply = (result: unknown): void => send({ id: msg.id, result });
  switch (msg.method) {
    case 'initialize':
      reply({
        capabilities: {
          textDocumentSync: 2,
          inlineCompletionProvider: true,
          executeCommandProvider: {
            commands: ['codesaga.acceptInlineCompletion', 'codesaga.chat', 'codesaga.chat.reset', 'codesaga.chat.history'],
          },
        },
        serverInfo: { name: 'fake-codesaga', version: '0.0.0' },
      });
      break;
    case 'initialized':
      if (process.env.CODESAGA_FAKE_MODE === 'crash-after-start') {
        setTimeout(() => process.exit(2), 50);
      }
      request('workspace/configuration', { items: [{ section: 'codesaga' }] });
      request('window/workDoneProgress/create', { token: 'load' });
      send({ method: '$/progress', params: { token: 'load', value: { kind: 'begin', title: 'Loading model' } } });
      send({ method: '$/progress', params: { token: 'load', value: { kind: 'end' } } });
      break;
    case 'workspace/didChangeConfiguration':
      // Like the real server: pull the section again.
      request('workspace/configuration', { items: [{ section: 'codesaga' }] });
      break;
    case 'textDocument/inlineCompletion': {
      const pos = msg.params.position;
      const text = process.env.CODESAGA_FAKE_SUGGESTION ?? 'return 42';
      const requestId = process.env.CODESAGA_FAKE_REQUEST_ID ?? `req-${++inlineRequests}`;
      const answer = (): void => reply({
        items: [
          {
            insertText: text,
            range: { start: pos, end: pos },
            command: {
              title: 'Accept',
              command: 'codesaga.acceptInlineCompletion',
              // like the real server: [source, length, uri, request id]
              arguments: ['model', text.length, msg.params.textDocument.uri, requestId],
            },
          },
        ],
      });
      setTimeout(answer, Number(process.env.CODESAGA_FAKE_DELAY_MS ?? 0));
      break;
    }
    case 'codesaga/chat': {
      const text = `echo: ${msg.params.message}`;
      const token = msg.params.partialResultToken as string | undefined;
      if (token !== undefined && !String(msg.params.message).includes('no-stream')) {
        // Stream the reply as partial results, as the real server does.
        for (const piece of text.match(/.{1,4}/g) ?? []) {
          send({ method: '$/progress', params: { token, value: { delta: piece } } });
        }
      }
      reply({ sessionId: msg.params.sessionId ?? 'session-1', reply: text });
      break;
    }
    case 'shutdown':
      reply(null);
      break;
    case 'exit':
      process.exit(0);
      break;
    default:
      if (msg.id !== undefined) {
        reply(null);
      }
  }
}

let buffer = Buffer.alloc(0);
process.stdin.on('data', (chunk: Buffer) => {
  buffer = Buffer.concat([buffer, chunk]);
  for (;;) {
    const headerEnd = buffer.indexOf('\r\n\r\n');
    if (headerEnd < 0) {
      return;
    }
    const match = /Content-Length: (\d+)/i.exec(buffer.subarray(0, headerEnd).toString('ascii'));
    if (!match) {
      throw new Error('no Content-Length');
    }
    const length = Number(match[1]);
    const start = headerEnd + 4;
    if (buffer.length < start + length) {
      return;
    }
    const body = buffer.subarray(start, start + length).toString('utf8');
    buffer = buffer.subarray(start + length);
    handle(JSON.parse(body) as Incoming);
  }
});
process.stdin.on('end', () => process.exit(0));
