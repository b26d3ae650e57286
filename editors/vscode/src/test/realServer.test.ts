/**
 * Optional end-to-end check of the extension against the real CodeSaga
 * server and the bundled Gemma 3 270M model.  Runs only when
 * CODESAGA_E2E_PYTHON names a Python that has CodeSaga installed, e.g.
 *
 *   CODESAGA_E2E_PYTHON=$PWD/../../.venv/bin/python npm test
 */
import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import Module = require('node:module');
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import * as fake from './support/fakeVscode';

const python = process.env.CODESAGA_E2E_PYTHON;
const skip = python ? false : 'set CODESAGA_E2E_PYTHON to a Python with CodeSaga installed to run it';

describe('extension with the real CodeSaga server', { skip, timeout: 300_000 }, () => {
  const { state } = fake;
  let extension: typeof import('../extension');
  let tmp: string;
  const ctx = { subscriptions: [] as { dispose(): unknown }[] };

  before(() => {
    const vscodeModule = fake.asModule(fake);
    const api = Module as unknown as { _load: (request: string, ...rest: unknown[]) => unknown };
    const load = api._load;
    api._load = function (request: string, ...rest: unknown[]) {
      return request === 'vscode' ? vscodeModule : load.call(this, request, ...rest);
    };
    extension = require('../extension') as typeof import('../extension');
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'codesaga-e2e-'));
  });

  after(async () => {
    await extension.deactivate();
    ctx.subscriptions.forEach((d) => d.dispose());
    fs.rmSync(tmp, { recursive: true, force: true });
  });

  it('loads the model, shows its progress and answers an inline completion', async () => {
    state.reset();
    state.settings.set('codesaga.server.pythonPath', python);
    state.settings.set('codesaga.model', 'gemma-3-270m');
    state.settings.set('codesaga.maxTokens', 16);
    state.settings.set('codesaga.cacheDir', tmp);
    state.settings.set('codesaga.logLevel', 'debug');
    const file = path.join(tmp, 'add.py');
    const doc = fake.textDocument(file, 'python', 'def add(a, b):\n    return ');
    state.textDocuments = [doc];
    extension.activate(ctx as never);

    const deadline = Date.now() + 60_000;
    while (state.inlineProviders.length === 0) {
      assert.ok(Date.now() < deadline, `no inline provider; log:\n${state.channel('CodeSaga')?.text}`);
      await new Promise((r) => setTimeout(r, 50));
    }
    const { provider } = state.inlineProviders[0];
    const result = await provider.provideInlineCompletionItems(
      doc,
      new fake.Position(1, 11),
      { triggerKind: fake.InlineCompletionTriggerKind.Invoke, selectedCompletionInfo: undefined },
      new fake.CancellationTokenSource().token,
    );
    const items = Array.isArray(result) ? result : result.items;
    const log = state.channel('CodeSaga')?.text ?? '';
    assert.ok(Array.isArray(items), `an item list; log:\n${log}`);
    for (const item of items) {
      assert.equal(typeof item.insertText, 'string');
      assert.equal(item.command?.command, 'codesaga.acceptInlineCompletion');
    }
    assert.ok(state.progressTitles.includes('CodeSaga'), `model load progress shown: ${JSON.stringify(state.progressTitles)}`);
    assert.deepEqual(
      state.messages.filter((m) => m.kind === 'error'),
      [],
      `no error pop-ups; log:\n${log}`,
    );
    // Accepting runs the server's command through the client.
    if (items.length > 0) {
      await fake.commands.executeCommand(items[0].command.command, ...(items[0].command.arguments ?? []));
    }
    process.stdout.write(`# real server suggested: ${JSON.stringify(items.map((i: { insertText: string }) => i.insertText))}\n`);
  });

  it('chats about the code at the cursor, streaming the reply', async () => {
    const doc = state.textDocuments[0];
    state.activeTextEditor = { document: doc, selection: new fake.Selection(new fake.Position(1, 4), new fake.Position(1, 4)) };
    state.inputBoxAnswers = ['What does this function do? One sentence.'];
    await fake.commands.executeCommand('codesaga.openChat');
    const chat = state.channel('CodeSaga Chat')?.text ?? '';
    const log = state.channel('CodeSaga')?.text ?? '';
    assert.deepEqual(state.messages.filter((m) => m.kind === 'error'), [], `no error pop-ups; chat:\n${chat}\nlog:\n${log}`);
    const reply = chat.split('### CodeSaga\n\n')[1] ?? '';
    assert.ok(reply.trim().length > 0, `a reply; chat:\n${chat}`);
    assert.ok(!chat.includes('**Error:**'), chat);
    process.stdout.write(`# real server chat: ${JSON.stringify(reply.trim().slice(0, 200))}\n`);
  });
});
