/**
 * A headless Chromium for the browser tests, with no apt step: the binary that ships inside
 * the npm package @sparticuz/chromium (unpacked to the temp folder on first use), or
 * Debian's /usr/bin/chromium when the package cannot give one.
 */
import { existsSync } from 'node:fs';
import sparticuz from '@sparticuz/chromium';
import { chromium, type Browser } from 'playwright-core';

/** Flags for a closed network: without the background-networking ones Chromium keeps dialing out. */
const ARGS = ['--headless', '--no-sandbox', '--no-zygote', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];

async function executablePath(): Promise<string> {
  try {
    return await sparticuz.executablePath();
  } catch (err) {
    if (existsSync('/usr/bin/chromium')) return '/usr/bin/chromium';
    throw new Error(`no Chromium: @sparticuz/chromium failed (${(err as Error).message}) and /usr/bin/chromium is missing`, { cause: err });
  }
}

export async function launchBrowser(): Promise<Browser> {
  return chromium.launch({ executablePath: await executablePath(), args: ARGS });
}
