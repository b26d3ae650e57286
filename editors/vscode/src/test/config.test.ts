import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { Message, english } from '../messages';
import {
  CLIENT_SETTINGS,
  RESTART_KEYS,
  SERVER_SETTINGS,
  checkSetting,
  expandHome,
  flattenSettings,
  isModelPath,
  redactServerOptions,
  toClientSettings,
  toServerOptions,
} from '../config';

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

describe('toServerOptions', () => {
  it('fills every server key with its default', () => {
    const { value, problems } = toServerOptions({});
    assert.deepEqual(value, DEFAULTS);
    assert.deepEqual(problems, []);
  });

  it('treats undefined and null as unset', () => {
    const { value, problems } = toServerOptions({ model: undefined, maxTokens: null });
    assert.deepEqual(value, DEFAULTS);
    assert.deepEqual(problems, []);
  });

  it('nests the openai.* keys from dotted keys', () => {
    const { value, problems } = toServerOptions({
      backend: 'openai',
      'openai.baseUrl': 'http://localhost:8080/v1',
      'openai.apiKey': 'sk-test',
      'openai.model': 'qwen',
    });
    assert.deepEqual(problems, []);
    assert.equal(value.backend, 'openai');
    assert.deepEqual(value.openai, { baseUrl: 'http://localhost:8080/v1', apiKey: 'sk-test', model: 'qwen' });
    assert.equal((value as unknown as Record<string, unknown>)['openai.baseUrl'], undefined);
  });

  it('accepts an already nested object and a codesaga. prefix', () => {
    const { value, problems } = toServerOptions({
      'codesaga.model': 'qwen2.5-coder-1.5b',
      openai: { baseUrl: 'http://h/v1' },
    });
    assert.deepEqual(problems, []);
    assert.equal(value.model, 'qwen2.5-coder-1.5b');
    assert.deepEqual(value.openai, { baseUrl: 'http://h/v1', apiKey: '', model: '' });
  });

  it('always sends every openai key, so a cleared value replaces the old one', () => {
    const { value } = toServerOptions({ 'openai.baseUrl': '  ', 'openai.apiKey': '', 'openai.model': 'm' });
    assert.deepEqual(value.openai, { baseUrl: 'http://127.0.0.1:8080/v1', apiKey: '', model: 'm' });
  });

  it('drops the client-only server.* keys without complaint', () => {
    const { value, problems } = toServerOptions({
      'server.path': '/opt/codesaga',
      server: { pythonPath: '/usr/bin/python3', extraArgs: ['--log-file', 'x'] },
      model: 'gemma-3-270m',
    });
    assert.deepEqual(problems, []);
    assert.equal('server' in value, false);
    assert.equal(Object.keys(value).some((k) => k.startsWith('server')), false);
    assert.equal(value.model, 'gemma-3-270m');
  });

  it('reports an invalid enum value and uses the default', () => {
    const { value, problems } = toServerOptions({ backend: 'ollama', fimFamily: 'qwen', logLevel: 'verbose' });
    assert.equal(value.backend, 'llama');
    assert.equal(value.fimFamily, 'qwen');
    assert.equal(value.logLevel, 'info');
    assert.equal(problems.length, 2);
    assert.match(english(problems[0]), /codesaga\.backend: "ollama" is not one of llama, openai; using "llama"/);
    assert.match(english(problems[1]), /codesaga\.logLevel/);
  });

  it('accepts enum values in another case', () => {
    const { value, problems } = toServerOptions({ language: 'KO', logLevel: 'Debug' });
    assert.deepEqual(problems, []);
    assert.equal(value.language, 'ko');
    assert.equal(value.logLevel, 'debug');
  });

  it('clamps integers to their range and reports it', () => {
    const { value, problems } = toServerOptions({ gpuLayers: -5, contextSize: 10, maxTokens: 100000, threads: -1 });
    assert.equal(value.gpuLayers, -1);
    assert.equal(value.contextSize, 256);
    assert.equal(value.maxTokens, 2048);
    assert.equal(value.threads, 0);
    assert.equal(problems.length, 4);
    assert.match(english(problems[0]), /codesaga\.gpuLayers: -5 is below the minimum -1; using -1\./);
  });

  it('rounds a non-integer integer setting and rejects a non-number', () => {
    const { value, problems } = toServerOptions({ gpuLayers: 12.6, maxTokens: '128', temperature: Number.NaN });
    assert.equal(value.gpuLayers, 13);
    assert.equal(value.maxTokens, 64);
    assert.equal(value.temperature, 0.2);
    assert.equal(problems.length, 3);
  });

  it('keeps valid numbers as they are', () => {
    const { value, problems } = toServerOptions({ gpuLayers: 0, contextSize: 8192, maxTokens: 256, temperature: 0, threads: 4 });
    assert.deepEqual(problems, []);
    assert.deepEqual(
      [value.gpuLayers, value.contextSize, value.maxTokens, value.temperature, value.threads],
      [0, 8192, 256, 0, 4],
    );
  });

  it('rejects a non-string for a string setting', () => {
    const { value, problems } = toServerOptions({ model: 42 });
    assert.equal(value.model, 'auto');
    assert.match(english(problems[0]), /codesaga\.model: expected a string/);
  });

  it('uses the default model for an empty or blank value', () => {
    assert.equal(toServerOptions({ model: '  ' }).value.model, 'auto');
  });

  it('reports unknown keys', () => {
    const { problems } = toServerOptions({ modle: 'x' });
    assert.deepEqual(problems.map(english), ['codesaga.modle is not a CodeSaga setting; ignored.']);
    // the English template is the key of the l10n bundles; the setting is an argument
    assert.deepEqual(problems[0], { text: '{0} is not a CodeSaga setting; ignored.', args: ['codesaga.modle'] });
  });

  it('expands ~ in the model path and cacheDir', () => {
    const { value } = toServerOptions({ model: '~/models/a.gguf', cacheDir: '~' }, { homeDir: '/home/u' });
    assert.equal(value.model, '/home/u/models/a.gguf');
    assert.equal(value.cacheDir, '/home/u');
  });

  it('is JSON round-trippable (sent over the wire)', () => {
    const { value } = toServerOptions({ 'openai.baseUrl': 'u' });
    assert.deepEqual(JSON.parse(JSON.stringify(value)), value);
  });

  it('never sends a key the server does not know', () => {
    const { value } = toServerOptions({ 'server.path': 'x', foo: 1 });
    assert.deepEqual(Object.keys(value).sort(), Object.keys(DEFAULTS).sort());
  });
});

describe('toClientSettings', () => {
  it('has the documented defaults', () => {
    assert.deepEqual(toClientSettings({}).value, { path: 'codesaga', pythonPath: '', extraArgs: [] });
  });

  it('reads nested and dotted forms', () => {
    assert.deepEqual(
      toClientSettings({ server: { path: '/x/codesaga' }, 'server.extraArgs': ['--log-file', 'l'] }).value,
      { path: '/x/codesaga', pythonPath: '', extraArgs: ['--log-file', 'l'] },
    );
  });

  it('drops non-string extra arguments with a problem', () => {
    const r = toClientSettings({ 'server.extraArgs': ['--a', 3, '--b'] });
    assert.deepEqual(r.value.extraArgs, ['--a', '--b']);
    assert.equal(r.problems.length, 1);
  });

  it('falls back to "codesaga" for an empty path', () => {
    assert.equal(toClientSettings({ 'server.path': '' }).value.path, 'codesaga');
  });
});

describe('helpers', () => {
  it('flattenSettings skips functions (WorkspaceConfiguration methods)', () => {
    const flat = flattenSettings({ get: () => 1, model: 'm', openai: { model: 'x' } });
    assert.deepEqual(flat, { model: 'm', 'openai.model': 'x' });
  });

  it('flattenSettings keeps array settings whole', () => {
    assert.deepEqual(flattenSettings({ server: { extraArgs: ['a'] } }), { 'server.extraArgs': ['a'] });
  });

  it('expandHome', () => {
    assert.equal(expandHome('~/a', '/h'), '/h/a');
    assert.equal(expandHome('~', '/h'), '/h');
    assert.equal(expandHome('~\\a', 'C:\\Users\\u'), 'C:\\Users\\u\\a');
    assert.equal(expandHome('a/~/b', '/h'), 'a/~/b');
    assert.equal(expandHome('~user/a', '/h'), '~user/a');
    assert.equal(expandHome('~/a', undefined), '~/a');
  });

  it('RESTART_KEYS are settings', () => {
    const keys = new Set([...SERVER_SETTINGS, ...CLIENT_SETTINGS].map((s) => s.key));
    for (const key of RESTART_KEYS) {
      assert.ok(keys.has(key), key);
    }
  });

  it('redactServerOptions hides the API key without touching the original', () => {
    const { value } = toServerOptions({ 'openai.apiKey': 'secret', 'openai.model': 'm' });
    const red = redactServerOptions(value);
    assert.equal(red.openai.apiKey, '***');
    assert.equal(red.openai.model, 'm');
    assert.equal(value.openai.apiKey, 'secret');
    assert.equal(redactServerOptions(toServerOptions({}).value).openai.apiKey, '');
  });

  it('isModelPath', () => {
    assert.equal(isModelPath('auto'), false);
    assert.equal(isModelPath('qwen2.5-coder-7b'), false);
    assert.equal(isModelPath('/m/x.gguf'), true);
    assert.equal(isModelPath('x.GGUF'), true);
    assert.equal(isModelPath('C:\\m\\x'), true);
  });

  it('every spec default passes its own check', () => {
    for (const spec of [...SERVER_SETTINGS, ...CLIENT_SETTINGS]) {
      const problems: Message[] = [];
      assert.deepEqual(checkSetting(spec, spec.default, problems), spec.default, spec.key);
      assert.deepEqual(problems, [], spec.key);
    }
  });
});
