import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { Message, english } from '../messages';
import {
  ResolveContext,
  expandVariables,
  findExecutable,
  formatCommandLine,
  resolveServerCommand,
  virtualEnvCandidates,
} from '../serverCommand';

const ctx: ResolveContext = {
  homeDir: '/home/u',
  workspaceFolder: '/work/proj',
  env: { PATH: '/usr/local/bin:/usr/bin', VENV: '/opt/venv' },
  platform: 'linux',
};

const settings = (s: Partial<{ path: string; pythonPath: string; extraArgs: string[] }> = {}) => ({
  path: 'codesaga',
  pythonPath: '',
  extraArgs: [],
  ...s,
});

describe('resolveServerCommand', () => {
  it('defaults to `codesaga serve`', () => {
    const r = resolveServerCommand(settings(), ctx);
    assert.equal(r.command, 'codesaga');
    assert.deepEqual(r.args, ['serve']);
    assert.equal(r.setting, 'codesaga.server.path');
    assert.deepEqual(r.problems, []);
  });

  it('uses server.path and appends extraArgs after serve', () => {
    const r = resolveServerCommand(
      settings({ path: '/opt/bin/codesaga', extraArgs: ['--log-file', '/tmp/cs.log'] }),
      ctx,
    );
    assert.equal(r.command, '/opt/bin/codesaga');
    assert.deepEqual(r.args, ['serve', '--log-file', '/tmp/cs.log']);
  });

  it('falls back to codesaga for a blank path', () => {
    assert.equal(resolveServerCommand(settings({ path: '  ' }), ctx).command, 'codesaga');
  });

  it('pythonPath wins: `<python> -m codesaga serve ...extraArgs`', () => {
    const r = resolveServerCommand(
      settings({ path: '/ignored', pythonPath: '/usr/bin/python3', extraArgs: ['--tcp', '127.0.0.1:2087'] }),
      ctx,
    );
    assert.equal(r.command, '/usr/bin/python3');
    assert.deepEqual(r.args, ['-m', 'codesaga', 'serve', '--tcp', '127.0.0.1:2087']);
    assert.equal(r.setting, 'codesaga.server.pythonPath');
  });

  it('expands ~ in path, pythonPath and extraArgs', () => {
    assert.equal(resolveServerCommand(settings({ path: '~/.local/bin/codesaga' }), ctx).command, '/home/u/.local/bin/codesaga');
    const r = resolveServerCommand(settings({ pythonPath: '~/venv/bin/python', extraArgs: ['--log-file', '~/cs.log'] }), ctx);
    assert.equal(r.command, '/home/u/venv/bin/python');
    assert.deepEqual(r.args.slice(-2), ['--log-file', '/home/u/cs.log']);
  });

  it('substitutes ${workspaceFolder}, ${userHome} and ${env:NAME}', () => {
    const r = resolveServerCommand(
      settings({ pythonPath: '${workspaceFolder}/.venv/bin/python', extraArgs: ['--log-file', '${userHome}/l', '${env:VENV}/x'] }),
      ctx,
    );
    assert.equal(r.command, '/work/proj/.venv/bin/python');
    assert.deepEqual(r.args, ['-m', 'codesaga', 'serve', '--log-file', '/home/u/l', '/opt/venv/x']);
    assert.deepEqual(r.problems, []);
  });

  it('reports ${workspaceFolder} when no folder is open', () => {
    const r = resolveServerCommand(settings({ path: '${workspaceFolder}/bin/codesaga' }), { ...ctx, workspaceFolder: undefined });
    assert.equal(r.command, '${workspaceFolder}/bin/codesaga');
    assert.equal(r.problems.length, 1);
    assert.match(english(r.problems[0]), /^\$\{workspaceFolder\} in "\$\{workspaceFolder\}\/bin\/codesaga" cannot be expanded: no folder is open\.$/);
  });

  it('anchors a relative path with a directory part at the workspace folder', () => {
    assert.equal(resolveServerCommand(settings({ pythonPath: '.venv/bin/python' }), ctx).command, '/work/proj/.venv/bin/python');
    assert.equal(resolveServerCommand(settings({ pythonPath: 'python3' }), ctx).command, 'python3');
  });

  it('handles Windows paths', () => {
    const win: ResolveContext = { homeDir: 'C:\\Users\\u', workspaceFolder: 'C:\\proj', platform: 'win32', env: {} };
    assert.equal(resolveServerCommand(settings({ pythonPath: '.venv\\Scripts\\python.exe' }), win).command, 'C:\\proj\\.venv\\Scripts\\python.exe');
    assert.equal(resolveServerCommand(settings({ path: '~\\bin\\codesaga.exe' }), win).command, 'C:\\Users\\u\\bin\\codesaga.exe');
  });
});

describe('expandVariables', () => {
  it('reports unknown variables and leaves them', () => {
    const problems: Message[] = [];
    assert.equal(expandVariables('${foo}/x', ctx, problems), '${foo}/x');
    assert.equal(problems.length, 1);
  });

  it('replaces a missing env variable with nothing', () => {
    assert.equal(expandVariables('${env:NOPE}x', ctx, []), 'x');
  });
});

describe('findExecutable', () => {
  const files = new Set(['/usr/bin/codesaga', '/opt/py/bin/python3', 'C:\\Py\\Scripts\\codesaga.EXE']);
  const isFile = (p: string): boolean => files.has(p);

  it('searches PATH for a bare name', () => {
    assert.equal(findExecutable('codesaga', ctx, isFile), '/usr/bin/codesaga');
    assert.equal(findExecutable('missing', ctx, isFile), undefined);
  });

  it('checks a path with a directory part directly', () => {
    assert.equal(findExecutable('/opt/py/bin/python3', ctx, isFile), '/opt/py/bin/python3');
    assert.equal(findExecutable('/opt/py/bin/python', ctx, isFile), undefined);
  });

  it('uses PATHEXT on Windows', () => {
    const win = { platform: 'win32' as const, env: { Path: 'C:\\Windows;"C:\\Py\\Scripts"', PATHEXT: '.COM;.EXE' } };
    assert.equal(findExecutable('codesaga', win, isFile), 'C:\\Py\\Scripts\\codesaga.EXE');
  });

  it('finds nothing for an empty command or PATH', () => {
    assert.equal(findExecutable('', ctx, isFile), undefined);
    assert.equal(findExecutable('codesaga', { platform: 'linux', env: {} }, isFile), undefined);
  });
});

describe('virtualEnvCandidates', () => {
  it('lists .venv and venv in the workspace folder', () => {
    assert.deepEqual(virtualEnvCandidates('/w', 'linux'), ['/w/.venv/bin/codesaga', '/w/venv/bin/codesaga']);
    assert.deepEqual(virtualEnvCandidates('C:\\w', 'win32'), ['C:\\w\\.venv\\Scripts\\codesaga.exe', 'C:\\w\\venv\\Scripts\\codesaga.exe']);
    assert.deepEqual(virtualEnvCandidates(undefined, 'linux'), []);
  });
});

describe('formatCommandLine', () => {
  it('quotes only what needs quoting', () => {
    assert.equal(formatCommandLine('/usr/bin/codesaga', ['serve', '--log-file', '/tmp/a b.log']), '/usr/bin/codesaga serve --log-file "/tmp/a b.log"');
  });
});
