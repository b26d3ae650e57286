import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import { ALL_SETTINGS, CLIENT_SETTINGS, LANGUAGES, SERVER_SETTINGS } from '../config';

// out/test/ -> the extension folder
const root = path.resolve(__dirname, '..', '..');
const pkg = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8'));

interface Property {
  type: string;
  default: unknown;
  enum?: string[];
  minimum?: number;
  maximum?: number;
  items?: { type: string };
  description?: string;
  markdownDescription?: string;
}
const properties = pkg.contributes.configuration.properties as Record<string, Property>;

/** The server's settings, as the server's spec lists them. */
const SERVER_KEYS = [
  'model',
  'backend',
  'openai.baseUrl',
  'openai.apiKey',
  'openai.model',
  'gpuLayers',
  'contextSize',
  'maxTokens',
  'temperature',
  'language',
  'cacheDir',
  'logLevel',
  'fimFamily',
];
const CLIENT_KEYS = ['server.path', 'server.pythonPath', 'server.extraArgs'];

describe('package.json contributes.configuration', () => {
  it('has exactly the server keys plus the client-only keys', () => {
    const expected = [...SERVER_KEYS, ...CLIENT_KEYS].map((k) => `codesaga.${k}`).sort();
    assert.deepEqual(Object.keys(properties).sort(), expected);
  });

  it('matches the keys config.ts knows', () => {
    assert.deepEqual(SERVER_SETTINGS.map((s) => s.key).sort(), [...SERVER_KEYS].sort());
    assert.deepEqual(CLIENT_SETTINGS.map((s) => s.key).sort(), [...CLIENT_KEYS].sort());
  });

  it('agrees with config.ts on type, default, enum and range', () => {
    for (const spec of ALL_SETTINGS) {
      const prop = properties[`codesaga.${spec.key}`];
      const where = `codesaga.${spec.key}`;
      if (spec.type === 'string[]') {
        assert.equal(prop.type, 'array', where);
        assert.equal(prop.items?.type, 'string', where);
      } else {
        assert.equal(prop.type, spec.type, where);
      }
      assert.deepEqual(prop.default, spec.default, where);
      assert.deepEqual(prop.enum, spec.enum, where);
      assert.equal(prop.minimum, spec.minimum, where);
      assert.equal(prop.maximum, spec.maximum, where);
      assert.ok(prop.description ?? prop.markdownDescription, `${where} has a description`);
    }
  });

  it('has the documented defaults', () => {
    const defaults = Object.fromEntries(Object.entries(properties).map(([k, p]) => [k, p.default]));
    assert.deepEqual(defaults, {
      'codesaga.model': 'auto',
      'codesaga.backend': 'llama',
      'codesaga.openai.baseUrl': '',
      'codesaga.openai.apiKey': '',
      'codesaga.openai.model': '',
      'codesaga.gpuLayers': -1,
      'codesaga.contextSize': 2048,
      'codesaga.maxTokens': 64,
      'codesaga.temperature': 0.2,
      'codesaga.language': 'auto',
      'codesaga.cacheDir': '',
      'codesaga.logLevel': 'info',
      'codesaga.fimFamily': 'auto',
      'codesaga.server.path': 'codesaga',
      'codesaga.server.pythonPath': '',
      'codesaga.server.extraArgs': [],
    });
  });

  it('restricts only existing settings in untrusted workspaces', () => {
    for (const key of pkg.capabilities.untrustedWorkspaces.restrictedConfigurations as string[]) {
      assert.ok(properties[key], key);
    }
  });
});

describe('package.json manifest', () => {
  it('names the extension and its entry point', () => {
    assert.equal(pkg.name, 'codesaga');
    assert.equal(pkg.publisher, 'codesaga');
    assert.equal(pkg.displayName, 'CodeSaga');
    assert.equal(pkg.main, './out/extension.js');
    assert.ok(fs.existsSync(path.join(root, 'out', 'extension.js')), 'compiled entry point exists');
  });

  it('contributes the four commands', () => {
    const commands = (pkg.contributes.commands as { command: string; title: string; category?: string }[]).map(
      (c) => [c.command, c.category ? `${c.category}: ${c.title}` : c.title],
    );
    assert.deepEqual(commands, [
      ['codesaga.restartServer', 'CodeSaga: Restart Server'],
      ['codesaga.openChat', 'CodeSaga: Chat'],
      ['codesaga.pickModel', 'CodeSaga: Pick Model'],
      ['codesaga.showLog', 'CodeSaga: Show Log'],
    ]);
  });

  it('activates on every language of the document selector', () => {
    const onLanguage = (pkg.activationEvents as string[])
      .filter((e) => e.startsWith('onLanguage:'))
      .map((e) => e.slice('onLanguage:'.length));
    assert.deepEqual(onLanguage.sort(), [...LANGUAGES].sort());
  });

  it('keeps @types/vscode no newer than engines.vscode', () => {
    const engine = String(pkg.engines.vscode).replace(/^[\^~>=]+/, '');
    const types = String(pkg.devDependencies['@types/vscode']).replace(/^[\^~>=]+/, '');
    const num = (v: string): number[] => v.split('.').map((x) => parseInt(x, 10));
    const [e, t] = [num(engine), num(types)];
    const cmp = t[0] - e[0] || t[1] - e[1] || t[2] - e[2];
    assert.ok(cmp <= 0, `@types/vscode ${types} is newer than engines.vscode ${engine}`);
  });

  it('ships vscode-languageclient as a runtime dependency', () => {
    assert.ok(pkg.dependencies['vscode-languageclient']);
  });
});
