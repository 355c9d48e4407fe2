#!/usr/bin/env node
// Launcher of the `spool` CLI: registers tsx's ESM loader and runs cli/main.ts (no build step).
import { register } from 'tsx/esm/api';

register();
await import(new URL('../cli/main.ts', import.meta.url).href);
