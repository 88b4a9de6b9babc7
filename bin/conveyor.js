#!/usr/bin/env node
// Installed package: run the compiled CLI. In a checkout without dist/, run the sources
// (Node >= 22.18 strips TypeScript types natively).
import { existsSync } from 'node:fs';
const compiled = new URL('../dist/cli/main.js', import.meta.url);
await import(existsSync(compiled) ? compiled.href : new URL('../src/cli/main.ts', import.meta.url).href);
