import { spawnSync } from 'node:child_process'
import { setTimeout as sleep } from 'node:timers/promises'
import { beforeAll, describe, expect, it } from 'vitest'
import { type Analysis, ExitCode, main } from '../src/index.ts'
import { close, get, record, serve } from './record.ts'

const bin = new URL('../bin/flightrec.js', import.meta.url).pathname

async function run(
  args: string[],
  options: { isTTY?: boolean; env?: Record<string, string> } = {},
): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = ''
  let stderr = ''
  const code = await main(args, {
    stdout: { write: (t: string) => (stdout += t) },
    stderr: { write: (t: string) => (stderr += t) },
    isTTY: options.isTTY ?? false,
    env: options.env ?? {},
  })
  return { code, stdout, stderr }
}

/** A real snapshot with one slow request (a handler that waits 150 ms) among fast ones. */
let snapshot: string

beforeAll(async () => {
  const { url, server } = await serve((req, res) => {
    if (req.url === '/slow') setTimeout(() => res.end('slow'), 150)
    else res.end('fast')
  })
  snapshot = await record(
    'default',
    async () => {
      for (let i = 0; i < 10; i++) await get(`${url}/fast`)
      await get(`${url}/slow`)
      await sleep(20)
    },
    { reason: 'slow-request', request: { method: 'GET', path: '/slow', durationMs: 150 } },
  )
  await close(server)
})

describe('flightrec --help and usage', () => {
  it('prints the commands with --help, exit 0', async () => {
    const { code, stdout } = await run(['--help'])
    expect(code).toBe(ExitCode.Ok)
    expect(stdout).toMatch(/^Usage: flightrec <command>/)
    expect(stdout).toContain('analyze <snapshot.json>')
  })

  it('prints the help and exits 2 with no command', async () => {
    const { code, stdout } = await run([])
    expect(code).toBe(ExitCode.Usage)
    expect(stdout).toContain('Usage: flightrec')
  })

  it('prints analyze options with analyze --help', async () => {
    const { code, stdout } = await run(['analyze', '--help'])
    expect(code).toBe(ExitCode.Ok)
    expect(stdout).toMatch(/^Usage: flightrec analyze/)
    for (const option of ['--json', '--slow', '--top', '--no-color'])
      expect(stdout).toContain(option)
  })

  it('help text fits in 80 columns', async () => {
    for (const args of [['--help'], ['analyze', '--help']]) {
      const { stdout } = await run(args)
      for (const line of stdout.split('\n')) expect(line.length).toBeLessThanOrEqual(80)
    }
  })

  const usageErrors: Array<[string[], RegExp]> = [
    [['frobnicate'], /unknown command 'frobnicate'/],
    [['analyze'], /missing <snapshot\.json>/],
    [['analyze', 'a.json', 'b.json'], /expects one snapshot file/],
    [['analyze', '--slow', 'abc', 'a.json'], /--slow must be a positive number/],
    [['analyze', '--top', '1.5', 'a.json'], /--top must be a positive integer/],
    [['analyze', '--colour', 'a.json'], /Unknown option/],
  ]
  for (const [args, message] of usageErrors) {
    it(`flightrec ${args.join(' ')}: one line on stderr, exit 2`, async () => {
      const { code, stderr } = await run(args)
      expect(code).toBe(ExitCode.Usage)
      expect(stderr).toMatch(message)
      expect(stderr.trimEnd().split('\n')).toHaveLength(1)
    })
  }

  it('prints the package version', async () => {
    const { code, stdout } = await run(['--version'])
    expect(code).toBe(ExitCode.Ok)
    expect(stdout.trim()).toMatch(/^\d+\.\d+\.\d+/)
  })
})

describe('flightrec analyze output', () => {
  it('--json has the trigger, ranked findings and the slow request', async () => {
    const { code, stdout } = await run(['analyze', '--json', snapshot])
    expect(code).toBe(ExitCode.Ok)
    const a = JSON.parse(stdout) as Analysis
    expect(a.trigger).toMatchObject({
      reason: 'slow-request',
      method: 'GET',
      route: '/slow',
      durationMs: 150,
    })
    expect(a.requests.total).toBeGreaterThanOrEqual(11)
    expect(a.requests.slow).toBe(1)
    expect(a.slowest[0]).toMatchObject({ method: 'GET', path: '/slow' })
    expect(a.slowest[0].onCpuMs + a.slowest[0].waitingMs).toBeCloseTo(a.slowest[0].durationMs, 0)
    for (const f of a.findings) {
      expect(Object.keys(f).sort()).toEqual(
        ['culprit', 'evidence', 'kind', 'ms', 'requests', 'summary', 'waitedOn'].sort(),
      )
    }
    const ms = a.findings.map((f) => f.ms)
    expect(ms).toEqual([...ms].sort((x, y) => y - x))
  })

  it('the text report names the trigger and fits in 80 columns', async () => {
    const { code, stdout } = await run(['analyze', snapshot])
    expect(code).toBe(ExitCode.Ok)
    expect(stdout).toContain('slow-request: GET /slow took 150 ms')
    expect(stdout).toContain('Slowest requests')
    expect(stdout).toContain('Perfetto UI')
    for (const line of stdout.split('\n')) expect(line.length).toBeLessThanOrEqual(80)
  })

  it('colours only on a terminal, and never with NO_COLOR or --no-color', async () => {
    const esc = '\x1b['
    expect((await run(['analyze', snapshot])).stdout).not.toContain(esc)
    expect((await run(['analyze', snapshot], { isTTY: true })).stdout).toContain(esc)
    expect(
      (await run(['analyze', snapshot], { isTTY: true, env: { NO_COLOR: '1' } })).stdout,
    ).not.toContain(esc)
    expect((await run(['analyze', '--no-color', snapshot], { isTTY: true })).stdout).not.toContain(
      esc,
    )
    expect((await run(['analyze', '--json', snapshot], { isTTY: true })).stdout).not.toContain(esc)
  })

  it('--slow changes which requests are explained', async () => {
    const a = JSON.parse(
      (await run(['analyze', '--json', '--slow', '1000', snapshot])).stdout,
    ) as Analysis
    expect(a.slowThresholdMs).toBe(1000)
    expect(a.requests.slow).toBe(0)
    expect(a.slowest).toEqual([])
  })

  it('runs as the flightrec command (bin), without colour into a pipe', () => {
    const result = spawnSync(process.execPath, [bin, 'analyze', snapshot], { encoding: 'utf8' })
    expect(result.status).toBe(0)
    expect(result.stdout).toContain('flightrec analyze')
    expect(result.stdout).not.toContain('\x1b[')
    expect(result.stderr).toBe('')
  })
})
