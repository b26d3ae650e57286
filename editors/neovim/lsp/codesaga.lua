-- CodeSaga language server configuration for Neovim 0.11+.
--
-- Put the folder that holds this file's parent (editors/neovim) on 'runtimepath', then:
--
--   vim.lsp.enable('codesaga')
--
-- Override any field with vim.lsp.config('codesaga', { ... }); for example settings:
--
--   vim.lsp.config('codesaga', { settings = { codesaga = { maxTokens = 48, language = 'ko' } } })
--
-- Settings keys (camelCase, section "codesaga"): model, backend ('llama' | 'openai'),
-- openai = { baseUrl, apiKey, model }, gpuLayers, contextSize, maxTokens, temperature,
-- language ('auto' | 'ko' | 'en'), cacheDir, logLevel, fimFamily, threads, styleGuide,
-- repoContextTokens, rankCandidates, usageRetentionDays.
-- Keys set here win over CODESAGA_* environment variables and ~/.config/codesaga/config.toml,
-- so the defaults below are left empty: add only what you want to change.
--
-- require('codesaga').setup() adds `handlers` (window/showDocument: the Markdown the server
-- writes for chat and Explain opens in the chat split, not in the current window); this file
-- stays plain data.

---@type vim.lsp.Config
return {
  cmd = { 'codesaga', 'serve' },
  filetypes = {
    'python',
    'javascript',
    'javascriptreact',
    'typescript',
    'typescriptreact',
    'rust',
    'go',
    'java',
    'c',
    'cpp',
  },
  root_markers = {
    '.git',
    'pyproject.toml',
    'setup.py',
    'package.json',
    'tsconfig.json',
    'Cargo.toml',
    'go.mod',
    'pom.xml',
    'build.gradle',
    'build.gradle.kts',
    'compile_commands.json',
    'CMakeLists.txt',
    'Makefile',
  },
  -- Sent as initializationOptions: read once, when the server starts. (vim.empty_dict() so
  -- that an empty table travels as the JSON object {}, not as the array [].)
  init_options = vim.empty_dict(),
  -- Answered to workspace/configuration (section "codesaga"); re-read on didChangeConfiguration.
  settings = {
    codesaga = vim.empty_dict(),
  },
}
