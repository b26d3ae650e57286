/**
 * Pure resolution of the command line that starts the CodeSaga server.
 * Everything that depends on the machine (home directory, workspace folder,
 * environment, file system) comes in as a parameter, so this is unit tested
 * without VS Code.
 */
import * as nodePath from 'node:path';
import { ClientOnlySettings, expandHome } from './config';
import { Message, msg } from './messages';

export const DEFAULT_SERVER_PATH = 'codesaga';

export interface ResolveContext {
  /** Home directory for `~` and `${userHome}`. */
  homeDir: string;
  /** File system path of the first workspace folder, if one is open. */
  workspaceFolder?: string;
  /** Environment for `${env:NAME}` and the PATH search. */
  env?: Readonly<Record<string, string | undefined>>;
  /** Defaults to the running platform. */
  platform?: NodeJS.Platform;
}

export interface ServerCommand {
  command: string;
  args: string[];
  /** Which setting chose the executable; named in error messages. */
  setting: 'codesaga.server.pythonPath' | 'codesaga.server.path';
  /** Problems for the user (variables that could not be expanded). */
  problems: Message[];
}

function pathFor(platform: NodeJS.Platform): typeof nodePath.posix {
  return platform === 'win32' ? nodePath.win32 : nodePath.posix;
}

/**
 * Expands `~`, `${userHome}`, `${workspaceFolder}` and `${env:NAME}` in one
 * setting value.  A `${workspaceFolder}` with no folder open is left as it is
 * and reported.
 */
export function expandVariables(value: string, ctx: ResolveContext, problems: Message[]): string {
  let out = expandHome(value, ctx.homeDir);
  out = out.replace(/\$\{([^}]+)\}/g, (whole: string, name: string) => {
    if (name === 'userHome') {
      return ctx.homeDir;
    }
    if (name === 'workspaceFolder') {
      if (ctx.workspaceFolder === undefined) {
        problems.push(msg('{0} in "{1}" cannot be expanded: no folder is open.', whole, value));
        return whole;
      }
      return ctx.workspaceFolder;
    }
    if (name.startsWith('env:')) {
      return ctx.env?.[name.slice(4)] ?? '';
    }
    problems.push(msg('Unknown variable {0} in "{1}" left as it is.', whole, value));
    return whole;
  });
  return out;
}

function hasDirectoryPart(command: string, platform: NodeJS.Platform): boolean {
  return platform === 'win32' ? /[\\/]/.test(command) : command.includes('/');
}

/**
 * Makes a path with a directory part absolute against the workspace folder
 * (`.venv/bin/python` -> `<folder>/.venv/bin/python`).  Bare names stay bare,
 * to be looked up on PATH.
 */
function anchor(command: string, ctx: ResolveContext): string {
  const platform = ctx.platform ?? process.platform;
  const p = pathFor(platform);
  if (!hasDirectoryPart(command, platform) || p.isAbsolute(command) || ctx.workspaceFolder === undefined) {
    return command;
  }
  return p.resolve(ctx.workspaceFolder, command);
}

/**
 * `pythonPath` set: `<pythonPath> -m codesaga serve ...extraArgs`;
 * otherwise `<path or "codesaga"> serve ...extraArgs`.
 */
export function resolveServerCommand(settings: ClientOnlySettings, ctx: ResolveContext): ServerCommand {
  const problems: Message[] = [];
  const extraArgs = settings.extraArgs.map((arg) => expandVariables(arg, ctx, problems));
  const python = settings.pythonPath.trim();
  if (python !== '') {
    return {
      command: anchor(expandVariables(python, ctx, problems), ctx),
      args: ['-m', 'codesaga', 'serve', ...extraArgs],
      setting: 'codesaga.server.pythonPath',
      problems,
    };
  }
  const path = settings.path.trim() || DEFAULT_SERVER_PATH;
  return {
    command: anchor(expandVariables(path, ctx, problems), ctx),
    args: ['serve', ...extraArgs],
    setting: 'codesaga.server.path',
    problems,
  };
}

/**
 * Finds an executable the way a shell would: a command with a directory part
 * is checked as it is; a bare name is looked up in each PATH directory (with
 * the PATHEXT extensions on Windows).  Returns the path found, or undefined.
 */
export function findExecutable(
  command: string,
  ctx: Pick<ResolveContext, 'env' | 'platform'>,
  isExecutableFile: (candidate: string) => boolean,
): string | undefined {
  const platform = ctx.platform ?? process.platform;
  const p = pathFor(platform);
  const env = ctx.env ?? {};
  const exts =
    platform === 'win32'
      ? ['', ...(env.PATHEXT ?? env.Pathext ?? '.COM;.EXE;.BAT;.CMD').split(';').filter((e) => e !== '')]
      : [''];
  const tryWithExts = (base: string): string | undefined => {
    for (const ext of exts) {
      const candidate = base + ext;
      if (isExecutableFile(candidate)) {
        return candidate;
      }
    }
    return undefined;
  };
  if (command === '') {
    return undefined;
  }
  if (hasDirectoryPart(command, platform)) {
    return tryWithExts(command);
  }
  const pathVar = env.PATH ?? env.Path ?? env.path ?? '';
  for (const dir of pathVar.split(p.delimiter)) {
    if (dir === '') {
      continue;
    }
    const found = tryWithExts(p.join(dir.replace(/^"(.*)"$/, '$1'), command));
    if (found) {
      return found;
    }
  }
  return undefined;
}

/**
 * Where a project-local install of the server usually is, tried when the
 * default `codesaga` is not on PATH: `<folder>/.venv/bin/codesaga`,
 * `<folder>/venv/bin/codesaga` (`Scripts\codesaga.exe` on Windows).
 */
export function virtualEnvCandidates(workspaceFolder: string | undefined, platform: NodeJS.Platform = process.platform): string[] {
  if (workspaceFolder === undefined) {
    return [];
  }
  const p = pathFor(platform);
  const rel = platform === 'win32' ? ['Scripts', 'codesaga.exe'] : ['bin', 'codesaga'];
  return ['.venv', 'venv'].map((dir) => p.join(workspaceFolder, dir, ...rel));
}

/** Quotes a command line for display in the log. */
export function formatCommandLine(command: string, args: readonly string[]): string {
  return [command, ...args].map((a) => (/^[\w@%+=:,./\\-]+$/.test(a) ? a : JSON.stringify(a))).join(' ');
}
