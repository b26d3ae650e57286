/**
 * User-visible messages made where the `vscode` module is not imported
 * (config.ts, serverCommand.ts, which are unit tested under plain Node).
 * A message keeps its English template and arguments apart, so that the
 * extension can show it translated (`vscode.l10n.t(text, ...args)`, keyed by
 * the English text in l10n/bundle.l10n.*.json) and write it to the log in
 * English.
 */

export type MessageArg = string | number | boolean;

/** A message not yet localized. */
export interface Message {
  /** English template with `{0}`, `{1}`… placeholders; the key of the l10n bundles. */
  readonly text: string;
  readonly args: readonly MessageArg[];
}

/**
 * Marks `text` for translation.  `text` must be a string literal: the l10n
 * test finds every `msg('…')` and `l10n.t('…')` in src/ and checks that the
 * Korean bundle has it.
 */
export function msg(text: string, ...args: MessageArg[]): Message {
  return { text, args };
}

/**
 * `template` with each `{name}` replaced by `args[name]` (`{0}` is
 * `args[0]`); a placeholder without a value stays as it is.  The same rule
 * as `vscode.l10n.t`.
 */
export function formatMessage(template: string, args: readonly MessageArg[] | Readonly<Record<string, MessageArg>>): string {
  const valueOf = (name: string): MessageArg | undefined => {
    if (Array.isArray(args)) {
      return /^\d+$/.test(name) ? (args as readonly MessageArg[])[Number(name)] : undefined;
    }
    return Object.prototype.hasOwnProperty.call(args, name) ? (args as Readonly<Record<string, MessageArg>>)[name] : undefined;
  };
  return template.replace(/\{([^}]+)\}/g, (whole: string, name: string) => {
    const value = valueOf(name);
    return value === undefined ? whole : String(value);
  });
}

/** The message in English, as written to the log. */
export function english(message: Message): string {
  return formatMessage(message.text, message.args);
}
