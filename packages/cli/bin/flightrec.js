#!/usr/bin/env node
// The `flightrec` command. In the workspace it runs the TypeScript sources
// (Node.js strips the types); an installed package has only the built dist/.
import { existsSync } from 'node:fs'

const source = new URL('../src/main.ts', import.meta.url)
const entry = existsSync(source) ? source : new URL('../dist/main.js', import.meta.url)
const { main } = await import(entry.href)
process.exitCode = await main(process.argv.slice(2))
