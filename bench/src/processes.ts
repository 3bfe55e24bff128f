import { type ChildProcess, fork } from 'node:child_process'
import { once } from 'node:events'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'

/** `T` without its `id`, member by member of a union. */
type WithoutId<T> = T extends unknown ? Omit<T, 'id'> : never

/** A forked bench process (server, load or upstream) spoken to over IPC. */
export class BenchProcess<Request extends { id: number }, Reply extends { type: string }> {
  readonly child: ChildProcess
  #nextId = 1
  #pending = new Map<number, { resolve: (m: Reply) => void; reject: (e: Error) => void }>()
  #exited: Promise<void>

  constructor(child: ChildProcess) {
    this.child = child
    child.on('message', (raw) => {
      const message = raw as Reply & { id?: number; message?: string }
      if (message.id === undefined) return
      const waiter = this.#pending.get(message.id)
      if (!waiter) return
      this.#pending.delete(message.id)
      if (message.type === 'error') waiter.reject(new Error(message.message))
      else waiter.resolve(message)
    })
    this.#exited = once(child, 'exit').then(() => {
      for (const waiter of this.#pending.values()) {
        waiter.reject(new Error(`process ${child.pid} exited (code ${child.exitCode})`))
      }
      this.#pending.clear()
    })
  }

  /** Sends a request and resolves with the reply of the same id. */
  ask<R extends Reply>(request: WithoutId<Request>, timeoutMs: number): Promise<R> {
    const id = this.#nextId++
    return new Promise<R>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#pending.delete(id)
        reject(new Error(`no reply to ${JSON.stringify(request)} within ${timeoutMs} ms`))
      }, timeoutMs)
      this.#pending.set(id, {
        resolve: (m) => {
          clearTimeout(timer)
          resolve(m as R)
        },
        reject: (e) => {
          clearTimeout(timer)
          reject(e)
        },
      })
      this.child.send({ ...request, id }, (err) => {
        if (!err) return
        this.#pending.delete(id)
        clearTimeout(timer)
        reject(err)
      })
    })
  }

  /** Disconnects (the process exits on its own) and waits; kills it after `graceMs`. */
  async close(graceMs = 5000): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return
    if (this.child.connected) this.child.disconnect()
    const timer = setTimeout(() => this.child.kill('SIGKILL'), graceMs)
    await this.#exited
    clearTimeout(timer)
  }
}

/**
 * Forks `entry` (a path relative to this file) with `args` (and Node.js
 * flags `execArgv`), and waits for its first message without an id (`ready`
 * or `failed`).
 */
export async function forkProcess<Request extends { id: number }, Reply extends { type: string }>(
  entry: string,
  args: string[],
  readyTimeoutMs: number,
  execArgv: string[] = [],
): Promise<{ process: BenchProcess<Request, Reply>; ready: Reply }> {
  // stdout is dropped (apps may log per request; a second profiler may print
  // its events); stderr shows warnings and crashes.
  const profiled = execArgv.includes('--cpu-prof')
  const child = fork(fileURLToPath(new URL(entry, import.meta.url)), args, {
    stdio: ['ignore', 'ignore', profiled ? 'pipe' : 'inherit', 'ipc'],
    execArgv,
  })
  if (profiled && child.stderr) {
    // --cpu-prof's own session complains about every console profile flightrec's
    // sampler starts or ends, and prints the inspector message it could not match.
    createInterface({ input: child.stderr }).on('line', (line) => {
      if (
        !line.startsWith('Cannot retrieve id from CPU profile response') &&
        !line.startsWith('{"method":"Profiler.consoleProfile')
      ) {
        process.stderr.write(`${line}\n`)
      }
    })
  }
  const bench = new BenchProcess<Request, Reply>(child)
  const ready = await new Promise<Reply>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL')
      reject(new Error(`${entry} did not start within ${readyTimeoutMs} ms`))
    }, readyTimeoutMs)
    const onMessage = (raw: unknown) => {
      const message = raw as Reply & { id?: number; message?: string }
      if (message.id !== undefined) return
      child.off('message', onMessage)
      clearTimeout(timer)
      if (message.type === 'failed') reject(new Error(`${entry} failed: ${message.message}`))
      else resolve(message)
    }
    child.on('message', onMessage)
    child.once('exit', (code) => {
      clearTimeout(timer)
      reject(new Error(`${entry} exited with code ${code} before it was ready`))
    })
  })
  return { process: bench, ready }
}
