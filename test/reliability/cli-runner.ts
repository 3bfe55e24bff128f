/**
 * Runs `flightrec analyze <file>`: in this process through the CLI's `main`
 * (cheap, for many runs), or as the real command in a child process.
 */
import { spawn } from 'node:child_process'
import { main } from '../../packages/cli/src/main.ts'
import { root } from './helpers.ts'
import type { Outcome } from './snapshot-mutations.ts'

/** The real command's entry point. */
const cliBin = `${root}packages/cli/bin/flightrec.js`

/** `main(['analyze', path])` with stdout and stderr captured; `code` is its exit code. */
export async function analyzeInProcess(path: string): Promise<Outcome> {
  let stdout = ''
  let stderr = ''
  const code = await main(['analyze', path], {
    stdout: {
      write: (text: string) => {
        stdout += text
      },
    },
    stderr: {
      write: (text: string) => {
        stderr += text
      },
    },
    isTTY: false,
    env: {},
  })
  return { code, stdout, stderr }
}

/**
 * `node packages/cli/bin/flightrec.js analyze <path>` in a child process.
 * `nodeArgs` go before the script (e.g. `--import` a probe). A child still
 * running after `hangMs` is killed and reported with code null: the guard
 * only keeps a hang from stalling the run, it is not a speed bound.
 */
export function analyzeInChild(
  path: string,
  options: { nodeArgs?: string[]; hangMs?: number; extraFd?: boolean } = {},
): Promise<Outcome & { fd3: string }> {
  const child = spawn(process.execPath, [...(options.nodeArgs ?? []), cliBin, 'analyze', path], {
    stdio: ['ignore', 'pipe', 'pipe', options.extraFd ? 'pipe' : 'ignore'],
  })
  let stdout = ''
  let stderr = ''
  let fd3 = ''
  child.stdout?.setEncoding('utf8').on('data', (text: string) => {
    stdout += text
  })
  child.stderr?.setEncoding('utf8').on('data', (text: string) => {
    stderr += text
  })
  const extra = child.stdio[3]
  if (extra && 'setEncoding' in extra) {
    extra.setEncoding('utf8').on('data', (text: string) => {
      fd3 += text
    })
  }
  const guard = setTimeout(() => child.kill('SIGKILL'), options.hangMs ?? 60_000)
  return new Promise((resolve, reject) => {
    child.on('error', reject)
    child.on('close', (code) => {
      clearTimeout(guard)
      resolve({ code, stdout, stderr, fd3 })
    })
  })
}
