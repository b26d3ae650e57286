/**
 * Runs the real extension (out/extension.js with the real
 * vscode-languageclient) against a fake `vscode` module and a fake CodeSaga
 * server process, so the wire protocol is checked without a VS Code binary.
 */
import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import Module = require('node:module');
import * as os from 'node:os';
import * as path from 'node:path';
import { after, afterEach, before, beforeEach, describe, it } from 'node:test';
import * as fake from './support/fakeVscode';

// Serve `require('vscode')` from the fake.
const vscodeModule = fake.asModule(fake);
const moduleApi = Module as unknown as { _load: (request: string, ...rest: unknown[]) => unknown };
const originalLoad = moduleApi._load;
moduleApi._load = function (request: string, ...rest: unknown[]) {
  if (request === 'vscode') {
    return vscodeModule;
  }
  return originalLoad.call(this, request, ...rest);
};

const extension = require('../extension') as typeof import('../extension');

const { state } = fake;
const root = path.resolve(__dirname, '..', '..');
const pkg = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8'));
const koBundle = JSON.parse(fs.readFileSync(path.join(root, 'l10n', 'bundle.l10n.ko.json'), 'utf8')) as Record<string, string>;
const skip = process.platform === 'win32' ? 'needs a POSIX shell for the fake server wrapper' : false;

let tmp: string;
let logFile: string;
let wrapper: string;
let savedPath: string | undefined;

interface LogEntry {
  argv?: string[];
  pid?: number;
  method?: string;
  params?: any;
  response?: string;
  result?: any;
}

function readLog(): LogEntry[] {
  if (!fs.existsSync(logFile)) {
    return [];
  }
  // the fake server may be writing its last line right now: parse finished lines only
  const lines = fs.readFileSync(logFile, 'utf8').split('\n');
  lines.pop();
  return lines.filter((l) => l !== '').map((l) => JSON.parse(l) as LogEntry);
}

async function waitFor<T>(what: string, probe: () => T | undefined | false, timeoutMs = 10_000): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const value = probe();
    if (value !== undefined && value !== false) {
      return value;
    }
    if (Date.now() > end) {
      const log = state.channel('CodeSaga')?.text ?? '';
      throw new Error(
        `timed out waiting for ${what}\n--- CodeSaga log ---\n${log}\n--- messages ---\n${JSON.stringify(state.messages, null, 1)}\n` +
          `--- server log ---\n${JSON.stringify(readLog(), null, 1)}\n--- unknown vscode API used ---\n${[...fake.unknownAccesses].join('\n')}`,
      );
    }
    await new Promise((r) => setTimeout(r, 20));
  }
}

function context(): any {
  return { subscriptions: [] as { dispose(): unknown }[] };
}

async function runCommand(id: string): Promise<void> {
  const fn = state.commands.get(id);
  assert.ok(fn, `command ${id} is registered`);
  await fn();
}

const DEFAULTS = {
  model: 'auto',
  backend: 'llama',
  gpuLayers: -1,
  contextSize: 2048,
  maxTokens: 64,
  temperature: 0.2,
  language: 'auto',
  cacheDir: '',
  logLevel: 'info',
  fimFamily: 'auto',
  threads: 0,
  batchThreads: 0,
  styleGuide: '',
  repoContextTokens: 384,
  rankCandidates: 1,
  usageRetentionDays: 30,
  openai: { baseUrl: 'http://127.0.0.1:8080/v1', apiKey: '', model: '' },
};

const SHOWN = 'textDocument/didShowCompletion';
const PARTIAL = 'textDocument/didPartiallyAcceptCompletion';
const DISMISSED = 'codesaga/didDismissCompletion';

/** The params of every `method` notification the fake server got. */
function sent(method: string): any[] {
  return readLog()
    .filter((e) => e.method === method)
    .map((e) => e.params);
}

/** Request ids of the items in `method` notifications. */
function idsSent(method: string): string[] {
  return sent(method).map((p) => p.item.command.arguments[3]);
}

/** Waits until all that the extension sent so far has reached the fake server (messages keep their order). */
async function flush(): Promise<void> {
  await fake.commands.executeCommand('codesaga.chat.reset');
}

/** Starts the extension with an editor on a Python file holding `text`, its cursor at `cursor`. */
async function editorWithServer(ctx: any, text: string, cursor: any): Promise<{ editor: any; provider: any }> {
  extension.activate(ctx);
  const entry = await waitFor('an inline completion provider', () => state.inlineProviders[0]);
  await waitFor('server commands', () => state.commands.has('codesaga.chat.reset'));
  const editor = fake.textEditor(fake.textDocument(path.join(tmp, 's.py'), 'python', text), cursor);
  state.activate(editor);
  return { editor, provider: entry.provider };
}

/** Asks for a suggestion at the cursor, as VS Code does; the item handed back. */
async function suggest(provider: any, editor: any, token = new fake.CancellationTokenSource().token): Promise<any> {
  const result = await provider.provideInlineCompletionItems(
    editor.document,
    editor.selection.active,
    { triggerKind: fake.InlineCompletionTriggerKind.Automatic, selectedCompletionInfo: undefined },
    token,
  );
  const items = result === null || result === undefined ? [] : Array.isArray(result) ? result : result.items;
  return items[0];
}

/** Makes VS Code's command `id` insert `text` at the cursor, as acceptNextWord / acceptNextLine do. */
function builtinInserts(id: string, editor: any, text: string): void {
  state.commands.set(id, () => state.type(editor, text));
}

const SHOWN_KEY = 'codesaga.inlineSuggestionShown';

describe('extension with a fake VS Code and a fake server', { skip }, () => {
  let ctx: any;

  before(() => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'codesaga-ext-'));
    wrapper = path.join(tmp, 'codesaga');
    const server = path.join(__dirname, 'support', 'fakeServer.js');
    fs.writeFileSync(wrapper, `#!/bin/sh\nexec ${JSON.stringify(process.execPath)} ${JSON.stringify(server)} "$@"\n`, { mode: 0o755 });
    savedPath = process.env.PATH;
  });

  after(() => {
    fs.rmSync(tmp, { recursive: true, force: true });
  });

  beforeEach(() => {
    state.reset();
    logFile = path.join(tmp, `log-${Date.now()}-${Math.random().toString(36).slice(2)}.jsonl`);
    process.env.CODESAGA_FAKE_LOG = logFile;
    process.env.PATH = `${tmp}${path.delimiter}${savedPath ?? ''}`;
    delete process.env.CODESAGA_FAKE_MODE;
    delete process.env.CODESAGA_FAKE_SUGGESTION;
    delete process.env.CODESAGA_FAKE_REQUEST_ID;
    delete process.env.CODESAGA_FAKE_DELAY_MS;
    ctx = context();
  });

  afterEach(async () => {
    await extension.deactivate();
    for (const d of ctx.subscriptions as { dispose(): unknown }[]) {
      d.dispose();
    }
    process.env.PATH = savedPath;
    delete process.env.CODESAGA_FAKE_MODE;
  });

  it('starts `codesaga serve` from PATH, sends the settings and answers workspace/configuration', async () => {
    state.settings.set('codesaga.model', 'gemma-3-270m');
    state.settings.set('codesaga.maxTokens', 32);
    state.settings.set('codesaga.openai.baseUrl', 'http://127.0.0.1:9/v1');
    state.settings.set('codesaga.openai.apiKey', 'sk-secret');
    state.settings.set('codesaga.server.extraArgs', ['--log-file', '~/cs.log']);
    extension.activate(ctx);

    const configAnswer = await waitFor('the workspace/configuration answer', () =>
      readLog().find((e) => e.response === 'workspace/configuration'),
    );
    const log = readLog();
    assert.deepEqual(log[0].argv, ['serve', '--log-file', path.join(os.homedir(), 'cs.log')]);

    const expected = {
      ...DEFAULTS,
      model: 'gemma-3-270m',
      maxTokens: 32,
      openai: { baseUrl: 'http://127.0.0.1:9/v1', apiKey: 'sk-secret', model: '' },
    };
    const init = log.find((e) => e.method === 'initialize');
    assert.ok(init);
    assert.deepEqual(init.params.initializationOptions, expected);
    assert.ok(init.params.capabilities.textDocument.inlineCompletion, 'proposed inline completion feature is on');
    assert.equal(init.params.capabilities.textDocument.completion, undefined, 'no completion-list fallback');
    assert.equal(init.params.capabilities.workspace.configuration, true);
    assert.deepEqual(configAnswer.result, [expected]);

    const channel = state.channel('CodeSaga');
    assert.ok(channel);
    assert.match(channel.text, /Starting .*codesaga serve --log-file/);
    assert.ok(!channel.text.includes('sk-secret'), 'API key is not logged');
    for (const { command } of pkg.contributes.commands as { command: string }[]) {
      assert.ok(state.commands.has(command), `${command} of package.json is registered`);
    }
    // Server commands are registered by the language client.
    await waitFor('server commands', () => state.commands.has('codesaga.acceptInlineCompletion'));
    assert.deepEqual(state.messages, []);
  });

  it('shows inline completions from textDocument/inlineCompletion', async () => {
    extension.activate(ctx);
    const entry = await waitFor('an inline completion provider', () => state.inlineProviders[0]);
    const selector = entry.selector as { language: string; scheme: string }[];
    assert.ok(selector.some((s) => s.language === 'python' && s.scheme === 'file'));
    assert.ok(selector.some((s) => s.language === 'cpp' && s.scheme === 'untitled'));

    const file = path.join(tmp, 'a.py');
    const doc = fake.textDocument(file, 'python', 'def f():\n    ');
    const result = await entry.provider.provideInlineCompletionItems(
      doc,
      new fake.Position(1, 4),
      { triggerKind: fake.InlineCompletionTriggerKind.Automatic, selectedCompletionInfo: undefined },
      new fake.CancellationTokenSource().token,
    );
    const items = Array.isArray(result) ? result : result.items;
    assert.equal(items.length, 1);
    assert.equal(items[0].insertText, 'return 42');
    assert.equal(items[0].command.command, 'codesaga.acceptInlineCompletion');
    const req = readLog().find((e) => e.method === 'textDocument/inlineCompletion');
    assert.ok(req);
    assert.equal(req.params.textDocument.uri, fake.Uri.file(file).toString());
    assert.deepEqual(req.params.position, { line: 1, character: 4 });
  });

  it('chats with codesaga/chat, keeps the session and streams the reply as Markdown', async () => {
    extension.activate(ctx);
    await waitFor('the server to run', () => readLog().some((e) => e.method === 'initialized'));
    await waitFor('the client to run', () => state.commands.has('codesaga.chat'));
    const file = path.join(tmp, 'b.py');
    const editor = {
      document: fake.textDocument(file, 'python', 'x = 1\ny = 2\n'),
      selection: new fake.Selection(new fake.Position(0, 0), new fake.Position(1, 3)),
    };
    state.activeTextEditor = editor;
    state.inputBoxAnswers = ['What does this do?', 'And then? no-stream', '/new', 'Fresh start'];
    await runCommand('codesaga.openChat');
    editor.selection = new fake.Selection(new fake.Position(1, 2), new fake.Position(1, 2));
    await runCommand('codesaga.openChat');
    await runCommand('codesaga.openChat');
    // A document the client does not sync is not sent.
    state.activeTextEditor = { document: fake.textDocument(path.join(tmp, 'notes.md'), 'markdown', '# hi'), selection: editor.selection };
    await runCommand('codesaga.openChat');

    const chats = readLog().filter((e) => e.method === 'codesaga/chat');
    assert.equal(chats.length, 3);
    for (const chat of chats) {
      assert.equal(typeof chat.params.partialResultToken, 'string');
      delete chat.params.partialResultToken;
    }
    assert.deepEqual(chats[0].params, {
      message: 'What does this do?',
      textDocument: { uri: fake.Uri.file(file).toString() },
      range: { start: { line: 0, character: 0 }, end: { line: 1, character: 3 } },
    });
    assert.deepEqual(chats[1].params, {
      sessionId: 'session-1',
      message: 'And then? no-stream',
      textDocument: { uri: fake.Uri.file(file).toString() },
      range: { start: { line: 1, character: 2 }, end: { line: 1, character: 2 } },
    });
    assert.deepEqual(chats[2].params, { message: 'Fresh start' }, '/new starts a new conversation; markdown is not sent');

    const chat = state.channel('CodeSaga Chat');
    assert.ok(chat);
    assert.equal(chat.languageId, 'markdown');
    assert.match(chat.text, /### You _\(b\.py, lines 1–2\)_\n\nWhat does this do\?\n\n### CodeSaga\n\necho: What does this do\?\n/);
    assert.match(chat.text, /### You _\(b\.py, line 2\)_\n\nAnd then\? no-stream\n\n### CodeSaga\n\necho: And then\? no-stream\n/);
    assert.equal(chat.text.split('echo: What does this do?').length, 2, 'a streamed reply is written once');
    assert.match(chat.text, /_New conversation\._/);
    assert.match(chat.text, /### You\n\nFresh start\n\n### CodeSaga\n\necho: Fresh start\n/);
    assert.deepEqual(state.messages, []);
  });

  it('picks a model into the global settings; the running server gets it', async () => {
    extension.activate(ctx);
    await waitFor('the first configuration answer', () => readLog().some((e) => e.response === 'workspace/configuration'));

    state.quickPickAnswer = (items) => {
      assert.deepEqual(
        items.filter((i) => i.value).map((i) => i.label),
        ['auto', 'qwen2.5-coder-0.5b', 'gemma-3-270m', 'qwen2.5-coder-1.5b', 'qwen2.5-coder-7b', 'bllossom-8b'],
      );
      assert.equal(items[0].description, '(current)');
      assert.ok(items.some((i) => i.browse));
      return items.find((i) => i.label === 'qwen2.5-coder-1.5b');
    };
    await runCommand('codesaga.pickModel');
    assert.deepEqual(state.globalUpdates, [{ key: 'codesaga.model', value: 'qwen2.5-coder-1.5b' }]);

    const answer = await waitFor('the new model in a configuration answer', () =>
      readLog().find((e) => e.response === 'workspace/configuration' && e.result?.[0]?.model === 'qwen2.5-coder-1.5b'),
    );
    assert.deepEqual(answer.result, [{ ...DEFAULTS, model: 'qwen2.5-coder-1.5b' }]);
    assert.ok(readLog().some((e) => e.method === 'workspace/didChangeConfiguration'));
    await new Promise((r) => setTimeout(r, 800));
    assert.equal(readLog().filter((e) => e.argv).length, 1, 'no restart for a model change');

    // Browse for a file.
    state.quickPickAnswer = (items) => items.find((i) => i.browse);
    state.openDialogAnswer = [fake.Uri.file(path.join(tmp, 'my model.gguf'))];
    await runCommand('codesaga.pickModel');
    assert.deepEqual(state.globalUpdates[1], { key: 'codesaga.model', value: path.join(tmp, 'my model.gguf') });
  });

  it('restarts the server when a codesaga.server.* setting changes', async () => {
    extension.activate(ctx);
    await waitFor('the first server', () => readLog().some((e) => e.method === 'initialized'));
    state.change({ 'codesaga.server.extraArgs': ['--log-file', '/tmp/x.log'] });
    const second = await waitFor('a second server', () => readLog().filter((e) => e.argv)[1]);
    assert.deepEqual(second.argv, ['serve', '--log-file', '/tmp/x.log']);
    assert.ok(readLog().some((e) => e.method === 'shutdown'), 'the first server was shut down');
    await waitFor('the second initialize', () => readLog().filter((e) => e.method === 'initialize')[1]);
  });

  it('shuts the server down on deactivate', async () => {
    extension.activate(ctx);
    await waitFor('the server', () => readLog().some((e) => e.method === 'initialized'));
    await extension.deactivate();
    await waitFor('shutdown and exit', () => {
      const methods = readLog().map((e) => e.method);
      return methods.includes('shutdown') && methods.includes('exit');
    });
  });

  it('tells the server once that a suggestion was handed over, with its request id', async () => {
    process.env.CODESAGA_FAKE_DELAY_MS = '300';
    const { editor, provider } = await editorWithServer(ctx, 'def f():\n    ', new fake.Position(1, 4));
    const item = await suggest(provider, editor);
    assert.equal(item.command.arguments[3], 'req-1', 'the fake server numbers its requests');
    await flush();
    const shown = sent(SHOWN);
    assert.equal(shown.length, 1);
    assert.deepEqual(shown[0].item, {
      insertText: 'return 42',
      range: { start: { line: 1, character: 4 }, end: { line: 1, character: 4 } },
      command: {
        title: 'Accept',
        command: 'codesaga.acceptInlineCompletion',
        arguments: ['model', 9, fake.Uri.file(path.join(tmp, 's.py')).toString(), 'req-1'],
      },
    });
    assert.equal(state.contextKeys.get(SHOWN_KEY), true, 'the keybindings apply');

    // A request cancelled while the server answers (the user typed on): VS
    // Code drops its result and keeps showing req-1.
    const cancelled = new fake.CancellationTokenSource();
    const dropped = suggest(provider, editor, cancelled.token);
    await waitFor('the second request', () => readLog().filter((e) => e.method === 'textDocument/inlineCompletion')[1]);
    cancelled.cancel();
    assert.equal(await dropped, undefined);
    await flush();
    assert.ok(readLog().some((e) => e.method === '$/cancelRequest'), 'req-2 was asked for, then cancelled');
    assert.deepEqual(idsSent(SHOWN), ['req-1']);
    assert.deepEqual(sent(DISMISSED), []);
  });

  it('does not report the same suggestion (request id) twice', async () => {
    process.env.CODESAGA_FAKE_REQUEST_ID = 'req-same';
    const { editor, provider } = await editorWithServer(ctx, 'x = ', new fake.Position(0, 4));
    await suggest(provider, editor);
    await suggest(provider, editor);
    await flush();
    assert.deepEqual(idsSent(SHOWN), ['req-same']);
    assert.deepEqual(sent(DISMISSED), []);
  });

  it('sends partial accepts by word and line with the cumulative UTF-16 length; typing is not accepting', async () => {
    const text = 'say("한글 😀 ok")';
    process.env.CODESAGA_FAKE_SUGGESTION = text;
    const { editor, provider } = await editorWithServer(ctx, 'x = 1\n', new fake.Position(1, 0));
    await suggest(provider, editor);

    state.type(editor, 's'); // types what the suggestion says: not an accept, and it stays
    builtinInserts('editor.action.inlineSuggest.acceptNextWord', editor, 'ay(');
    await fake.commands.executeCommand('codesaga.inlineSuggest.acceptNextWord');
    builtinInserts('editor.action.inlineSuggest.acceptNextWord', editor, '"한글 ');
    await fake.commands.executeCommand('codesaga.inlineSuggest.acceptNextWord');
    // VS Code asks again after a partial accept and keeps showing this suggestion.
    await suggest(provider, editor);
    builtinInserts('editor.action.inlineSuggest.acceptNextLine', editor, '😀 ');
    await fake.commands.executeCommand('codesaga.inlineSuggest.acceptNextLine');
    assert.deepEqual(
      state.executed.filter((e) => e.id.startsWith('editor.action.')).map((e) => e.id),
      [
        'editor.action.inlineSuggest.acceptNextWord',
        'editor.action.inlineSuggest.acceptNextWord',
        'editor.action.inlineSuggest.acceptNextLine',
      ],
      "VS Code's own commands do the accepting",
    );
    // A partly accepted suggestion that goes away is not dismissed.
    state.select(editor, new fake.Position(0, 0));
    await flush();

    const lengths = sent(PARTIAL).map((p) => p.acceptedLength);
    assert.deepEqual(lengths, ['say('.length, 'say("한글 '.length, 'say("한글 😀 '.length]);
    // UTF-16 code units: the emoji counts 2 (it is 1 code point, as Python counts)
    assert.equal(lengths[2], 11);
    assert.equal([...'say("한글 😀 '].length, 10);
    for (const p of sent(PARTIAL)) {
      assert.equal(p.item.insertText, text);
      assert.equal(p.item.command.arguments[3], 'req-1');
    }
    assert.deepEqual(idsSent(SHOWN), ['req-1'], 'the request after the partial accept is not a new suggestion');
    assert.deepEqual(sent(DISMISSED), []);
    assert.equal(state.contextKeys.get(SHOWN_KEY), false);
  });

  it('counts nothing when a word accept finds no CodeSaga suggestion, and a last-word accept is a whole accept', async () => {
    const { editor, provider } = await editorWithServer(ctx, 'def f():\n    ', new fake.Position(1, 4));
    // another extension's suggestion, say
    builtinInserts('editor.action.inlineSuggest.acceptNextWord', editor, 'zzz');
    await fake.commands.executeCommand('codesaga.inlineSuggest.acceptNextWord');
    await suggest(provider, editor);
    // VS Code accepts the rest whole when the next word is all that is left.
    builtinInserts('editor.action.inlineSuggest.acceptNextWord', editor, 'return 42');
    await fake.commands.executeCommand('codesaga.inlineSuggest.acceptNextWord');
    await flush();
    assert.deepEqual(sent(PARTIAL), []);
    assert.deepEqual(sent(DISMISSED), []);
  });

  it('dismisses once when text that does not match is typed', async () => {
    const { editor, provider } = await editorWithServer(ctx, 'def f():\n    ', new fake.Position(1, 4));
    await suggest(provider, editor);
    state.type(editor, 'r');
    await flush();
    assert.deepEqual(sent(DISMISSED), [], 'typing a matching character keeps the suggestion');
    state.type(editor, 'x');
    state.type(editor, 'y');
    state.select(editor, new fake.Position(0, 0));
    await flush();
    assert.deepEqual(idsSent(DISMISSED), ['req-1']);
    assert.deepEqual(sent(PARTIAL), []);
  });

  it('dismisses once on Escape, when a new suggestion replaces it, and when the document closes', async () => {
    const { editor, provider } = await editorWithServer(ctx, 'def f():\n    ', new fake.Position(1, 4));
    await suggest(provider, editor);
    await fake.commands.executeCommand('codesaga.inlineSuggest.hide');
    assert.ok(state.executed.some((e) => e.id === 'editor.action.inlineSuggest.hide'), "VS Code's hide runs");
    await fake.commands.executeCommand('codesaga.inlineSuggest.hide');
    assert.equal(state.contextKeys.get(SHOWN_KEY), false);

    await suggest(provider, editor); // req-2
    await suggest(provider, editor); // req-3 replaces it
    state.onCloseDocument.fire(editor.document);
    state.select(editor, new fake.Position(0, 0));
    await flush();
    assert.deepEqual(idsSent(SHOWN), ['req-1', 'req-2', 'req-3']);
    assert.deepEqual(idsSent(DISMISSED), ['req-1', 'req-2', 'req-3']);
  });

  it('dismisses when another editor becomes active', async () => {
    const { editor, provider } = await editorWithServer(ctx, 'def f():\n    ', new fake.Position(1, 4));
    await suggest(provider, editor);
    state.activate(fake.textEditor(fake.textDocument(path.join(tmp, 'other.py'), 'python', ''), new fake.Position(0, 0)));
    await flush();
    assert.deepEqual(idsSent(DISMISSED), ['req-1']);
  });

  it('sends no dismiss after a whole accept (Tab)', async () => {
    const { editor, provider } = await editorWithServer(ctx, 'def f():\n    ', new fake.Position(1, 4));
    const item = await suggest(provider, editor);
    // What VS Code does on Tab: insert the text, move the cursor, run the item's command.
    state.type(editor, item.insertText);
    await fake.commands.executeCommand(item.command.command, ...item.command.arguments);
    state.select(editor, new fake.Position(0, 0));
    await flush();
    const accepted = readLog().find((e) => e.method === 'workspace/executeCommand' && e.params.command === 'codesaga.acceptInlineCompletion');
    assert.ok(accepted, 'the whole accept reaches the server as before');
    assert.equal(accepted.params.arguments[3], 'req-1');

    // The command alone (the cursor news comes late) ends it too.
    const second = await suggest(provider, editor);
    await fake.commands.executeCommand(second.command.command, ...second.command.arguments);
    state.select(editor, new fake.Position(1, 0));
    // Typed to the end, then left: neither accepted nor dismissed.
    await suggest(provider, editor);
    state.type(editor, 'return');
    state.type(editor, ' 42');
    state.select(editor, new fake.Position(0, 0));
    await flush();
    assert.deepEqual(idsSent(SHOWN), ['req-1', 'req-2', 'req-3']);
    assert.deepEqual(sent(DISMISSED), []);
    assert.deepEqual(sent(PARTIAL), []);
  });

  it('shows its messages in Korean with the Korean bundle; the log stays English', async () => {
    state.l10nBundle = koBundle;
    process.env.PATH = path.join(tmp, 'nothing-here');
    extension.activate(ctx);
    const msg = await waitFor('an error message', () => state.messages.find((m) => m.kind === 'error'));
    assert.equal(msg.message, koBundle[Object.keys(koBundle).find((k) => k.includes('was not found on PATH'))!]);
    assert.match(msg.message, /PATH에서 서버 "codesaga"를 찾을 수 없습니다/);
    assert.deepEqual(msg.items, ['설정 열기', '로그 보기', '다시 시도']);
    assert.match(state.channel('CodeSaga')?.text ?? '', /the server "codesaga" was not found on PATH/);
  });

  it('names codesaga.server.path when codesaga is not on PATH', async () => {
    process.env.PATH = path.join(tmp, 'nothing-here');
    extension.activate(ctx);
    const msg = await waitFor('an error message', () => state.messages.find((m) => m.kind === 'error'));
    assert.match(msg.message, /"codesaga" was not found on PATH/);
    assert.match(msg.message, /"codesaga\.server\.path"/);
    assert.deepEqual(msg.items, ['Open Settings', 'Show Log', 'Retry']);
    assert.deepEqual(readLog(), [], 'nothing was started');
  });

  it('names codesaga.server.path when the configured server does not exist', async () => {
    state.settings.set('codesaga.server.path', path.join(tmp, 'missing', 'codesaga'));
    extension.activate(ctx);
    const msg = await waitFor('an error message', () => state.messages.find((m) => m.kind === 'error'));
    assert.match(msg.message, /set in "codesaga\.server\.path" was not found/);
  });

  it('names codesaga.server.pythonPath when the server dies at start', async () => {
    process.env.CODESAGA_FAKE_MODE = 'exit-at-once';
    state.settings.set('codesaga.server.pythonPath', wrapper);
    extension.activate(ctx);
    const msg = await waitFor('an error message', () => state.messages.find((m) => m.kind === 'error'));
    assert.match(msg.message, /could not be started \(it exited during start-up\)/);
    assert.match(msg.message, /-m codesaga --help/);
    assert.match(msg.message, /"codesaga\.server\.pythonPath"/);
    await new Promise((r) => setTimeout(r, 200));
    assert.equal(state.messages.filter((m) => m.kind === 'error').length, 1, 'one notification, not the client library one too');
    assert.match(state.channel('CodeSaga')?.text ?? '', /No module named codesaga/);
  });

  it('restarts a crashed server, and gives up after 5 crashes in 3 minutes', async () => {
    process.env.CODESAGA_FAKE_MODE = 'crash-after-start';
    extension.activate(ctx);
    const msg = await waitFor('the give-up message', () => state.messages.find((m) => m.kind === 'error'), 20_000);
    assert.match(msg.message, /stopped 5 times in 3 minutes/);
    assert.deepEqual(msg.items, ['Show Log', 'Restart Server']);
    assert.equal(readLog().filter((e) => e.argv).length, 5);
    assert.equal(state.messages.length, 1, 'no other pop-ups');
  });

  it('warns about an invalid setting and sends the default instead', async () => {
    state.settings.set('codesaga.backend', 'ollama');
    extension.activate(ctx);
    const init = await waitFor('initialize', () => readLog().find((e) => e.method === 'initialize'));
    assert.equal(init.params.initializationOptions.backend, 'llama');
    const msg = state.messages.find((m) => m.kind === 'warning');
    assert.ok(msg);
    assert.match(msg.message, /codesaga\.backend: "ollama" is not one of llama, openai/);
  });
});
